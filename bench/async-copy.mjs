#!/usr/bin/env node
import { createRequire } from 'node:module';
// What owning the inputs and outputs of an async forward costs (issue 9): on a model folder, at 1x16 and
// 8x128, the time of model.forward() (async) per call, and the part spent before the call returns (TypeScript
// checks, the native argument checks, the copies of ids/mask and the output buffers: an upper bound of the
// copy cost). Each configuration in one process; `--root` picks the package (e.g. a checkout of the commit
// before, for an A/B in alternating processes with the same threads).
//
//   node bench/async-copy.mjs <model-dir> [--root .] [--threads 2] [--reps 15]
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { measure, summary } from './lib/timing.mjs';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    root: { type: 'string', default: '.' },
    threads: { type: 'string', default: '2' },
    reps: { type: 'string', default: '15' },
  },
});
if (positionals.length !== 1) {
  console.error('Usage: node bench/async-copy.mjs <model-dir> [--root .] [--threads 2] [--reps 15]');
  process.exit(2);
}
const require = createRequire(import.meta.url);
const fffbert = require(path.resolve(values.root));
const model = await fffbert.loadModel(positionals[0], { threads: Number(values.threads) });
const reps = Number(values.reps);

for (const [batch, seq] of [
  [1, 16],
  [8, 128],
]) {
  const data = Int32Array.from({ length: batch * seq }, (_, i) => 5 + ((i * 7919) % 30000));
  const inputs = { inputIds: { data, shape: [batch, seq] } };
  const submitUs = [];
  const call = () => {
    const t = process.hrtime.bigint();
    const p = model.forward(inputs, { logits: false });
    submitUs.push(Number(process.hrtime.bigint() - t) / 1e3);
    return p;
  };
  const { timesMs } = await measure(call, { reps, minRepMs: 200, warmupMs: 1000 });
  const total = summary(timesMs);
  const submit = summary(submitUs.slice(-reps * 4));
  console.log(
    JSON.stringify({
      shape: `${batch}x${seq}`,
      threads: Number(values.threads),
      forwardMs: +total.median.toFixed(3),
      forwardMinMs: +total.min.toFixed(3),
      submitUs: +submit.median.toFixed(1),
      submitShare: +((submit.median / 1e3 / total.median) * 100).toFixed(3),
    }),
  );
}
model.dispose();
