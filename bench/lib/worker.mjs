// One benchmark configuration in a fresh process: node bench/lib/worker.mjs '<job JSON>'.
// Prints one JSON line: { timesMs, inner, info } or { error }.

import { denseFeedforwardModel } from './graphs.mjs';
import { denseWeights, fffInputs, fffWeights, gemmOperands, tokensInput, WIDTH } from './layer-data.mjs';
import { cacheSizes, measureProbes } from './limit.mjs';
import { loadOrt, ortSession } from './ort.mjs';
import { loadFffbert, loadNative } from './setup.mjs';
import { measure } from './timing.mjs';

const job = JSON.parse(process.argv[2]);
const timing = { reps: job.reps ?? 7, minRepMs: job.minRepMs ?? 40, warmupMs: job.warmupMs ?? 300 };

function fffbert(threads, isa) {
  const f = loadFffbert();
  f.setThreads(threads);
  if (isa) f.setIsa(isa);
  return f;
}

const jobs = {
  async fff({ threads, isa, strategy, tokens, depth = 11, trees = 1, weights = 'f32', inputs = 'stream' }) {
    const f = fffbert(threads, isa);
    const layer = f.FastFeedforward.fromTorch({ ...fffWeights(WIDTH, WIDTH, depth, trees), weights });
    const xs = fffInputs(tokens, inputs, f.alignedFloat32Array); // 'repeat': the earlier tables' one x every call
    const out = f.alignedFloat32Array(tokens * WIDTH);
    const r = await measure(() => layer.forwardSync(xs.next(), tokens, { strategy, out }), timing);
    return { ...r, info: { isa: f.isa().active, threads: f.threads(), inputs, distinctTokens: xs.distinctTokens } };
  },
  async 'dense-ours'({ threads, isa, width, tokens }) {
    const f = fffbert(threads, isa);
    const layer = f.DenseFeedforward.fromTorch(denseWeights(WIDTH, width, WIDTH));
    const x = tokensInput(tokens, WIDTH, f.alignedFloat32Array);
    const out = f.alignedFloat32Array(tokens * WIDTH);
    const r = await measure(() => layer.forwardSync(x, tokens, { out }), timing);
    return { ...r, info: { isa: f.isa().active, threads: f.threads() } };
  },
  async 'dense-ort'({ threads, width, tokens }) {
    const ort = loadOrt();
    const session = await ortSession(
      ort,
      denseFeedforwardModel(denseWeights(WIDTH, width, WIDTH), WIDTH, width, WIDTH, tokens),
      threads,
    );
    // x on a cache line as ours (onnxruntime-node reads the array in place; it allocates its outputs itself).
    const x = tokensInput(tokens, WIDTH, loadFffbert().alignedFloat32Array);
    const feeds = { x: new ort.Tensor('float32', x, [tokens, WIDTH]) };
    const r = await measure(() => session.run(feeds), timing);
    return { ...r, info: { threads, version: ort.env.versions?.node } };
  },
  async 'gemm-ours'({ threads, M, N, K }) {
    const f = fffbert(threads);
    const { x, w } = gemmOperands(M, N, K, f.alignedFloat32Array);
    const layer = f.Linear.fromTorch({ weight: w, inFeatures: K });
    const out = f.alignedFloat32Array(M * N);
    const r = await measure(() => layer.forwardSync(x, M, { out }), timing);
    return { ...r, info: { isa: f.isa().active, threads: f.threads() } };
  },
  /** The roofline probes (lib/limit.mjs) at this thread count, at the best ISA. */
  async probe({ threads, dtypes, tokens, inputs }) {
    const f = fffbert(threads);
    const l2Bytes = cacheSizes().l2 ?? 2 ** 20;
    return {
      probes: measureProbes(loadNative(), { dtypes, l2Bytes, threads: f.threads(), tokens, inputs }),
      info: { isa: f.isa().active, threads: f.threads() },
    };
  },
  /** Our dense FF's output on a few tokens, for the sanity check against a float64 reference. */
  async 'check-dense-ours'({ threads, width, tokens }) {
    const y = fffbert(threads)
      .DenseFeedforward.fromTorch(denseWeights(WIDTH, width, WIDTH))
      .forwardSync(tokensInput(tokens), tokens);
    return { y: Array.from(y) };
  },
  /** ORT's output of the dense FF graph on a few tokens (same check). */
  async 'check-dense-ort'({ threads, width, tokens }) {
    const ort = loadOrt();
    const s = await ortSession(
      ort,
      denseFeedforwardModel(denseWeights(WIDTH, width, WIDTH), WIDTH, width, WIDTH, tokens),
      threads,
    );
    return {
      y: Array.from((await s.run({ x: new ort.Tensor('float32', tokensInput(tokens), [tokens, WIDTH]) })).y.data),
    };
  },
};

async function main() {
  let kind = jobs[job.kind];
  if (!kind && job.kind.startsWith('e2e-')) kind = (await import('./e2e-worker.mjs')).jobs[job.kind];
  if (!kind) throw new Error(`unknown job kind ${job.kind}`);
  return kind(job);
}

main().then(
  (r) => {
    process.stdout.write(`\n${JSON.stringify(r)}\n`);
    process.exit(0);
  },
  (e) => {
    process.stdout.write(
      `\n${JSON.stringify({
        error: String(e?.message ?? e)
          .split('\n')[0]
          .slice(0, 400),
        code: e?.code,
      })}\n`,
    );
    process.exit(1);
  },
);
