import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Model } from '../lib/model';
import { loadModel } from '../lib/model';
import type { ServerMetrics } from '../lib/server/metrics';
import type { FffServer } from '../lib/server/server';
import { createServer } from '../lib/server/server';

const fixtures = path.join(__dirname, 'fixtures');
const MLM = path.join(fixtures, 'bert-tiny-mlm');
const CLS = path.join(fixtures, 'bert-tiny-cls');

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Listens on an ephemeral loopback port; returns the base URL. */
async function listen(server: FffServer): Promise<string> {
  return server.listen({ host: '127.0.0.1', port: 0 });
}

/**
 * A reply body as these tests read it: the field present depends on the route (embeddings, masks, results) or on
 * the status (error); each test reads only the one its route and status give.
 */
interface Reply {
  embeddings: number[][];
  masks: unknown;
  results: unknown;
  error: { code: string; message: string };
}

async function post(
  base: string,
  route: string,
  body: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<{ status: number; json: Reply; headers: Headers }> {
  const res = await fetch(`${base}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  });
  return { status: res.status, json: (await res.json()) as Reply, headers: res.headers };
}

/** A GET: `T` is the body's type (ServerMetrics for /metrics); the default leaves it for toEqual to check. */
async function get<T = unknown>(base: string, route: string): Promise<{ status: number; json: T }> {
  const res = await fetch(`${base}${route}`);
  return { status: res.status, json: (await res.json()) as T };
}

describe('createServer on fixture models', () => {
  let mlm: Model;
  let cls: Model;
  let direct: Model;
  let directCls: Model;
  let mlmServer: FffServer;
  let clsServer: FffServer;
  let base: string;
  let clsBase: string;
  beforeAll(async () => {
    mlm = await loadModel(MLM, { batching: { maxBatchSize: 8, maxWaitMs: 2 } });
    cls = await loadModel(CLS, { batching: true });
    direct = await loadModel(MLM);
    directCls = await loadModel(CLS);
    mlmServer = createServer(mlm, { bodyLimit: 4096, maxTexts: 4 });
    clsServer = createServer(cls);
    base = await listen(mlmServer);
    clsBase = await listen(clsServer);
  });
  afterAll(async () => {
    await mlmServer?.close();
    await clsServer?.close();
    for (const m of [mlm, cls, direct, directCls]) m?.dispose();
  });

  it('GET /health and /ready answer 200', async () => {
    expect(await get(base, '/health')).toEqual({ status: 200, json: { status: 'ok' } });
    expect(await get(base, '/ready')).toEqual({ status: 200, json: { ready: true } });
  });

  it('POST /embed equals direct calls (bitwise through JSON), concurrent requests merged', async () => {
    const texts = ['Hello, world!', 'The capital of France is a city.', 'a', 'naïve café'];
    const replies = await Promise.all([
      post(base, '/embed', { texts }),
      post(base, '/embed', { texts: 'one text', pooling: 'cls', normalize: false }),
      post(base, '/embed', { texts: ['x y z'] }),
    ]);
    for (const r of replies) expect(r.status).toBe(200);
    const want = [
      await direct.embed(texts),
      await direct.embed('one text', { pooling: 'cls', normalize: false }),
      await direct.embed(['x y z']),
    ];
    replies.forEach((r, i) => expect(r.json.embeddings).toEqual(want[i].map((v) => Array.from(v))));
  });

  it('POST /fill-mask and /classify equal direct calls', async () => {
    const text = 'the capital of france is [MASK].';
    const fm = await post(base, '/fill-mask', { text, topK: 3 });
    expect(fm.status).toBe(200);
    expect(fm.json.masks).toEqual(await direct.fillMask(text, { topK: 3 }));
    const c = await post(clsBase, '/classify', { texts: ['great movie', 'awful'] });
    expect(c.status).toBe(200);
    expect(c.json.results).toEqual(await directCls.classify(['great movie', 'awful']));
    const one = await post(clsBase, '/classify', { texts: 'fine' });
    expect(one.json.results).toEqual(await directCls.classify('fine'));
  });

  it('400 with the error code for bad input, from the schema and from the model', async () => {
    const cases: Array<[string, unknown, string, RegExp]> = [
      ['/embed', { texts: 5 }, 'ERR_FFF_INVALID_ARGUMENT', /texts must be string/],
      ['/embed', { texts: [] }, 'ERR_FFF_INVALID_ARGUMENT', /texts/],
      ['/embed', { texts: ['a', 'b', 'c', 'd', 'e'] }, 'ERR_FFF_INVALID_ARGUMENT', /must NOT have more than 4 items/],
      ['/embed', { texts: 'a', extra: 1 }, 'ERR_FFF_INVALID_ARGUMENT', /must NOT have additional properties/],
      [
        '/embed',
        { texts: 'a', pooling: 'max' },
        'ERR_FFF_INVALID_ARGUMENT',
        /pooling must be equal to one of the allowed values/,
      ],
      ['/embed', { texts: 'a', normalize: 'yes' }, 'ERR_FFF_INVALID_ARGUMENT', /normalize must be boolean/],
      ['/embed', {}, 'ERR_FFF_INVALID_ARGUMENT', /must have required property 'texts'/],
      ['/embed', '{bad json', 'ERR_FFF_INVALID_ARGUMENT', /not valid JSON/],
      ['/embed', { texts: 'word '.repeat(200) }, 'ERR_FFF_SEQUENCE_TOO_LONG', /at most 64 tokens|64/],
      ['/fill-mask', { text: 'no mask here' }, 'ERR_FFF_INVALID_ARGUMENT', /containing the mask token/],
      ['/fill-mask', { text: 'a [MASK]', topK: 0 }, 'ERR_FFF_INVALID_ARGUMENT', /topK must be >= 1/],
      ['/fill-mask', { text: 'a [MASK]', topK: 1.5 }, 'ERR_FFF_INVALID_ARGUMENT', /topK must be integer/],
      ['/classify', { texts: 'a' }, 'ERR_FFF_UNSUPPORTED_MODEL', /classify needs a sequence-classification head/],
    ];
    for (const [route, body, code, message] of cases) {
      const r = await post(base, route, body);
      expect([route, r.status, r.json.error.code]).toEqual([route, 400, code]);
      expect(r.json.error.message).toMatch(message);
    }
    const media = await fetch(`${base}/embed`, {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      body: '<texts/>',
    });
    expect(media.status).toBe(415);
    expect(((await media.json()) as { error: { code: string } }).error.code).toBe('ERR_FFF_INVALID_ARGUMENT');
  });

  it('413 over the body limit, 404 for an unknown route', async () => {
    const big = await post(base, '/embed', { texts: 'x'.repeat(5000) });
    expect(big.status).toBe(413);
    expect(big.json.error.code).toBe('ERR_FFF_PAYLOAD_TOO_LARGE');
    expect(await get(base, '/nope')).toMatchObject({ status: 404, json: { error: { code: 'ERR_FFF_NOT_FOUND' } } });
  });

  it('GET /metrics: counts per route, latency percentiles, batch sizes, event-loop delay', async () => {
    const metrics = async () => (await get<ServerMetrics>(base, '/metrics')).json;
    // Counts are cumulative (earlier tests used this server), so compare with a read taken just before; that
    // read also starts a fresh window for the percentiles.
    const before = (await metrics()).batching!;
    await Promise.all(Array.from({ length: 6 }, (_, i) => post(base, '/embed', { texts: `text number ${i}` })));
    const m = await metrics();
    expect(m.routes['POST /embed'].requests).toBeGreaterThanOrEqual(6);
    expect(m.routes['POST /embed'].clientErrors).toBeGreaterThan(0);
    const lat = m.routes['POST /embed'].latencyMs;
    expect(lat.count).toBe(6);
    expect(lat.p50).toBeGreaterThan(0);
    expect(lat.p50).toBeLessThanOrEqual(lat.p99);
    expect(lat.p99).toBeLessThanOrEqual(lat.max);
    // Every request went through the batcher once, one row each, in one to six forwards: how many of them
    // shared a forward depends on timing (the batcher's adaptive wait; batching.test.ts proves the merging).
    const b = m.batching!;
    expect([b.requests - before.requests, b.rows - before.rows, b.waiting, b.running]).toEqual([6, 6, 0, 0]);
    expect(b.batches - before.batches).toBeGreaterThanOrEqual(1);
    expect(b.batches - before.batches).toBeLessThanOrEqual(6);
    expect(b.requests).toBeGreaterThanOrEqual(b.batches);
    expect(b.batchRows.reduce((a, n) => a + n, 0)).toBe(b.batches);
    expect(m.eventLoopDelayMs.p99).toBeGreaterThanOrEqual(0);
    expect(m.rssBytes).toBeGreaterThan(0);
    // the window closed: the next read starts afresh
    expect((await metrics()).routes['POST /embed'].latencyMs.count).toBe(0);
  });
});

describe('overload, readiness, aborts and shutdown', () => {
  it('503 with ERR_FFF_QUEUE_FULL and Retry-After when the batching queue is full', async () => {
    const model = await loadModel(MLM, { batching: { maxBatchSize: 64, maxWaitMs: 400, maxQueue: 1 } });
    const server = createServer(model);
    const base = await listen(server);
    try {
      const first = post(base, '/embed', { texts: 'waits for the batch' });
      await sleep(100);
      const second = await post(base, '/embed', { texts: 'no room' });
      expect(second.status).toBe(503);
      expect(second.json.error.code).toBe('ERR_FFF_QUEUE_FULL');
      expect(second.headers.get('retry-after')).toBe('1');
      expect((await first).status).toBe(200);
    } finally {
      await server.close();
      model.dispose();
    }
  });

  it('/ready is false (503) and routes answer 503 until the model is loaded', async () => {
    let resolve!: (m: Model) => void;
    const server = createServer(new Promise<Model>((r) => (resolve = r)));
    const base = await listen(server);
    const model = await loadModel(MLM);
    try {
      expect(await get(base, '/health')).toEqual({ status: 200, json: { status: 'ok' } });
      expect(await get(base, '/ready')).toEqual({ status: 503, json: { ready: false, reason: 'loading' } });
      const early = await post(base, '/embed', { texts: 'too early' });
      expect([early.status, early.json.error.code]).toEqual([503, 'ERR_FFF_NOT_READY']);
      resolve(model);
      await sleep(0);
      expect(await get(base, '/ready')).toEqual({ status: 200, json: { ready: true } });
      expect((await post(base, '/embed', { texts: 'now' })).status).toBe(200);
    } finally {
      await server.close();
      model.dispose();
    }
  });

  it('a client that disconnects aborts its waiting call', async () => {
    const model = await loadModel(MLM, { batching: { maxBatchSize: 64, maxWaitMs: 300 } });
    const server = createServer(model);
    const base = await listen(server);
    try {
      const ctl = new AbortController();
      const gone = post(base, '/embed', { texts: 'nobody waits for me' }, {}, ctl.signal).catch((e: Error) => e.name);
      await sleep(100);
      ctl.abort();
      expect(await gone).toBe('AbortError');
      for (let i = 0; i < 50 && model.batcher!.stats().aborted === 0; i++) await sleep(10);
      expect(model.batcher!.stats()).toMatchObject({ aborted: 1, waiting: 0, batches: 0 });
      expect((await get<ServerMetrics>(base, '/metrics')).json.inFlight).toBe(1); // only this /metrics request
    } finally {
      await server.close();
      model.dispose();
    }
  });

  it('drain(): in-flight requests finish, /ready and new requests get 503 meanwhile, then it closes', async () => {
    const model = await loadModel(MLM, { batching: { maxBatchSize: 64, maxWaitMs: 300 } });
    const server = createServer(model);
    const base = await listen(server);
    const direct = await loadModel(MLM);
    try {
      // keep-alive connection opened before the drain, reused after it
      expect((await get(base, '/health')).status).toBe(200);
      const inFlight = post(base, '/embed', { texts: 'in flight' });
      await sleep(100);
      const drained = server.fffbert.drain();
      expect(server.fffbert.ready).toBe(false);
      const late = await post(base, '/embed', { texts: 'late' }).catch((e: Error) => e);
      if (!(late instanceof Error)) expect(late.status).toBe(503); // else: the connection was refused
      const r = await inFlight;
      expect(r.status).toBe(200);
      expect(r.json.embeddings).toEqual((await direct.embed('in flight')).map((v) => Array.from(v)));
      await drained;
      await expect(fetch(`${base}/health`)).rejects.toThrow();
    } finally {
      await server.close();
      model.dispose();
      direct.dispose();
    }
  });
});

describe('fffbert serve (a child process)', () => {
  const cli = path.join(__dirname, '..', 'dist', 'cli.js');

  it('listens, serves, and on SIGTERM finishes the request in flight, then exits 0', async () => {
    expect(fs.existsSync(cli), `${cli} is built by npm run build`).toBe(true);
    const child = spawn(
      process.execPath,
      [cli, 'serve', MLM, '--port', '0', '--max-wait-ms', '400', '--threads', '1'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 300 && !/ready:/.test(stderr); i++) await sleep(20);
      const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1];
      expect(base, stderr).toBeDefined();
      expect(stderr).toMatch(/batching up to 32 rows, 400 ms wait/);
      expect((await get(base!, '/ready')).json).toEqual({ ready: true });
      const inFlight = post(base!, '/embed', { texts: 'finishes after SIGTERM' });
      await sleep(100);
      child.kill('SIGTERM');
      const r = await inFlight;
      expect(r.status).toBe(200);
      expect(r.json.embeddings[0].length).toBe(32);
      expect(await exited).toBe(0);
      expect(stderr).toMatch(/SIGTERM: draining[\s\S]*stopped/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('refuses bad options with the usage (exit 2)', async () => {
    const { main } = await import('../lib/cli');
    let err = '';
    const io = { stdout: () => undefined, stderr: (t: string) => (err += t) };
    expect(await main(['serve', MLM, '--port', 'x'], io)).toBe(2);
    expect(err).toMatch(/--port expects an integer >= 0 but received "x"/);
    expect(await main(['serve'], io)).toBe(2);
    expect(await main(['serve', MLM, '--bogus'], io)).toBe(2);
    let out = '';
    expect(await main(['serve', '--help'], { stdout: (t: string) => (out += t), stderr: () => undefined })).toBe(0);
    expect(out).toMatch(/--max-wait-ms/);
  });
});
