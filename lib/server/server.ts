/**
 * The HTTP service around a model, on fastify: POST /embed, /classify, /fill-mask; GET /health (liveness),
 * /ready (readiness: false until the model is loaded and while draining) and /metrics (JSON, metrics.ts).
 *
 * Every route has a JSON schema. Errors answer `{ error: { code, message } }` with a stable code: 400 for bad
 * input (schema or the model's own checks), 413 over the body limit, 503 when the batching queue is full (with
 * Retry-After), the model is not loaded yet, or the server is draining. A client that disconnects aborts its
 * calls that still wait for a batch. fastify is loaded on the first createServer(), not with the library.
 */
import { performance } from 'node:perf_hooks';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCode, FffError } from '../errors';
import type { Model } from '../model';
import { MetricsRecorder } from './metrics';

export interface ServerOptions {
  /** Largest request body in bytes (default 1 MiB); beyond it: 413. */
  bodyLimit?: number;
  /** Most texts in one /embed or /classify request (default 64). */
  maxTexts?: number;
  /** Longest text in characters (default 20000); the model's own token limit applies as well. */
  maxTextLength?: number;
  /** fastify's logger option (default false). */
  logger?: boolean | object;
}

/** Codes of the HTTP layer, beside the library's ERR_FFF_* codes. */
export const HttpErrorCode = {
  NOT_READY: 'ERR_FFF_NOT_READY',
  PAYLOAD_TOO_LARGE: 'ERR_FFF_PAYLOAD_TOO_LARGE',
  NOT_FOUND: 'ERR_FFF_NOT_FOUND',
} as const;

/** What createServer adds to the fastify instance. */
export interface FffServerState {
  /** The model once loaded (createServer also takes a promise of one). */
  readonly model: Model | undefined;
  readonly ready: boolean;
  readonly draining: boolean;
  /**
   * fastify's close(): readiness turns false and new requests get 503 while those in flight finish, each reply
   * closing its connection; resolves when the last connection closed.
   */
  drain(): Promise<void>;
  readonly metrics: MetricsRecorder;
}

export type FffServer = FastifyInstance & { fffbert: FffServerState };

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** HTTP status of a library error: bad input 400, overload or shutdown 503, anything else 500. */
function statusOf(code: string): number {
  switch (code) {
    case ErrorCode.QUEUE_FULL:
    case ErrorCode.DISPOSED:
    case ErrorCode.ABORTED:
      return 503;
    case ErrorCode.INVALID_ARGUMENT:
    case ErrorCode.INVALID_TYPE:
    case ErrorCode.INVALID_SHAPE:
    case ErrorCode.INVALID_LENGTH:
    case ErrorCode.TOKEN_OUT_OF_RANGE:
    case ErrorCode.SEQUENCE_TOO_LONG:
    case ErrorCode.UNSUPPORTED_MODEL:
      return 400;
    default:
      return 500;
  }
}

const errorBody = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      required: ['code', 'message'],
    },
  },
} as const;

const probabilities = { type: 'array', items: { type: 'number' } } as const;

/**
 * A fastify instance serving `model` (or the model a promise resolves to: /ready says false until then). The
 * caller listens (`await server.listen({ host, port })`), may add routes, and closes it; the model stays the
 * caller's to dispose.
 */
export function createServer(model: Model | Promise<Model>, options: ServerOptions = {}): FffServer {
  const Fastify = require('fastify') as typeof import('fastify').default;
  const maxTexts = options.maxTexts ?? 64;
  const maxTextLength = options.maxTextLength ?? 20_000;
  // Schemas validate strictly: no type coercion, no silent removal of unknown properties.
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    return503OnClosing: true,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  });
  const metrics = new MetricsRecorder();
  let loaded: Model | undefined;
  let draining = false;
  let loadError: unknown;
  if (model instanceof Promise) {
    model.then(
      (m) => (loaded = m),
      (err: unknown) => (loadError = err),
    );
  } else {
    loaded = model;
  }
  const state: FffServerState = {
    get model() {
      return loaded;
    },
    get ready() {
      return loaded !== undefined && !loaded.disposed && !draining;
    },
    get draining() {
      return draining;
    },
    drain() {
      draining = true;
      return app.close();
    },
    metrics,
  };
  app.decorate('fffbert', state);
  // close() drains: readiness turns false, and every reply from now on closes its connection (a keep-alive
  // connection would otherwise hold close() until its timeout).
  app.addHook('preClose', async () => {
    draining = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (draining) void reply.header('connection', 'close');
  });
  app.addHook('onClose', async () => metrics.close());

  const live = (): Model => {
    if (draining) throw new HttpError(503, HttpErrorCode.NOT_READY, 'The server is shutting down');
    if (loaded === undefined) {
      const why =
        loadError instanceof Error ? `the model failed to load: ${loadError.message}` : 'the model is still loading';
      throw new HttpError(503, HttpErrorCode.NOT_READY, `Not ready: ${why}`);
    }
    return loaded;
  };

  // A request whose client went away aborts its calls that still wait for a batch.
  const signalOf = (reply: FastifyReply): AbortSignal => {
    const ctl = new AbortController();
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) ctl.abort(new Error('The client closed the connection'));
    });
    return ctl.signal;
  };

  // Counted on the response's 'close', which also comes when the client went away before the reply (fastify's
  // onResponse does not): inFlight returns to 0. Only replies that were sent count in the latencies.
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const start = performance.now();
    metrics.inFlight++;
    reply.raw.once('close', () => {
      metrics.inFlight--;
      const route = request.routeOptions.url ?? '(no route)';
      if (reply.raw.writableFinished)
        metrics.record(`${request.method} ${route}`, performance.now() - start, reply.statusCode);
    });
  });

  app.setErrorHandler((err: FastifyError | FffError | HttpError, _request, reply) => {
    if (err instanceof HttpError)
      return reply.code(err.statusCode).send({ error: { code: err.code, message: err.message } });
    if (err instanceof FffError) {
      const status = statusOf(err.code);
      if (err.code === ErrorCode.QUEUE_FULL) void reply.header('retry-after', '1');
      return reply.code(status).send({ error: { code: err.code, message: err.message } });
    }
    const fe = err as FastifyError;
    if (fe.validation)
      return reply.code(400).send({ error: { code: ErrorCode.INVALID_ARGUMENT, message: fe.message } });
    if (fe.statusCode === 413)
      return reply.code(413).send({ error: { code: HttpErrorCode.PAYLOAD_TOO_LARGE, message: fe.message } });
    if (fe.statusCode !== undefined && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.code(fe.statusCode).send({ error: { code: ErrorCode.INVALID_ARGUMENT, message: fe.message } });
    }
    reply.log.error(err);
    return reply.code(500).send({ error: { code: ErrorCode.INTERNAL, message: 'Internal error' } });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply
      .code(404)
      .send({ error: { code: HttpErrorCode.NOT_FOUND, message: `No route ${request.method} ${request.url}` } });
  });

  const text = { type: 'string', maxLength: maxTextLength } as const;
  const texts = { anyOf: [text, { type: 'array', items: text, minItems: 1, maxItems: maxTexts }] } as const;

  app.get(
    '/health',
    { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/ready',
    {
      schema: {
        response: {
          '2xx': { type: 'object', properties: { ready: { type: 'boolean' } } },
          503: { type: 'object', properties: { ready: { type: 'boolean' }, reason: { type: 'string' } } },
        },
      },
    },
    async (_request, reply) => {
      if (state.ready) return { ready: true };
      const reason = draining
        ? 'draining'
        : loadError !== undefined
          ? 'failed to load'
          : loaded?.disposed
            ? 'disposed'
            : 'loading';
      return reply.code(503).send({ ready: false, reason });
    },
  );

  app.get('/metrics', async () => metrics.read(loaded?.batcher?.stats() ?? null));

  app.post<{ Body: { texts: string | string[]; pooling?: 'mean' | 'cls'; normalize?: boolean } }>(
    '/embed',
    {
      schema: {
        body: {
          type: 'object',
          required: ['texts'],
          additionalProperties: false,
          properties: { texts, pooling: { enum: ['mean', 'cls'] }, normalize: { type: 'boolean' } },
        },
        response: {
          200: { type: 'object', properties: { embeddings: { type: 'array', items: probabilities } } },
          '4xx': errorBody,
          '5xx': errorBody,
        },
      },
    },
    async (request, reply) => {
      const { texts: t, pooling, normalize } = request.body;
      const vectors = await live().embed(t, { pooling, normalize, signal: signalOf(reply) });
      return { embeddings: vectors.map((v) => Array.from(v)) };
    },
  );

  app.post<{ Body: { texts: string | string[] } }>(
    '/classify',
    {
      schema: {
        body: { type: 'object', required: ['texts'], additionalProperties: false, properties: { texts } },
        response: {
          200: {
            type: 'object',
            properties: {
              results: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { label: { type: 'string' }, score: { type: 'number' }, scores: probabilities },
                },
              },
            },
          },
          '4xx': errorBody,
          '5xx': errorBody,
        },
      },
    },
    async (request, reply) => ({ results: await live().classify(request.body.texts, { signal: signalOf(reply) }) }),
  );

  app.post<{ Body: { text: string; topK?: number } }>(
    '/fill-mask',
    {
      schema: {
        body: {
          type: 'object',
          required: ['text'],
          additionalProperties: false,
          properties: { text, topK: { type: 'integer', minimum: 1, maximum: 1000 } },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              masks: {
                type: 'array',
                items: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      token: { type: 'string' },
                      tokenId: { type: 'integer' },
                      score: { type: 'number' },
                      sequence: { type: 'string' },
                    },
                  },
                },
              },
            },
          },
          '4xx': errorBody,
          '5xx': errorBody,
        },
      },
    },
    async (request, reply) => ({
      masks: await live().fillMask(request.body.text, { topK: request.body.topK, signal: signalOf(reply) }),
    }),
  );

  return app as unknown as FffServer;
}
