/**
 * `fffbert serve DIR`: listens first (GET /health answers and /ready says false while the model loads), loads
 * the model with batching unless --no-batching, and on SIGTERM or SIGINT drains: /ready turns false, new
 * requests get 503, those in flight finish, then the model is freed and the process exits 0.
 */
import type { BatchingOptions } from '../batching/batcher';
import { isUsageError, modelOptions, numberArg, parseModelArgs, UsageError } from '../cli-args';
import { loadProgress } from '../cli-format';
import type { Model } from '../model';
import { createServer } from './server';

export const SERVE_USAGE = `Usage: fffbert serve <dir> [options]

  --host <addr>                 address to listen on (default 127.0.0.1)
  --port <n>                    port (default 8080; 0 picks a free one)
  --threads <n>                 compute threads of this replica (default: FFFBERT_THREADS, else all cores)
  --isa <name>                  force scalar, avx2, avx512 or neon
  --truncation                  truncate texts longer than the model's maximum (default: refuse them, 400)
  --no-batching                 run every request's forward on its own
  --max-batch-size <n>          rows per merged forward (default 32)
  --max-wait-ms <ms>            how long a request waits for others while the model is idle (default 5)
  --max-queue <n>               waiting requests before 503 (default 1024)
  --body-limit <bytes>          largest request body (default 1048576; beyond it 413)
  --max-texts <n>               most texts per request (default 64)
  --quiet                       no log lines on stderr

Routes: POST /embed {texts, pooling?, normalize?}, POST /classify {texts}, POST /fill-mask {text, topK?},
GET /health, GET /ready, GET /metrics.
`;

export interface ServeIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** A progress line while the weights load when stderr is a terminal (and no --quiet). */
  stderrIsTTY?: boolean;
}

/** `fffbert serve ...`: --help, usage errors (exit 2), else the service until SIGTERM/SIGINT. */
export async function serveCommand(args: string[], io: ServeIo): Promise<number> {
  if (args.includes('-h') || args.includes('--help')) {
    io.stdout(SERVE_USAGE);
    return 0;
  }
  try {
    return await serve(args, io);
  } catch (err) {
    if (isUsageError(err)) {
      io.stderr(`fffbert serve: ${(err as Error).message}\n\n${SERVE_USAGE}`);
      return 2;
    }
    throw err;
  }
}

/** Runs the service until SIGTERM/SIGINT; resolves to the exit code. */
export async function serve(args: string[], io: ServeIo): Promise<number> {
  const { values, positionals } = parseModelArgs(args, {
    host: { type: 'string' },
    port: { type: 'string' },
    'no-batching': { type: 'boolean' },
    'max-batch-size': { type: 'string' },
    'max-wait-ms': { type: 'string' },
    'max-queue': { type: 'string' },
    'body-limit': { type: 'string' },
    'max-texts': { type: 'string' },
  });
  const [dir, ...extra] = positionals;
  if (dir === undefined) throw new UsageError('serve needs a model folder');
  if (extra.length > 0)
    throw new UsageError(`serve takes one model folder but received ${positionals.length} arguments`);
  const log = values.quiet ? () => undefined : (line: string) => io.stderr(`fffbert serve: ${line}\n`);
  const host = values.host ?? '127.0.0.1';
  const port = numberArg('port', values.port, 0) ?? 8080;
  if (port > 65535) throw new UsageError(`--port expects a port in [0, 65535] but received "${values.port}"`);
  const batching: BatchingOptions = {};
  const maxBatchSize = numberArg('max-batch-size', values['max-batch-size'], 1);
  const maxWaitMs = numberArg('max-wait-ms', values['max-wait-ms'], 0, false);
  const maxQueue = numberArg('max-queue', values['max-queue'], 1);
  if (maxBatchSize !== undefined) batching.maxBatchSize = maxBatchSize;
  if (maxWaitMs !== undefined) batching.maxWaitMs = maxWaitMs;
  if (maxQueue !== undefined) batching.maxQueue = maxQueue;
  const options = modelOptions(values);
  if (!values['no-batching']) options.batching = batching;
  if (io.stderrIsTTY && !values.quiet) options.onLoadProgress = loadProgress(io.stderr, 'weights');

  const { loadModel } = await import('../model');
  const loading = loadModel(dir, options);
  loading.catch(() => undefined); // reported below; the server answers 503 meanwhile
  const server = createServer(loading, {
    bodyLimit: numberArg('body-limit', values['body-limit'], 1),
    maxTexts: numberArg('max-texts', values['max-texts'], 1),
  });
  const address = await server.listen({ host, port });
  log(`listening on ${address} (loading ${dir})`);
  let model: Model;
  try {
    model = await loading;
  } catch (err) {
    await server.close();
    throw err;
  }
  const b = model.batcher?.options;
  log(
    `ready: ${model.config.family} ${model.config.head}, ${model.loadStats.weightBytes} bytes of weights, loaded in ${model.loadStats.seconds.toFixed(1)} s, ${b ? `batching up to ${b.maxBatchSize} rows, ${b.maxWaitMs} ms wait, queue ${b.maxQueue}` : 'no batching'}`,
  );

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      log(`${signal}: draining (in-flight requests finish, new ones get 503)`);
      server.fffbert.drain().then(resolve, (err: unknown) => {
        log(`error while closing: ${err instanceof Error ? err.message : String(err)}`);
        resolve();
      });
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
  });
  model.dispose();
  log('stopped');
  return 0;
}
