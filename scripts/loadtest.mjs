#!/usr/bin/env node
// Load test of `fffbert serve` on loopback: one-sentence POST /embed requests from autocannon at 1, 8 and 64
// connections, against the same model served with batching and without (two server processes, the same
// --threads; runs alternate between them, --rounds times, medians reported), then a short overload run that
// provokes 503s on purpose (a tiny --max-queue).
//
//   npm run loadtest -- [--model DIR]... [--duration 5] [--rounds 3] [--threads N] [--connections 1,8,64]
//                       [--max-batch-size 32] [--max-wait-ms 5] [--json out.json]
//
// Default models: the bert-tiny-mlm fixture, and /tmp/fffbert-ufb-long (UltraFastBERT-1x11-long shapes, 755 MB)
// when it exists: `node scripts/make-ufb-long.mjs /tmp/fffbert-ufb-long` writes it. Every run is bounded by
// --duration seconds and --max-requests requests. Every 200 is checked against the
// embedding this process computes directly with the same model (bitwise, through JSON); a wrong or failed
// response, other than the deliberate 503s of the overload run, makes the exit code 1.
// Reports per configuration: requests/s, tokens/s (real tokens, padding excluded), latency p50/p99 (ms), the
// server's event-loop delay p99 (its /metrics window over the run), and the mean rows per batch.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { loadModel } = await import(path.join(root, 'dist', 'index.js'));

const { values } = parseArgs({
  options: {
    model: { type: 'string', multiple: true },
    duration: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    'max-requests': { type: 'string', default: '100000' },
    threads: { type: 'string', default: String(Math.min(os.availableParallelism?.() ?? os.cpus().length, 16)) },
    connections: { type: 'string', default: '1,8,64' },
    'max-batch-size': { type: 'string', default: '32' },
    'max-wait-ms': { type: 'string', default: '5' },
    'no-overload': { type: 'boolean' },
    json: { type: 'string' },
  },
});
const duration = Number(values.duration);
const maxRequests = Number(values['max-requests']);
const connectionsList = values.connections.split(',').map(Number);
const LONG = '/tmp/fffbert-ufb-long';
const models = values.model ?? [
  path.join(root, 'test', 'fixtures', 'bert-tiny-mlm'),
  ...(fs.existsSync(LONG) ? [LONG] : []),
];

// One sentence each, 6 to 20 words.
const SENTENCES = [
  'The cat sat on the mat.',
  'A quick brown fox jumps over the lazy dog.',
  'Paris is the capital and most populous city of France.',
  'She sells sea shells by the sea shore.',
  'The weather today is sunny with a light breeze from the west.',
  'Machine learning models can run fast on ordinary processors.',
  'He forgot his umbrella and got wet on the way home.',
  'The meeting was moved to Thursday afternoon.',
  'Fresh bread smells wonderful early in the morning.',
  'Our train left the station exactly on time.',
  'The museum opens at nine and closes at five.',
  'Please send the report before the end of the week.',
  'Children were playing football in the park after school.',
  'The river flows slowly through the old town.',
  'A good book can keep you company on a long journey.',
  'The new phone has a larger screen and a better camera.',
];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts `fffbert serve`; resolves to { base, child } once it is ready. */
async function startServer(dir, args) {
  const child = spawn(
    process.execPath,
    [path.join(root, 'dist', 'cli.js'), 'serve', dir, '--port', '0', '--threads', values.threads, ...args],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  for (let i = 0; i < 6000 && !/ready:/.test(stderr); i++) {
    if (child.exitCode !== null) throw new Error(`fffbert serve exited: ${stderr}`);
    await sleep(20);
  }
  const base = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1];
  if (!base || !/ready:/.test(stderr)) throw new Error(`fffbert serve did not get ready: ${stderr}`);
  return { base, child };
}

async function stopServer(child) {
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGTERM');
  const code = await Promise.race([exited, sleep(30_000).then(() => 'timeout')]);
  if (code !== 0) {
    child.kill('SIGKILL');
    throw new Error(`fffbert serve did not stop cleanly on SIGTERM (${code})`);
  }
}

/** @returns {Promise<any>} the service's /metrics document */
async function metrics(base) {
  return (await fetch(`${base}/metrics`)).json();
}

/**
 * Waits until the server has answered everything autocannon left in flight, else it would compete with the
 * next run (of the other server). Its reads of /metrics open windows that the next run's first read closes.
 */
async function drained(base) {
  for (let i = 0; i < 6000; i++) {
    const m = await metrics(base);
    if (m.inFlight <= 1 && (m.batching === null || (m.batching.waiting === 0 && m.batching.running === 0))) return;
    await sleep(20);
  }
  throw new Error(`${base} still busy after 120 s`);
}

/** autocannon at `connections` for `duration` s; every response checked. */
async function load(base, connections, expected, seconds, { allow503 = false } = {}) {
  const tally = { ok: 0, wrong: 0, failed: 0, queueFull: 0, tokens: 0 };
  let next = 0;
  const result = await autocannon({
    url: base,
    connections,
    duration: seconds,
    maxOverallRequests: maxRequests,
    timeout: 60,
    requests: [
      {
        method: 'POST',
        path: '/embed',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req, context) => {
          context.sentence = next++ % SENTENCES.length;
          return { ...req, body: JSON.stringify({ texts: SENTENCES[context.sentence] }) };
        },
        onResponse: (status, body, context) => {
          const want = expected[context.sentence];
          if (status === 200) {
            if (body === want.body || checkBody(body, want)) {
              tally.ok++;
              tally.tokens += want.tokens;
            } else {
              tally.wrong++;
            }
          } else if (status === 503 && allow503 && JSON.parse(body).error?.code === 'ERR_FFF_QUEUE_FULL') {
            tally.queueFull++;
          } else {
            tally.failed++;
          }
        },
      },
    ],
  });
  tally.failed += result.errors + result.timeouts;
  return { result, tally };
}

/** Parses a 200 body and compares it with the direct embedding exactly; remembers the text once verified. */
function checkBody(body, want) {
  const got = JSON.parse(body).embeddings?.[0];
  if (!Array.isArray(got) || got.length !== want.vector.length) return false;
  for (let i = 0; i < got.length; i++) if (got[i] !== want.vector[i]) return false;
  want.body = body;
  return true;
}

const median = (xs) => {
  const v = xs.slice().sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};

/** Expected embeddings and token counts of SENTENCES, computed here with the model loaded on its own. */
async function expectations(dir) {
  const direct = await loadModel(dir);
  const vectors = await direct.embed(SENTENCES);
  const expected = SENTENCES.map((s, i) => ({
    vector: Array.from(vectors[i]),
    tokens: direct.tokenizer.encode(s).ids.length,
    body: null,
  }));
  const weightBytes = direct.loadStats.weightBytes;
  direct.dispose();
  return { expected, weightBytes };
}

const rows = [];
let bad = 0;
const rounds = Number(values.rounds);
for (const dir of models) {
  const { expected, weightBytes } = await expectations(dir);
  const name = path.basename(dir);
  const meanTokens = expected.reduce((n, e) => n + e.tokens, 0) / expected.length;
  console.log(
    `\n${name}: ${(weightBytes / 1e6).toFixed(1)} MB of weights, sentences of ${meanTokens.toFixed(1)} tokens on average, --threads ${values.threads}, ${rounds} rounds of ${duration} s, batching off and on interleaved`,
  );
  // Both servers up at once (an idle one costs no CPU); runs alternate between them so that both see the same
  // background load, and each figure is the median over the rounds.
  const servers = {};
  try {
    servers.off = await startServer(dir, ['--no-batching']);
    servers.on = await startServer(dir, [
      '--max-batch-size',
      values['max-batch-size'],
      '--max-wait-ms',
      values['max-wait-ms'],
    ]);
    for (const mode of ['off', 'on']) {
      await load(servers[mode].base, 8, expected, Math.min(3, duration)); // warm-up
      await drained(servers[mode].base);
    }
    for (const connections of connectionsList) {
      const runs = { off: [], on: [] };
      for (let r = 0; r < rounds; r++) {
        for (const mode of ['off', 'on']) {
          const { base } = servers[mode];
          const before = await metrics(base); // opens the window
          const { result, tally } = await load(base, connections, expected, duration);
          const m = await metrics(base); // closes the window: the run's latencies and event-loop delay
          await drained(base);
          const batches = m.batching ? m.batching.batches - before.batching.batches : 0;
          const batchRows = m.batching ? m.batching.rows - before.batching.rows : 0;
          bad += tally.wrong + tally.failed;
          runs[mode].push({
            requestsPerSecond: tally.ok / result.duration,
            tokensPerSecond: tally.tokens / result.duration,
            p50: result.latency.p50,
            p99: result.latency.p99,
            eventLoopP99: m.eventLoopDelayMs.p99,
            meanBatchRows: batches > 0 ? batchRows / batches : 1,
            rssMB: m.rssBytes / 1e6,
            ok: tally.ok,
            wrong: tally.wrong,
            failed: tally.failed,
          });
        }
      }
      for (const mode of ['off', 'on']) {
        const rs = runs[mode];
        const row = { model: name, batching: mode === 'on', connections, runs: rs };
        for (const k of ['requestsPerSecond', 'tokensPerSecond', 'p50', 'p99', 'eventLoopP99', 'meanBatchRows'])
          row[k] = median(rs.map((x) => x[k]));
        row.rssMB = Math.max(...rs.map((x) => x.rssMB));
        for (const k of ['ok', 'wrong', 'failed']) row[k] = rs.reduce((n, x) => n + x[k], 0);
        rows.push(row);
        console.log(
          `  batching ${mode.padEnd(3)} ${String(connections).padStart(3)} conn: ${row.requestsPerSecond.toFixed(1).padStart(7)} req/s ${row.tokensPerSecond.toFixed(0).padStart(6)} tok/s  p50 ${String(row.p50).padStart(5)} ms  p99 ${String(row.p99).padStart(5)} ms  loop p99 ${row.eventLoopP99.toFixed(1).padStart(5)} ms  rows/batch ${row.meanBatchRows.toFixed(1).padStart(5)}  rss ${row.rssMB.toFixed(0)} MB  ${row.ok} ok, ${row.wrong} wrong, ${row.failed} failed  (req/s per round: ${rs.map((x) => x.requestsPerSecond.toFixed(1)).join(' ')})`,
        );
      }
      const [off, on] = rows.slice(-2);
      const ratios = runs.on.map((x, i) => x.requestsPerSecond / runs.off[i].requestsPerSecond);
      console.log(
        `  ${connections} conn: batching gives ${(on.requestsPerSecond / off.requestsPerSecond).toFixed(2)}x the requests/s (per round: ${ratios.map((x) => x.toFixed(2)).join(' ')})`,
      );
    }
  } finally {
    for (const s of Object.values(servers)) await stopServer(s.child);
  }
  const on1 = rows.find((r) => r.model === name && r.batching && r.connections === 1);
  const off1 = rows.find((r) => r.model === name && !r.batching && r.connections === 1);
  if (on1 && off1)
    console.log(
      `  1 conn: batched p99 ${on1.p99} ms against 2 x unbatched p50 + maxWaitMs = ${(2 * off1.p50 + Number(values['max-wait-ms'])).toFixed(1)} ms`,
    );
}

if (!values['no-overload']) {
  // Deliberate 503s: 64 connections against a queue of 4 on the smallest model.
  const dir = models[0];
  const { expected } = await expectations(dir);
  const { base, child } = await startServer(dir, ['--max-queue', '4', '--max-wait-ms', '20']);
  try {
    const { tally } = await load(base, 64, expected, Math.min(3, duration), { allow503: true });
    bad += tally.wrong + tally.failed;
    console.log(
      `\noverload (${path.basename(dir)}, --max-queue 4, 64 conn): ${tally.ok} ok, ${tally.queueFull} deliberate 503 ERR_FFF_QUEUE_FULL, ${tally.wrong} wrong, ${tally.failed} failed`,
    );
    if (tally.queueFull === 0) console.log('  (no 503 provoked: the queue never filled)');
  } finally {
    await stopServer(child);
  }
}

if (values.json)
  fs.writeFileSync(
    values.json,
    `${JSON.stringify({ cpu: os.cpus()[0]?.model, cores: os.cpus().length, threads: Number(values.threads), rows }, null, 2)}\n`,
  );
console.log(`\n${bad === 0 ? 'no' : bad} failed or wrong responses`);
process.exitCode = bad === 0 ? 0 : 1;
