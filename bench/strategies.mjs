#!/usr/bin/env node
// Same-process A/B of the FFF walks (npm run bench:strategies): one UltraFastBERT-1x11 layer (I = O = 768, D = 11,
// K = 1) per weight type, timed round-robin with strategy 'per-token', 'batched' and 'auto' in turn, so the
// machine's drift falls on all three alike. bench/layer.mjs runs each configuration in a fresh process, and on a
// shared or lent machine those differ by 20-50% (16-core Xeon, 8 threads, 128 tokens: per-token 0.38 and 0.57 us
// per token in two processes), too much to tell whether `auto` (fff_tune.h: it times both walks and takes the
// faster) finds the faster walk; this says, per thread count and call size, auto's time over the faster fixed
// walk's of the same rounds. Inputs stream as in bench/layer.mjs (each call the next tokens of 2048 distinct ones).
//
//   node bench/strategies.mjs [--threads 1,2] [--tokens 128,512,2048] [--weights f32,bf16-dot] [--rounds 8]
//                             [--min-round-ms 40] [--isa <best>] [--inputs stream|repeat] [--out bench/results]
import * as os from 'node:os';
import * as path from 'node:path';
import { fffInputs, fffWeights, WIDTH } from './lib/layer-data.mjs';
import { machineInfo } from './lib/machine.mjs';
import { repoRoot } from './lib/paths.mjs';
import { parseArgs, printTable, writeResults } from './lib/report.mjs';
import { loadFffbert } from './lib/setup.mjs';
import { summary } from './lib/timing.mjs';

const args = parseArgs(process.argv.slice(2), {
  threads: { type: 'list', default: [String(Math.min(2, os.cpus().length))] },
  tokens: { type: 'list', default: ['128', '512', '2048'] },
  weights: { type: 'list', default: ['f32', 'bf16-dot'] },
  rounds: { type: 'int', default: 8 },
  minRoundMs: { type: 'int', default: 40 },
  isa: { type: 'string', default: null },
  inputs: { type: 'string', default: 'stream' },
  out: { type: 'string', default: null },
});
if (!['stream', 'repeat'].includes(args.inputs)) throw new Error(`--inputs: stream or repeat, not ${args.inputs}`);
const STRATEGIES = ['per-token', 'batched', 'auto'];
const fff = loadFffbert();
if (args.isa) fff.setIsa(args.isa);
const machine = machineInfo({ isa: fff.isa(), nativeOrigin: fff.nativeOrigin });
const log = (m) => process.stderr.write(`${m}\n`);
log(`FFF walks round-robin: ${machine.cpu}, ISA ${fff.isa().active}, inputs ${args.inputs}`);

const now = () => Number(process.hrtime.bigint()) / 1e6;
const results = [];
for (const weights of args.weights) {
  const layer = fff.FastFeedforward.fromTorch({ ...fffWeights(WIDTH, WIDTH, 11, 1), weights });
  for (const threads of args.threads.map(Number)) {
    fff.setThreads(threads);
    for (const tokens of args.tokens.map(Number)) {
      const xs = fffInputs(tokens, args.inputs, fff.alignedFloat32Array);
      const out = fff.alignedFloat32Array(tokens * WIDTH);
      const call = (strategy) => layer.forwardSync(xs.next(), tokens, { strategy, out });
      // Warm-up (and auto's first timings): each strategy for about a round; then calls per round per strategy.
      const inner = {};
      for (const s of STRATEGIES) {
        const t0 = now();
        let n = 0;
        while (n < 4 || now() - t0 < args.minRoundMs) {
          call(s);
          n++;
        }
        inner[s] = Math.max(2, Math.ceil((args.minRoundMs * n) / (now() - t0)));
      }
      const perToken = Object.fromEntries(STRATEGIES.map((s) => [s, []]));
      for (let r = 0; r < args.rounds; r++) {
        const order = r % 2 ? [...STRATEGIES].reverse() : STRATEGIES;
        for (const s of order) {
          const t0 = now();
          for (let i = 0; i < inner[s]; i++) call(s);
          perToken[s].push(((now() - t0) * 1000) / inner[s] / tokens);
        }
      }
      // Per round: auto over the faster of the two fixed walks of that round; the median of those ratios.
      const ratios = perToken.auto.map((a, r) => a / Math.min(perToken['per-token'][r], perToken.batched[r]));
      const row = {
        weights,
        threads,
        tokens,
        usPerToken: Object.fromEntries(STRATEGIES.map((s) => [s, summary(perToken[s])])),
        autoOverFaster: summary(ratios),
      };
      results.push(row);
      log(
        `${weights} ${threads} thr ${tokens} tok: ${STRATEGIES.map((s) => `${s} ${row.usPerToken[s].median.toFixed(3)}`).join(', ')} us/token; auto / faster ${row.autoOverFaster.median.toFixed(3)}`,
      );
    }
  }
  layer.dispose();
}

printTable(
  [
    ['weights, threads, tokens', ...STRATEGIES.map((s) => `${s} (us/token)`), 'auto / faster [min-max]'],
    ...results.map((r) => [
      `${r.weights}, ${r.threads}, ${r.tokens}`,
      ...STRATEGIES.map((s) => r.usPerToken[s].median.toFixed(3)),
      `${r.autoOverFaster.median.toFixed(3)} [${r.autoOverFaster.min.toFixed(2)}-${r.autoOverFaster.max.toFixed(2)}]`,
    ]),
  ],
  {
    title: `FFF 1x11 walks, same process, ${args.rounds} rounds round-robin (medians; auto over the faster fixed walk of each round)`,
  },
);
machine.loadavgEnd = os.loadavg();
const files = writeResults('strategies', { machine, args, results }, {}, args.out ?? undefined);
console.log(
  `\nload average at start ${machine.loadavg.map((x) => x.toFixed(2)).join(' ')}, at end ${machine.loadavgEnd.map((x) => x.toFixed(2)).join(' ')}; wrote ${files.map((f) => path.relative(repoRoot, f)).join(', ')}`,
);
