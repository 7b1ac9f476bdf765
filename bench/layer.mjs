#!/usr/bin/env node
// Layer benchmark (npm run bench): the UltraFastBERT 1x11 FFF layer (I=O=768, D=11, K=1) for every ISA this
// machine runs and every strategy, against dense feedforwards 768 -> W -> 768 (W = 4095, 3072; bias + exact
// GELU) on every dense backend: our SGEMM (DenseFeedforward), OpenBLAS (bench/native/openblas_ff.c) and
// onnxruntime-node (an ONNX graph built here). Then our SGEMM (Linear, y = x W^T) against cblas_sgemm at BERT
// shapes. Same threads everywhere, warm-up, repetitions, median and min-max, each configuration in a fresh
// process. Results: a table here, bench/results/layer.json and bench/results/layer.svg.
//
//   node bench/layer.mjs [--full] [--reps 7] [--threads <cores>] [--tokens 1,16,128] [--only fff,dense,gemm]
//                        [--no-ort] [--no-openblas] [--no-install] [--min-rep-ms 40] [--warmup-ms 300]
//                        [--rounds 1] [--quiet-wait-s 0] [--isa scalar,avx2]  (FFF ISAs; default: all supported)
// --rounds N runs the whole list N times, round-robin, and pools the repetitions (spreads the noise of a shared
// machine over every implementation); --quiet-wait-s S waits up to S seconds before each configuration for
// other work to leave the cores (< 25% busy). The background load seen before each run is recorded.
import * as os from 'node:os';
import * as path from 'node:path';
import { runOpenblas, runWorker, waitQuiet } from './lib/jobs.mjs';
import { denseReference, denseWeights, relMaxDiff, tokensInput, WIDTH } from './lib/layer-data.mjs';
import { machineInfo } from './lib/machine.mjs';
import { repoRoot } from './lib/paths.mjs';
import { parseArgs, printTable, writeResults } from './lib/report.mjs';
import { ensureOpenblas, ensureOrt, loadFffbert } from './lib/setup.mjs';
import { logLogChart } from './lib/svg.mjs';
import { fmtTime, summary } from './lib/timing.mjs';

const args = parseArgs(process.argv.slice(2), {
  full: { type: 'bool', default: false },
  reps: { type: 'int', default: 7 },
  threads: { type: 'int', default: os.cpus().length },
  tokens: { type: 'list', default: null },
  only: { type: 'list', default: ['fff', 'dense', 'gemm'] },
  ort: { type: 'bool', default: true },
  openblas: { type: 'bool', default: true },
  install: { type: 'bool', default: true },
  minRepMs: { type: 'int', default: 40 },
  warmupMs: { type: 'int', default: 300 },
  rounds: { type: 'int', default: 1 },
  isa: { type: 'list', default: null },
  quietWaitS: { type: 'int', default: 0 },
});

const DEPTH = 11;
const FFF_FLOP_PER_TOKEN = 2 * (WIDTH + WIDTH) * (DEPTH + 1); // the 12 visited nodes: dot + axpy each
const DENSE_WIDTHS = [4095, 3072];
const denseFlopPerToken = (w) => 2 * 2 * WIDTH * w;
const tokensList = (args.tokens ?? (args.full ? Array.from({ length: 13 }, (_, i) => 2 ** i) : [1, 16, 128, 512, 2048])).map(Number);
const GEMM_SHAPES = [
  { name: 'attn.out', N: 768, K: 768 },
  { name: 'qkv', N: 2304, K: 768 },
  { name: 'ff3072.in', N: 3072, K: 768 },
  { name: 'ff3072.out', N: 768, K: 3072 },
  ...(args.full
    ? [
        { name: 'ff4095.in', N: 4095, K: 768 },
        { name: 'ff4095.out', N: 768, K: 4095 },
      ]
    : []),
];
const GEMM_M = args.full ? [128, 256, 512, 1024, 2048] : [128, 2048];
const timing = { reps: args.reps, minRepMs: args.minRepMs, warmupMs: args.warmupMs };
const T = args.threads;
const log = (m) => process.stderr.write(`${m}\n`);
const started = Date.now();

// --- setup ------------------------------------------------------------------------------------------------
const fff = loadFffbert();
const isaInfo = fff.isa();
const notes = [];
const ort = args.ort ? ensureOrt({ install: args.install }) : { ok: false, note: 'ORT peer disabled (--no-ort)' };
const blas = args.openblas ? ensureOpenblas({ install: args.install }) : { ok: false, note: 'OpenBLAS peer disabled (--no-openblas)' };
for (const p of [ort, blas]) if (!p.ok) notes.push(p.note);
if (T !== os.cpus().length) notes.push(`threads (${T}) differ from the core count (${os.cpus().length})`);
notes.push(`dense ours runs at the best ISA only (${isaInfo.best}); the FFF runs at each supported ISA`);
notes.push('ORT times include its JavaScript run() overhead (a Promise per call and a new output tensor); ours use forwardSync with a reused output; OpenBLAS is timed inside its C program');
notes.push('GEMM: our Linear packs W once at construction; cblas_sgemm reads W unpacked at every call (as OpenBLAS users do)');
const machine = machineInfo({
  isa: isaInfo,
  nativeOrigin: fff.nativeOrigin,
  threads: T,
  onnxruntime: ort.ok ? ort.version : null,
  openblas: null,
});
log(`fffbert layer benchmark: ${machine.cpu}, ${machine.cores} cores, ISA ${isaInfo.active} (supported ${isaInfo.supported.join(', ')}), ${T} threads, Node ${machine.node}, commit ${machine.commit?.slice(0, 10)}${machine.worktreeDirty ? ' (dirty)' : ''}, addon ${machine.nativeOrigin}`);
for (const n of notes) log(`note: ${n}`);

// --- sanity: every dense backend against a float64 reference, 1 and 3 tokens, W = 4095 -----------------------
const sanity = {};
if (args.only.includes('dense')) {
  const W = 4095;
  for (const tokens of [1, 3]) {
    const ref = denseReference(denseWeights(WIDTH, W, WIDTH), tokensInput(tokens), tokens, WIDTH, W, WIDTH);
    const check = (kind) => {
      const c = runWorker({ kind, width: W, tokens }, { threads: T });
      return c.y ? relMaxDiff(c.y, ref) : c.error;
    };
    const s = {};
    s.ours = check('check-dense-ours');
    if (ort.ok) s.ort = check('check-dense-ort');
    if (blas.ok) {
      const b = runOpenblas(['ff', WIDTH, W, WIDTH, tokens, T, 1, 1, 1, 'check'], { threads: T });
      s.openblas = b.y ? relMaxDiff(b.y, ref) : b.error;
    }
    log(`sanity (max |y - ref| / max |ref|, dense ${W}, ${tokens} token(s)): ${Object.entries(s).map(([k, v]) => `${k} ${typeof v === 'number' ? v.toExponential(1) : v}`).join(', ')}`);
    for (const [k, v] of Object.entries(s)) {
      if (typeof v !== 'number' || !(v < 1e-3)) notes.push(`sanity check failed for ${k} at ${tokens} token(s) (${typeof v === 'number' ? v.toExponential(2) : v}): its dense times are not trustworthy`);
    }
    sanity[`tokens${tokens}`] = s;
  }
}

// --- the configurations ---------------------------------------------------------------------------------
// Token counts outer, implementations inner: implementations compared at one token count run close in time.
/** @type {any[]} */
const configs = [];
for (const tokens of tokensList) {
  if (args.only.includes('fff')) {
    for (const isa of isaInfo.supported.filter((i) => !args.isa || args.isa.includes(i))) {
      for (const strategy of ['per-token', 'batched', 'auto']) {
        configs.push({ family: 'fff', impl: `FFF 1x11 ${isa} ${strategy}`, isa, strategy, tokens, job: { kind: 'fff', isa, strategy, tokens, depth: DEPTH } });
      }
      // bf16 weight storage (opt-in; halves the weight traffic), at the best ISA with the automatic strategy.
      if (isa === isaInfo.best) {
        configs.push({ family: 'fff', impl: `FFF 1x11 ${isa} auto bf16`, isa, strategy: 'auto', tokens, job: { kind: 'fff', isa, strategy: 'auto', tokens, depth: DEPTH, weights: 'bf16' } });
      }
    }
  }
  if (args.only.includes('dense')) {
    for (const width of DENSE_WIDTHS) {
      configs.push({ family: 'dense', impl: `dense ${width} ours (${isaInfo.best})`, backend: 'ours', width, tokens, job: { kind: 'dense-ours', width, tokens } });
      if (blas.ok) configs.push({ family: 'dense', impl: `dense ${width} OpenBLAS`, backend: 'openblas', width, tokens, blasArgs: ['ff', WIDTH, width, WIDTH, tokens, T] });
      if (ort.ok) configs.push({ family: 'dense', impl: `dense ${width} ORT`, backend: 'ort', width, tokens, job: { kind: 'dense-ort', width, tokens } });
    }
  }
}
if (args.only.includes('gemm')) {
  for (const M of GEMM_M) {
    for (const s of GEMM_SHAPES) {
      configs.push({ family: 'gemm', impl: 'ours (Linear)', backend: 'ours', M, ...s, job: { kind: 'gemm-ours', M, N: s.N, K: s.K } });
      if (blas.ok) configs.push({ family: 'gemm', impl: 'OpenBLAS', backend: 'openblas', M, ...s, blasArgs: ['gemm', M, s.N, s.K, T] });
    }
  }
}

/** @type {any[]} */
const raw = configs.map(() => ({ timesMs: [], errors: [], bgBusy: [] }));
for (let round = 0; round < args.rounds; round++) {
  for (const [i, c] of configs.entries()) {
    const bg = await waitQuiet({ maxWaitMs: args.quietWaitS * 1000 });
    const r = c.job
      ? runWorker({ ...c.job, ...timing }, { threads: T })
      : runOpenblas([...c.blasArgs, timing.reps, timing.minRepMs, timing.warmupMs], { threads: T });
    if (r.openblas) machine.openblas = r.openblas;
    raw[i].bgBusy.push(bg);
    if (r.error) raw[i].errors.push(r.error);
    else {
      raw[i].timesMs.push(...r.timesMs);
      raw[i].inner = r.inner;
      raw[i].info = r.info;
    }
    const what = c.family === 'gemm' ? `GEMM ${c.impl} M=${c.M} N=${c.N} K=${c.K}` : `${c.impl} tokens=${c.tokens}`;
    const med = r.error ? null : summary(r.timesMs).median;
    const val = r.error
      ? `error: ${r.error}`
      : c.family === 'gemm'
        ? `${((2 * c.M * c.N * c.K) / med / 1e6).toFixed(1)} GFLOP/s`
        : `${fmtTime((med * 1000) / c.tokens)}/token`;
    const busy = bg === null ? '' : ` (background ${(100 * bg).toFixed(0)}% busy)`;
    log(`[${round * configs.length + i + 1}/${configs.length * args.rounds}] ${what}: ${val}${busy}`);
  }
}
/** @type {any[]} */
const results = configs.map((c, i) => {
  const { job, blasArgs, ...meta } = c;
  const r = raw[i];
  const res = { ...meta, bgBusy: r.bgBusy };
  if (r.timesMs.length === 0) return { ...res, error: r.errors[0] ?? 'no result' };
  if (r.errors.length) res.errors = r.errors;
  const perCall = summary(r.timesMs);
  Object.assign(res, { timesMs: r.timesMs, inner: r.inner, info: r.info, perCallMs: perCall });
  if (c.family === 'gemm') {
    const flop = 2 * c.M * c.N * c.K;
    res.gflops = { median: flop / perCall.median / 1e6, min: flop / perCall.max / 1e6, max: flop / perCall.min / 1e6 };
  } else {
    const us = (ms) => (ms * 1000) / c.tokens;
    res.perTokenUs = { median: us(perCall.median), min: us(perCall.min), max: us(perCall.max) };
    const flop = (c.family === 'fff' ? FFF_FLOP_PER_TOKEN : denseFlopPerToken(c.width)) * c.tokens;
    res.gflops = { median: flop / perCall.median / 1e6 };
  }
  return res;
});

// --- tables ---------------------------------------------------------------------------------------------
const layerRes = results.filter((r) => r.family !== 'gemm');
const impls = [...new Set(layerRes.map((r) => r.impl))];
const at = (impl, tokens) => layerRes.find((r) => r.impl === impl && r.tokens === tokens);
const cell = (r, f) => (!r ? '' : r.error ? 'n/a' : f(r));
if (layerRes.length) {
  printTable(
    [['time per token (median [min-max])', ...tokensList.map((t) => `${t} tok`)], ...impls.map((impl) => [impl, ...tokensList.map((t) => cell(at(impl, t), (r) => `${fmtTime(r.perTokenUs.median)} [${fmtTime(r.perTokenUs.min).replace(' us', '')}-${fmtTime(r.perTokenUs.max)}]`))])],
    { title: `Layer: time per token, ${T} threads (FFF 1x11: I=O=768, D=11, K=1; dense: 768 -> W -> 768, bias + exact GELU)` },
  );
  printTable(
    [['GFLOP/s (median)', ...tokensList.map((t) => `${t} tok`)], ...impls.map((impl) => [impl, ...tokensList.map((t) => cell(at(impl, t), (r) => r.gflops.median.toFixed(1)))])],
    { title: `GFLOP/s: dense 2*2*768*W per token; FFF the work it really does, 2*(768+768)*12 per token` },
  );
}
// FFF vs the fastest dense of equal width (4095) at each token count.
const ratios = [];
const fastestDense = (width, tokens) =>
  layerRes.filter((r) => r.family === 'dense' && r.width === width && r.tokens === tokens && !r.error).sort((a, b) => a.perTokenUs.median - b.perTokenUs.median)[0];
const fffImpls = impls.filter((i) => i.startsWith('FFF'));
if (fffImpls.length && layerRes.some((r) => r.family === 'dense')) {
  const rows = [['FFF speed-up vs fastest dense 4095', ...tokensList.map((t) => `${t} tok`)]];
  rows.push(['(fastest dense 4095)', ...tokensList.map((t) => fastestDense(4095, t)?.backend ?? '-')]);
  for (const impl of fffImpls) {
    rows.push([
      impl,
      ...tokensList.map((t) => {
        const f = at(impl, t);
        const d = fastestDense(4095, t);
        if (!f || f.error || !d) return 'n/a';
        const ratio = d.perTokenUs.median / f.perTokenUs.median;
        ratios.push({ impl, tokens: t, vs: d.impl, ratio });
        return `${ratio.toFixed(1)}x`;
      }),
    ]);
  }
  printTable(rows, { title: 'FFF 1x11 vs the fastest dense FF of equal width (4095) in this run (targets: >= 200x at 2048 tokens, >= 100x at 128)' });
}
const gemmRes = results.filter((r) => r.family === 'gemm');
const gemmRows = [];
if (gemmRes.length) {
  const rows = [['GEMM y = x W^T', 'M', 'N', 'K', 'ours GFLOP/s', 'OpenBLAS GFLOP/s', 'ours / OpenBLAS']];
  for (const M of GEMM_M) {
    for (const s of GEMM_SHAPES) {
      const o = gemmRes.find((r) => r.backend === 'ours' && r.M === M && r.N === s.N && r.K === s.K);
      const b = gemmRes.find((r) => r.backend === 'openblas' && r.M === M && r.N === s.N && r.K === s.K);
      const og = o && !o.error ? o.gflops.median : null;
      const bg = b && !b.error ? b.gflops.median : null;
      gemmRows.push({ shape: s.name, M, N: s.N, K: s.K, ours: og, openblas: bg, ratio: og && bg ? og / bg : null });
      rows.push([s.name, M, s.N, s.K, og ? og.toFixed(1) : 'n/a', bg ? bg.toFixed(1) : 'n/a', og && bg ? `${((100 * og) / bg).toFixed(0)}%` : 'n/a']);
    }
  }
  printTable(rows, { title: `GEMM at BERT shapes, ${T} threads (target: ours >= 90% of OpenBLAS)` });
}

// --- files ----------------------------------------------------------------------------------------------
const series = impls.map((impl) => ({
  name: impl,
  points: layerRes.filter((r) => r.impl === impl && !r.error).map((r) => [r.tokens, r.perTokenUs.median, r.perTokenUs.min, r.perTokenUs.max]),
  dash: impl.startsWith('FFF') ? '' : '6 3',
}));
const svg = logLogChart({
  title: 'FFF 1x11 vs dense feedforward (768 -> W -> 768): time per token',
  subtitle: `${machine.cpu}, ${T} threads, ISA ${isaInfo.supported.join('/')}, ${machine.date.slice(0, 16)}Z, commit ${machine.commit?.slice(0, 8) ?? '?'}; median, bars min-max`,
  xLabel: 'tokens per call',
  yLabel: 'time per token (us)',
  series,
});
machine.loadavgEnd = os.loadavg();
const elapsedS = (Date.now() - started) / 1000;
const files = writeResults('layer', { machine, args, notes, sanity, timing, results, ratios, gemm: gemmRows, elapsedS }, { 'layer.svg': svg });
for (const n of notes) console.log(`note: ${n}`);
console.log(`\nload average at start ${machine.loadavg.map((x) => x.toFixed(2)).join(' ')}, at end ${machine.loadavgEnd.map((x) => x.toFixed(2)).join(' ')} (other work on the machine skews absolute times; ratios are side by side)`);
console.log(`wrote ${files.map((f) => path.relative(repoRoot, f)).join(', ')} in ${elapsedS.toFixed(0)} s`);
