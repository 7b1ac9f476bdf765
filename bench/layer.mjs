#!/usr/bin/env node
// Layer benchmark (npm run bench): the UltraFastBERT 1x11 FFF layer (I=O=768, D=11, K=1) for every ISA this
// machine runs and every strategy, against dense feedforwards 768 -> W -> 768 (W = 4095, 3072; bias + exact
// GELU) on every dense backend: our SGEMM (DenseFeedforward), OpenBLAS (bench/native/openblas_ff.c) and
// onnxruntime-node (an ONNX graph built here). Then our SGEMM (Linear, y = x W^T) against cblas_sgemm at BERT
// shapes. Same threads everywhere, warm-up, repetitions, median and min-max, each configuration in a fresh
// process. The FFF's limit on this machine (a roofline from probes measured here: lib/limit.mjs) is printed
// beside it. Results: tables here, layer.json, layer.svg (and layer-threads.svg for a thread sweep) in
// bench/results/ (source checkout) or ./fffbert-bench/ (installed package), or --out DIR.
//
//   node bench/layer.mjs [--quick] [--full] [--reps 7] [--threads 1,2,4] [--tokens 1,16,128] [--out DIR]
//                        [--only fff,dense,gemm] [--no-ort] [--no-openblas] [--no-install] [--no-limit]
//                        [--min-rep-ms 40] [--warmup-ms 300] [--rounds 1] [--quiet-wait-s 0] [--quiet]
//                        [--isa scalar,avx2]  (FFF ISAs; default: all supported)
// --quick: a result in well under a minute on 2 cores: 1, 128 and 2048 tokens, the FFF at the best ISA (auto;
// f32, bf16, bf16-dot) against the dense 4095 layers, 3 short repetitions, no GEMM table, no installs.
// --threads takes a list: every configuration runs at each count (a thread sweep: table and plot of time per
// token against threads). A progress bar goes to stderr when it is a terminal (not with --quiet).
// --rounds N runs the whole list N times, round-robin, and pools the repetitions (spreads the noise of a shared
// machine over every implementation); --quiet-wait-s S waits up to S seconds before each configuration for
// other work to leave the cores (< 25% busy). The background load seen before each run is recorded.
import * as os from 'node:os';
import * as path from 'node:path';
import { runOpenblas, runWorker, waitQuiet } from './lib/jobs.mjs';
import { denseReference, denseWeights, relMaxDiff, STREAM_TOKENS, tokensInput, WIDTH } from './lib/layer-data.mjs';
import { cacheSizes, fffLimit, layerBytes } from './lib/limit.mjs';
import { machineInfo } from './lib/machine.mjs';
import { resultsDir, sourceTree } from './lib/paths.mjs';
import { createProgress } from './lib/progress.mjs';
import { parseArgs, printTable, writeResults } from './lib/report.mjs';
import { ensureOpenblas, ensureOrt, loadFffbert } from './lib/setup.mjs';
import { logLogChart } from './lib/svg.mjs';
import { fmtTime, summary } from './lib/timing.mjs';

const args = parseArgs(process.argv.slice(2), {
  quick: { type: 'bool', default: false },
  full: { type: 'bool', default: false },
  reps: { type: 'int', default: null },
  threads: { type: 'list', default: [String(os.cpus().length)] },
  tokens: { type: 'list', default: null },
  only: { type: 'list', default: ['fff', 'dense', 'gemm'] },
  ort: { type: 'bool', default: true },
  openblas: { type: 'bool', default: true },
  install: { type: 'bool', default: sourceTree },
  limit: { type: 'bool', default: true },
  out: { type: 'string', default: null },
  quiet: { type: 'bool', default: false },
  minRepMs: { type: 'int', default: null },
  warmupMs: { type: 'int', default: null },
  rounds: { type: 'int', default: 1 },
  isa: { type: 'list', default: null },
  quietWaitS: { type: 'int', default: 0 },
  inputs: { type: 'string', default: 'stream' },
});
if (args.inputs !== 'stream' && args.inputs !== 'repeat')
  throw new Error(`--inputs expects stream or repeat, got ${args.inputs}`);

const DEPTH = 11;
const FFF_FLOP_PER_TOKEN = 2 * (WIDTH + WIDTH) * (DEPTH + 1); // the 12 visited nodes: dot + axpy each
const DENSE_WIDTHS = [4095, 3072];
const denseFlopPerToken = (w) => 2 * 2 * WIDTH * w;
const tokensList = (
  args.tokens ??
  (args.quick ? [1, 128, 2048] : args.full ? Array.from({ length: 13 }, (_, i) => 2 ** i) : [1, 16, 128, 512, 2048])
).map(Number);
const only = args.quick && !process.argv.some((a) => a.startsWith('--only')) ? ['fff', 'dense'] : args.only;
const threadList = args.threads.map(Number);
if (threadList.some((t) => !Number.isInteger(t) || t < 1 || t > 1024))
  throw new Error(`--threads expects counts in 1..1024, got ${args.threads.join(',')}`);
const outDir = args.out ? path.resolve(args.out) : resultsDir;
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
const timing = {
  reps: args.reps ?? (args.quick ? 3 : 7),
  minRepMs: args.minRepMs ?? (args.quick ? 20 : 40),
  warmupMs: args.warmupMs ?? (args.quick ? 100 : 300),
};
const T = Math.max(...threadList);
const log = (m) => {
  if (!args.quiet) process.stderr.write(`${m}\n`);
};
const started = Date.now();

// --- setup ------------------------------------------------------------------------------------------------
const fff = loadFffbert();
const isaInfo = fff.isa();
const notes = [];
const ort = args.ort
  ? ensureOrt({ install: args.install && !args.quick })
  : { ok: false, note: 'ORT peer disabled (--no-ort)' };
const blas = args.openblas
  ? ensureOpenblas({ install: args.install && !args.quick })
  : { ok: false, note: 'OpenBLAS peer disabled (--no-openblas)' };
for (const p of [ort, blas]) if (!p.ok) notes.push(p.note);
notes.push(
  args.inputs === 'stream'
    ? `FFF inputs: each call takes the next tokens of ${STREAM_TOKENS} distinct ones (a stream of different inputs, as in a service); --inputs repeat reuses one x, whose rows then stay hot in the caches`
    : 'FFF inputs: one x repeated every call (--inputs repeat): the rows its tokens visit stay hot in the caches and the branch predictor learns their routes, which flatters small calls',
);
if (threadList.some((t) => t > os.cpus().length))
  notes.push(`threads (${threadList.join(', ')}) exceed the core count (${os.cpus().length})`);
else if (threadList.length === 1 && T !== os.cpus().length)
  notes.push(`threads (${T}) differ from the core count (${os.cpus().length})`);
notes.push(`dense ours runs at the best ISA only (${isaInfo.best}); the FFF runs at each supported ISA`);
if (ort.ok)
  notes.push(
    'ORT times include its JavaScript run() overhead (a Promise per call and a new output tensor); ours use forwardSync with a reused output',
  );
if (blas.ok)
  notes.push(
    'OpenBLAS is timed inside its C program; for GEMM our Linear packs W once at construction, cblas_sgemm reads W unpacked at every call',
  );
const machine = machineInfo({
  isa: isaInfo,
  nativeOrigin: fff.nativeOrigin,
  threads: threadList,
  onnxruntime: ort.ok ? ort.version : null,
  openblas: null,
  caches: cacheSizes(),
});
log(
  `fffbert layer benchmark: ${machine.cpu}, ${machine.cores} cores, ISA ${isaInfo.active} (supported ${isaInfo.supported.join(', ')}), ${threadList.join(', ')} threads, Node ${machine.node}, commit ${machine.commit?.slice(0, 10) ?? '-'}${machine.worktreeDirty ? ' (dirty)' : ''}, addon ${machine.nativeOrigin}`,
);
for (const n of notes) log(`note: ${n}`);

// --- sanity: every dense backend against a float64 reference, 1 and 3 tokens, W = 4095 -----------------------
const sanity = {};
if (only.includes('dense') && !args.quick) {
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
    log(
      `sanity (max |y - ref| / max |ref|, dense ${W}, ${tokens} token(s)): ${Object.entries(s)
        .map(([k, v]) => `${k} ${typeof v === 'number' ? v.toExponential(1) : v}`)
        .join(', ')}`,
    );
    for (const [k, v] of Object.entries(s)) {
      if (typeof v !== 'number' || !(v < 1e-3))
        notes.push(
          `sanity check failed for ${k} at ${tokens} token(s) (${typeof v === 'number' ? v.toExponential(2) : v}): its dense times are not trustworthy`,
        );
    }
    sanity[`tokens${tokens}`] = s;
  }
}

// --- the configurations ---------------------------------------------------------------------------------
// Thread counts outer, then token counts, implementations inner: implementations compared at one token count
// run close in time. Each thread count starts with its roofline probes (lib/limit.mjs).
const FFF_DTYPES = ['f32', 'bf16', 'bf16-dot'];
/** @type {any[]} */
const configs = [];
for (const threads of threadList) {
  if (args.limit && only.includes('fff'))
    configs.push({
      family: 'probe',
      impl: 'limit probes',
      threads,
      job: { kind: 'probe', dtypes: FFF_DTYPES, tokens: tokensList, inputs: args.inputs },
    });
  for (const tokens of tokensList) {
    if (only.includes('fff')) {
      for (const isa of isaInfo.supported.filter((i) => !args.isa || args.isa.includes(i))) {
        if (args.quick && isa !== isaInfo.best) continue;
        for (const strategy of args.quick ? ['auto'] : ['per-token', 'batched', 'auto']) {
          configs.push({
            family: 'fff',
            impl: `FFF 1x11 ${isa} ${strategy}`,
            isa,
            strategy,
            dtype: 'f32',
            threads,
            tokens,
            job: { kind: 'fff', isa, strategy, tokens, depth: DEPTH, inputs: args.inputs },
          });
        }
        // bf16 weights (opt-in; half the weight traffic) and bf16-dot (bf16 x for the dots too: the CPU's bf16
        // dot products where it has them), at the best ISA with the automatic strategy.
        if (isa === isaInfo.best) {
          for (const weights of ['bf16', 'bf16-dot']) {
            configs.push({
              family: 'fff',
              impl: `FFF 1x11 ${isa} auto ${weights}`,
              isa,
              strategy: 'auto',
              dtype: weights,
              threads,
              tokens,
              job: { kind: 'fff', isa, strategy: 'auto', tokens, depth: DEPTH, weights, inputs: args.inputs },
            });
          }
        }
      }
    }
    if (only.includes('dense')) {
      for (const width of args.quick ? [4095] : DENSE_WIDTHS) {
        configs.push({
          family: 'dense',
          impl: `dense ${width} ours (${isaInfo.best})`,
          backend: 'ours',
          width,
          threads,
          tokens,
          job: { kind: 'dense-ours', width, tokens },
        });
        if (blas.ok)
          configs.push({
            family: 'dense',
            impl: `dense ${width} OpenBLAS`,
            backend: 'openblas',
            width,
            threads,
            tokens,
            blasArgs: ['ff', WIDTH, width, WIDTH, tokens, threads],
          });
        if (ort.ok)
          configs.push({
            family: 'dense',
            impl: `dense ${width} ORT`,
            backend: 'ort',
            width,
            threads,
            tokens,
            job: { kind: 'dense-ort', width, tokens },
          });
      }
    }
  }
  if (only.includes('gemm')) {
    for (const M of GEMM_M) {
      for (const s of GEMM_SHAPES) {
        configs.push({
          family: 'gemm',
          impl: 'ours (Linear)',
          backend: 'ours',
          threads,
          M,
          ...s,
          job: { kind: 'gemm-ours', M, N: s.N, K: s.K },
        });
        if (blas.ok)
          configs.push({
            family: 'gemm',
            impl: 'OpenBLAS',
            backend: 'openblas',
            threads,
            M,
            ...s,
            blasArgs: ['gemm', M, s.N, s.K, threads],
          });
      }
    }
  }
}

/** @type {any[]} */
const raw = configs.map(() => ({ timesMs: [], errors: [], bgBusy: [] }));
const probes = {}; // threads -> lib/limit.mjs measureProbes() of that thread count
const progress = createProgress({
  total: configs.length * args.rounds,
  enabled: !args.quiet && process.stderr.isTTY === true,
});
for (let round = 0; round < args.rounds; round++) {
  for (const [i, c] of configs.entries()) {
    const what =
      c.family === 'gemm'
        ? `GEMM ${c.impl} M=${c.M} N=${c.N} K=${c.K}`
        : c.family === 'probe'
          ? c.impl
          : `${c.impl}, ${c.tokens} tokens`;
    progress.start(`${what}, ${c.threads} threads`);
    const bg = await waitQuiet({ maxWaitMs: args.quietWaitS * 1000 });
    const r = c.job
      ? runWorker({ ...c.job, ...timing }, { threads: c.threads })
      : runOpenblas([...c.blasArgs, timing.reps, timing.minRepMs, timing.warmupMs], { threads: c.threads });
    if (r.openblas) machine.openblas = r.openblas;
    raw[i].bgBusy.push(bg);
    if (c.family === 'probe') {
      if (r.error) notes.push(`limit probes at ${c.threads} threads failed: ${r.error}`);
      else if (!probes[c.threads]) probes[c.threads] = r.probes;
    } else if (r.error) {
      raw[i].errors.push(r.error);
    } else {
      raw[i].timesMs.push(...r.timesMs);
      raw[i].inner = r.inner;
      raw[i].info = r.info;
    }
    progress.tick(`${what}, ${c.threads} threads`);
  }
}
progress.end();
/** @type {any[]} */
const results = configs.flatMap((c, i) => {
  if (c.family === 'probe') return [];
  const { job, blasArgs, ...meta } = c;
  const r = raw[i];
  const res = { ...meta, bgBusy: r.bgBusy };
  if (r.timesMs.length === 0) return [{ ...res, error: r.errors[0] ?? 'no result' }];
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
  return [res];
});

// --- tables, one set per thread count ---------------------------------------------------------------------
const layerRes = results.filter((r) => r.family !== 'gemm');
const impls = [...new Set(layerRes.map((r) => r.impl))];
const at = (impl, tokens, threads) =>
  layerRes.find((r) => r.impl === impl && r.tokens === tokens && r.threads === threads);
const cell = (r, f) => (!r ? '' : r.error ? 'n/a' : f(r));
const ratios = [];
const limits = [];
const fastestDense = (width, tokens, threads) =>
  layerRes
    .filter(
      (r) => r.family === 'dense' && r.width === width && r.tokens === tokens && r.threads === threads && !r.error,
    )
    .sort((a, b) => a.perTokenUs.median - b.perTokenUs.median)[0];
const fffImpls = impls.filter((i) => i.startsWith('FFF'));
const gemmRows = [];
for (const threads of threadList) {
  if (layerRes.length) {
    printTable(
      [
        ['time per token (median [min-max])', ...tokensList.map((t) => `${t} tok`)],
        ...impls.map((impl) => [
          impl,
          ...tokensList.map((t) =>
            cell(
              at(impl, t, threads),
              (r) =>
                `${fmtTime(r.perTokenUs.median)} [${fmtTime(r.perTokenUs.min).replace(' us', '')}-${fmtTime(r.perTokenUs.max)}]`,
            ),
          ),
        ]),
      ],
      {
        title: `Layer: time per token, ${threads} threads (FFF 1x11: I=O=768, D=11, K=1; dense: 768 -> W -> 768, bias + exact GELU)`,
      },
    );
  }
  if (!args.quick && layerRes.length) {
    printTable(
      [
        ['GFLOP/s (median)', ...tokensList.map((t) => `${t} tok`)],
        ...impls.map((impl) => [
          impl,
          ...tokensList.map((t) => cell(at(impl, t, threads), (r) => r.gflops.median.toFixed(1))),
        ]),
      ],
      {
        title: `GFLOP/s, ${threads} threads: dense 2*2*768*W per token; FFF the work it really does, 2*(768+768)*12 per token`,
      },
    );
  }
  // The limit (lib/limit.mjs) of each FFF weight type beside the best FFF measured of that type.
  const p = probes[threads];
  if (p) {
    const rows = [['FFF limit on this machine (roofline)', ...tokensList.map((t) => `${t} tok`)]];
    for (const dtype of FFF_DTYPES) {
      const measured = fffImpls.filter((impl) => layerRes.some((r) => r.impl === impl && r.dtype === dtype));
      if (!measured.length) continue;
      const lim = tokensList.map((t) => fffLimit(p, dtype, t, { inputs: args.inputs }));
      const best = tokensList.map(
        (t) =>
          measured
            .map((impl) => at(impl, t, threads))
            .filter((r) => r && !r.error)
            .sort((a, b) => a.perTokenUs.median - b.perTokenUs.median)[0],
      );
      rows.push([`limit ${dtype} (bound)`, ...lim.map((l) => `${fmtTime(l.us)} (${l.bound})`)]);
      rows.push([`best FFF ${dtype} measured`, ...best.map((b) => (b ? fmtTime(b.perTokenUs.median) : 'n/a'))]);
      rows.push([
        `% of the limit`,
        ...tokensList.map((_t, i) =>
          best[i] ? `${((100 * lim[i].us) / best[i].perTokenUs.median).toFixed(0)}%` : 'n/a',
        ),
      ]);
      tokensList.forEach((t, i) =>
        limits.push({
          threads,
          dtype,
          tokens: t,
          limit: lim[i],
          bestImpl: best[i]?.impl ?? null,
          measuredUs: best[i]?.perTokenUs.median ?? null,
          fractionOfLimit: best[i] ? lim[i].us / best[i].perTokenUs.median : null,
        }),
      );
    }
    const d = p.dtypes.f32;
    printTable(rows, {
      title: `FFF limit, ${threads} threads, from probes measured now with our kernels (best of 5): dot f32 ${(d.dot / 1e6).toFixed(1)} M/s, bf16-dot ${(p.dtypes['bf16-dot'].dot / 1e6).toFixed(1)} M/s; gather ${(d.gather / 1e6).toFixed(1)} M rows/s; read ${(p.readL2 / 1e9).toFixed(0)} GB/s at ${(p.l2Bytes / 2 ** 21).toFixed(1)} MB per thread (L2), ${(d.readLayer / 1e9).toFixed(0)} GB/s over the 1x11 f32 weights (${(layerBytes('f32') / 1e6).toFixed(0)} MB), ${(p.dtypes.bf16.readLayer / 1e9).toFixed(0)} GB/s over bf16 (${(layerBytes('bf16') / 1e6).toFixed(0)} MB)${args.inputs === 'stream' ? `; streamed input: rows below the L2 levels at the read rate over the layer + the stream's x and y (f32 ${(Math.min(...Object.values(d.readStream ?? {})) / 1e9).toFixed(0)} GB/s)` : ''}; y written past the caches (no read for ownership) at ${
        Object.entries(d.streamsY ?? {})
          .filter(([, v]) => v)
          .map(([t]) => t)
          .join(', ') || 'no'
      } tokens`,
    });
  }
  // FFF vs the fastest dense of equal width (4095) at each token count.
  if (fffImpls.length && layerRes.some((r) => r.family === 'dense')) {
    const rows = [['FFF speed-up vs fastest dense 4095', ...tokensList.map((t) => `${t} tok`)]];
    rows.push(['(fastest dense 4095)', ...tokensList.map((t) => fastestDense(4095, t, threads)?.backend ?? '-')]);
    for (const impl of fffImpls) {
      rows.push([
        impl,
        ...tokensList.map((t) => {
          const f = at(impl, t, threads);
          const dn = fastestDense(4095, t, threads);
          if (!f || f.error || !dn) return 'n/a';
          const ratio = dn.perTokenUs.median / f.perTokenUs.median;
          ratios.push({ impl, threads, tokens: t, vs: dn.impl, ratio });
          return `${ratio.toFixed(1)}x`;
        }),
      ]);
    }
    printTable(rows, {
      title: `FFF 1x11 vs the fastest dense FF of equal width (4095) in this run, ${threads} threads (targets, 2 threads: fp32 >= 100x and bf16 >= 150x at 2048 tokens, bf16 >= 100x at 128)`,
    });
  }
  const gemmRes = results.filter((r) => r.family === 'gemm' && r.threads === threads);
  if (gemmRes.length) {
    const rows = [['GEMM y = x W^T', 'M', 'N', 'K', 'ours GFLOP/s', 'OpenBLAS GFLOP/s', 'ours / OpenBLAS']];
    for (const M of GEMM_M) {
      for (const s of GEMM_SHAPES) {
        const o = gemmRes.find((r) => r.backend === 'ours' && r.M === M && r.N === s.N && r.K === s.K);
        const b = gemmRes.find((r) => r.backend === 'openblas' && r.M === M && r.N === s.N && r.K === s.K);
        const og = o && !o.error ? o.gflops.median : null;
        const bg = b && !b.error ? b.gflops.median : null;
        gemmRows.push({
          threads,
          shape: s.name,
          M,
          N: s.N,
          K: s.K,
          ours: og,
          openblas: bg,
          ratio: og && bg ? og / bg : null,
        });
        rows.push([
          s.name,
          M,
          s.N,
          s.K,
          og ? og.toFixed(1) : 'n/a',
          bg ? bg.toFixed(1) : 'n/a',
          og && bg ? `${((100 * og) / bg).toFixed(0)}%` : 'n/a',
        ]);
      }
    }
    printTable(rows, { title: `GEMM at BERT shapes, ${threads} threads (target: ours >= 90% of OpenBLAS)` });
  }
}
// Thread sweep: time per token against threads, per implementation and token count.
if (threadList.length > 1 && layerRes.length) {
  printTable(
    [
      ['time per token (median) vs threads', ...threadList.map((t) => `${t} thr`)],
      ...impls.flatMap((impl) =>
        tokensList.map((tok) => [
          `${impl}, ${tok} tok`,
          ...threadList.map((th) => cell(at(impl, tok, th), (r) => fmtTime(r.perTokenUs.median))),
        ]),
      ),
    ],
    { title: 'Thread sweep' },
  );
}

// --- files ----------------------------------------------------------------------------------------------
const subtitle = (threads) =>
  `${machine.cpu}, ${threads} threads, ISA ${isaInfo.supported.join('/')}, ${machine.date.slice(0, 16)}Z, commit ${machine.commit?.slice(0, 8) ?? '-'}; median, bars min-max`;
const extra = {
  'layer.svg': logLogChart({
    title: 'FFF 1x11 vs dense feedforward (768 -> W -> 768): time per token',
    subtitle: subtitle(T),
    xLabel: 'tokens per call',
    yLabel: 'time per token (us)',
    series: impls.map((impl) => ({
      name: impl,
      points: layerRes
        .filter((r) => r.impl === impl && r.threads === T && !r.error)
        .map((r) => [r.tokens, r.perTokenUs.median, r.perTokenUs.min, r.perTokenUs.max]),
      dash: impl.startsWith('FFF') ? '' : '6 3',
    })),
  }),
};
if (threadList.length > 1) {
  const sweepTokens = tokensList.filter((t) => t >= 128);
  extra['layer-threads.svg'] = logLogChart({
    title: 'FFF 1x11 vs dense feedforward: time per token against threads',
    subtitle: subtitle(threadList.join('/')),
    xLabel: 'threads',
    yLabel: 'time per token (us)',
    series: impls.flatMap((impl) =>
      (sweepTokens.length ? sweepTokens : tokensList).map((tok) => ({
        name: `${impl}, ${tok} tok`,
        points: layerRes
          .filter((r) => r.impl === impl && r.tokens === tok && !r.error)
          .map((r) => [r.threads, r.perTokenUs.median, r.perTokenUs.min, r.perTokenUs.max]),
        dash: impl.startsWith('FFF') ? '' : '6 3',
      })),
    ),
  });
}
machine.loadavgEnd = os.loadavg();
const elapsedS = (Date.now() - started) / 1000;
const files = writeResults(
  'layer',
  { machine, args, notes, sanity, timing, probes, limits, results, ratios, gemm: gemmRows, elapsedS },
  extra,
  outDir,
);
for (const n of notes) console.log(`note: ${n}`);
console.log(
  `\nload average at start ${machine.loadavg.map((x) => x.toFixed(2)).join(' ')}, at end ${machine.loadavgEnd.map((x) => x.toFixed(2)).join(' ')} (other work on the machine skews absolute times; ratios are side by side)`,
);
console.log(`wrote ${files.map((f) => path.relative(process.cwd(), f) || f).join(', ')} in ${elapsedS.toFixed(0)} s`);
