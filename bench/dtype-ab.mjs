#!/usr/bin/env node
// Same-process A/B of our encoder's dense dtypes (npm run bench:dtype): the UltraFastBERT-1x11-long-shaped
// FFF model of bench:e2e built once per dtype in this process, then timed round-robin (fp32, int8, bf16, fp32,
// ...), so background load on a shared machine falls on every dtype alike. Each round times `inner` forwards
// per dtype; the ratios are of the per-round medians. bench:e2e (a fresh process per configuration, with ORT)
// gives the absolute figures; this gives the dtype ratios when the machine is busy.
//
//   node bench/dtype-ab.mjs [--rounds 9] [--threads <cores>] [--shapes 1x16,8x128] [--dtypes fp32,int8,bf16]
//                           [--ffn fff|dense] [--width 4095]
import * as os from 'node:os';
import * as path from 'node:path';
import { crammedConfig, crammedInputs, randomTensorSource } from './lib/crammed.mjs';
import { machineInfo } from './lib/machine.mjs';
import { repoRoot } from './lib/paths.mjs';
import { parseArgs, printTable, writeResults } from './lib/report.mjs';
import { loadFffbert } from './lib/setup.mjs';
import { summary } from './lib/timing.mjs';

const args = parseArgs(process.argv.slice(2), {
  rounds: { type: 'int', default: 9 },
  threads: { type: 'int', default: os.cpus().length },
  shapes: { type: 'list', default: ['1x16', '8x128'] },
  dtypes: { type: 'list', default: ['fp32', 'int8', 'bf16'] },
  ffn: { type: 'string', default: 'fff' },
  width: { type: 'int', default: 4095 },
  minRoundMs: { type: 'int', default: 200 },
});
const fff = loadFffbert();
fff.setThreads(args.threads);
const cfg = crammedConfig({ ffn: args.ffn, width: args.width });
const machine = machineInfo({ isa: fff.isa(), nativeOrigin: fff.nativeOrigin, threads: args.threads });
const log = (m) => process.stderr.write(`${m}\n`);
log(
  `dtype A/B: ${machine.cpu}, ISA ${machine.isa.active} (int8 ${machine.isa.int8 ?? '-'}, bf16 ${machine.isa.bf16 ?? '-'}), ${args.threads} threads, ${args.ffn} model`,
);

const encoders = args.dtypes.map((dtype) => ({
  dtype,
  enc: fff.createEncoder(cfg, randomTensorSource(cfg), { dtype }),
}));
const now = () => Number(process.hrtime.bigint()) / 1e6;
const results = [];
for (const label of args.shapes) {
  const [batch, seq] = label.split('x').map(Number);
  const inputs = crammedInputs(cfg, batch, seq);
  // warm-up: 2 forwards each; inner: forwards per round so that a round of one dtype lasts >= minRoundMs
  const inner = {};
  for (const { dtype, enc } of encoders) {
    enc.forwardSync(inputs);
    const t0 = now();
    enc.forwardSync(inputs);
    inner[dtype] = Math.max(1, Math.ceil(args.minRoundMs / (now() - t0)));
  }
  const times = Object.fromEntries(args.dtypes.map((d) => [d, []]));
  for (let r = 0; r < args.rounds; r++) {
    for (const { dtype, enc } of encoders) {
      const t0 = now();
      for (let i = 0; i < inner[dtype]; i++) enc.forwardSync(inputs);
      times[dtype].push((now() - t0) / inner[dtype]);
    }
  }
  for (const d of args.dtypes)
    results.push({
      shape: label,
      dtype: d,
      timesMs: times[d],
      perCallMs: summary(times[d]),
      tokensPerS: (batch * seq * 1000) / summary(times[d]).median,
    });
  log(`${label}: ${args.dtypes.map((d) => `${d} ${summary(times[d]).median.toFixed(1)} ms`).join(', ')}`);
}
for (const { enc } of encoders) enc.dispose();

const get = (s, d) => results.find((r) => r.shape === s && r.dtype === d);
printTable(
  [
    ['ms per forward, median [min-max]', ...args.shapes],
    ...args.dtypes.map((d) => [
      d,
      ...args.shapes.map(
        (s) =>
          `${get(s, d).perCallMs.median.toFixed(1)} [${get(s, d).perCallMs.min.toFixed(1)}-${get(s, d).perCallMs.max.toFixed(1)}]`,
      ),
    ]),
    ...args.dtypes
      .filter((d) => d !== 'fp32' && args.dtypes.includes('fp32'))
      .map((d) => [
        `${d} speed-up over fp32`,
        ...args.shapes.map((s) => `${(get(s, 'fp32').perCallMs.median / get(s, d).perCallMs.median).toFixed(2)}x`),
      ]),
  ],
  {
    title: `Our encoder (UltraFastBERT-1x11-long shapes, ${args.ffn}) per dense dtype, same process, ${args.rounds} rounds round-robin, ${args.threads} threads`,
  },
);
machine.loadavgEnd = os.loadavg();
const files = writeResults('dtype-ab', { machine, args, results });
console.log(
  `\nload average at start ${machine.loadavg.map((x) => x.toFixed(2)).join(' ')}, at end ${machine.loadavgEnd.map((x) => x.toFixed(2)).join(' ')}; wrote ${files.map((f) => path.relative(repoRoot, f)).join(', ')}`,
);
