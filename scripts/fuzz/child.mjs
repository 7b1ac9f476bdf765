// One fuzz worker: runs cases [start, start + count) of one target in this process and reports on stdout, one
// line each (pipes are written synchronously on Linux, so the last line survives a crash):
//   S <i>          case i starts
//   F <i> <json>   case i failed: an error without an ERR_FFF_ code, too slow, or RSS over the bound
//   D <json>       all done: counts of outcomes and of error codes
// Usage: node --max-old-space-size=M child.mjs <target> <seed> <start> <count> <caseMs> <maxRssMb>
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { caseSeed, rng } from './mutate.mjs';
import { TARGETS } from './targets.mjs';

const require = createRequire(import.meta.url);
const api = require('../../dist/index.js');

/** 'ok', or the failure of an error: anything but an FffError whose code starts with ERR_FFF_. */
function judge(err) {
  if (err instanceof api.FffError && typeof err.code === 'string' && err.code.startsWith('ERR_FFF_')) return null;
  const name = err?.constructor?.name ?? typeof err;
  return `${name}${err?.code ? ` ${err.code}` : ''}: ${String(err?.message ?? err).slice(0, 300)}`;
}

const [targetName, seedArg, startArg, countArg, caseMsArg, maxRssArg] = process.argv.slice(2);
const target = TARGETS[targetName];
const seed = Number(seedArg);
const start = Number(startArg);
const count = Number(countArg);
const caseMs = Number(caseMsArg);
const maxRss = Number(maxRssArg) * 1024 * 1024;
const say = (line) => fs.writeSync(1, `${line}\n`);

const ctx = await target.setup(api);
const counts = { ok: 0, coded: 0, failed: 0 };
const codes = {};
for (let i = start; i < start + count; i++) {
  say(`S ${i}`);
  const input = target.generate(rng(caseSeed(seed, targetName, i)), ctx);
  const t0 = performance.now();
  let failure = null;
  try {
    await target.run(input, api, ctx);
    counts.ok++;
  } catch (err) {
    failure = judge(err);
    if (failure === null) {
      counts.coded++;
      codes[err.code] = (codes[err.code] ?? 0) + 1;
    }
  }
  const ms = performance.now() - t0;
  if (failure === null && ms > caseMs) failure = `slow: ${ms.toFixed(0)} ms (bound ${caseMs} ms)`;
  const rss = process.memoryUsage.rss();
  if (failure === null && rss > maxRss)
    failure = `rss ${(rss / 2 ** 20).toFixed(0)} MB over the bound of ${maxRss / 2 ** 20} MB`;
  if (failure !== null) {
    counts.failed++;
    say(`F ${i} ${JSON.stringify(failure)}`);
    if (failure.startsWith('rss')) break;
  }
}
say(`D ${JSON.stringify({ counts, codes })}`);
// Models of the forward target hold pool work; leave without waiting for anything else.
process.exit(0);
