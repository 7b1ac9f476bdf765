// npm run fuzz: a seeded mutation fuzzer over safetensors files, config.json, tokenizer.json and forward inputs
// (scripts/fuzz/targets.mjs). Cases run in child processes in batches (--batch, 500 by default), each child
// with a V8 heap bound and watched for RSS; a child that dies (signal, abort, exit) or stalls on a case past
// --case-ms is replaced, and its last case is run again alone to confirm it. A case passes when the library
// accepts the input or refuses it with an FffError whose code starts with ERR_FFF_; crashes, hangs, RSS over
// the bound and any other error are failures, saved under scripts/fuzz/corpus/ (replayed by
// test/fuzz-corpus.test.ts). Ends with "N passed, N failed" counting targets, as .ci/run reads it.
//
//   node scripts/fuzz/run.mjs [--target all|safetensors,config,...] [--cases N] [--start I] [--seed S] [--jobs J]
//                             [--batch B] [--case-ms MS] [--max-rss-mb MB] [--no-save]
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { caseSeed, rng } from './mutate.mjs';
import { encode, TARGETS } from './targets.mjs';

const here = path.dirname(new URL(import.meta.url).pathname);
const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'all' },
    cases: { type: 'string', default: '100000' },
    start: { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
    jobs: { type: 'string', default: String(Math.max(1, Math.min(4, os.availableParallelism()))) },
    batch: { type: 'string', default: '500' },
    'case-ms': { type: 'string', default: '10000' },
    'max-rss-mb': { type: 'string', default: '1024' },
    'heap-mb': { type: 'string', default: '512' },
    'no-save': { type: 'boolean', default: false },
  },
});
const int = (name) => {
  const n = Number(values[name]);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`--${name} expects a non-negative integer but received "${values[name]}"`);
  return n;
};
const targets = values.target === 'all' ? Object.keys(TARGETS) : values.target.split(',');
for (const t of targets)
  if (!TARGETS[t]) throw new Error(`unknown target "${t}" (known: ${Object.keys(TARGETS).join(', ')})`);
const first = int('start');
const cases = first + int('cases');
const seed = int('seed');
const jobs = Math.max(1, int('jobs'));
const batch = Math.max(1, int('batch'));
const caseMs = int('case-ms');
const maxRssMb = int('max-rss-mb');
const corpus = path.join(here, 'corpus');

/**
 * Runs cases [start, end) of `target` in one child. Resolves to { done, next, failures, counts, codes, dead }:
 * `next` is where a replacement child should continue when this one died or stalled at case `dead.index`.
 */
function runChild(target, start, end) {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        `--max-old-space-size=${values['heap-mb']}`,
        path.join(here, 'child.mjs'),
        target,
        String(seed),
        String(start),
        String(end - start),
        String(caseMs),
        String(maxRssMb),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const result = { failures: [], counts: { ok: 0, coded: 0, failed: 0 }, codes: {}, dead: null, next: end };
    let current = null;
    let since = Date.now();
    let buffered = '';
    let stderr = '';
    let killedFor = null;
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith('S ')) {
          current = Number(line.slice(2));
          since = Date.now();
        } else if (line.startsWith('F ')) {
          const sp = line.indexOf(' ', 2);
          result.failures.push({ index: Number(line.slice(2, sp)), why: JSON.parse(line.slice(sp + 1)) });
        } else if (line.startsWith('D ')) {
          Object.assign(result, JSON.parse(line.slice(2)));
        }
      }
    });
    child.stderr.on('data', (chunk) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    // Watchdog: a case past its time bound is a hang; a child past the RSS bound (native memory included) is killed.
    const timer = setInterval(() => {
      if (current !== null && Date.now() - since > caseMs + 5000) killedFor = `hang: case ran over ${caseMs} ms`;
      try {
        const rssKb = Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0);
        if (rssKb > maxRssMb * 1024 * 1.5)
          killedFor = `rss ${Math.round(rssKb / 1024)} MB over the bound of ${maxRssMb} MB`;
      } catch {}
      if (killedFor !== null) child.kill('SIGKILL');
    }, 250);
    child.on('exit', (code, signal) => {
      clearInterval(timer);
      const finished =
        result.counts.ok + result.counts.coded + result.counts.failed > 0 ||
        (code === 0 && buffered === '' && current === end - 1);
      if (code !== 0 || signal !== null || killedFor !== null || !finished) {
        const why = killedFor ?? (signal ? `killed by ${signal}` : `exited with ${code}`);
        result.dead = {
          index: current ?? start,
          why: `${why}${stderr ? `; stderr: ${stderr.trim().split('\n').slice(-5).join(' | ')}` : ''}`,
        };
        result.next = (current ?? start) + 1;
      }
      resolve(result);
    });
  });
}

function save(target, index, why) {
  if (values['no-save']) return null;
  fs.mkdirSync(corpus, { recursive: true });
  const ctx = target === 'forward' ? {} : TARGETS[target].setup(); // forward's generate needs no models
  const input = TARGETS[target].generate(rng(caseSeed(seed, target, index)), ctx);
  const file = path.join(corpus, `${target}-seed${seed}-case${index}.json`);
  fs.writeFileSync(
    file,
    `{"target":${JSON.stringify(target)},"seed":${seed},"index":${index},"why":${JSON.stringify(why)},"input":${encode(input)}}\n`,
  );
  return file;
}

async function fuzzTarget(target) {
  const t0 = Date.now();
  const totals = { ok: 0, coded: 0, failed: 0 };
  const codes = {};
  const failures = [];
  const queue = [];
  for (let s = first; s < cases; s += batch) queue.push([s, Math.min(cases, s + batch)]);
  const worker = async () => {
    while (queue.length > 0) {
      const [start, end] = queue.shift();
      const r = await runChild(target, start, end);
      for (const k of Object.keys(totals)) totals[k] += r.counts[k] ?? 0;
      for (const [c, n] of Object.entries(r.codes ?? {})) codes[c] = (codes[c] ?? 0) + n;
      failures.push(...r.failures.map((f) => ({ ...f, kind: 'error' })));
      if (r.dead !== null) {
        // Confirm alone: the case that was running when the child died (a crash seen later than its cause
        // shows up as a case that passes alone; the batch is then re-run one case per child).
        const alone = await runChild(target, r.dead.index, r.dead.index + 1);
        if (alone.dead !== null) {
          failures.push({ index: r.dead.index, why: r.dead.why, kind: 'crash' });
        } else {
          let found = false;
          for (let i = start; i < r.dead.index && !found; i++) {
            const one = await runChild(target, i, i + 1);
            if (one.dead !== null) {
              failures.push({ index: i, why: one.dead.why, kind: 'crash (found by re-running the batch)' });
              found = true;
            }
          }
          if (!found)
            failures.push({ index: r.dead.index, why: `${r.dead.why} (not reproduced alone)`, kind: 'crash' });
          totals.ok += alone.counts.ok;
          totals.coded += alone.counts.coded;
        }
        totals.failed++;
        if (r.next < end) queue.unshift([r.next, end]);
      }
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  const seconds = (Date.now() - t0) / 1000;
  const done = totals.ok + totals.coded + totals.failed;
  console.log(
    `${target}: ${done} cases in ${seconds.toFixed(1)} s (${(done / seconds).toFixed(0)}/s, ${jobs} jobs): ${totals.ok} accepted, ${totals.coded} refused with a code, ${failures.length} failures`,
  );
  const top = Object.entries(codes).sort((a, b) => b[1] - a[1]);
  if (top.length > 0) console.log(`  codes: ${top.map(([c, n]) => `${c} ${n}`).join(', ')}`);
  // distinct failures, numbers and paths blurred, with their counts
  const kinds = {};
  for (const f of failures) {
    const k = `${f.kind}: ${f.why.replace(/\/\S+/g, 'PATH').replace(/\d+/g, 'N').slice(0, 160)}`;
    kinds[k] = (kinds[k] ?? 0) + 1;
  }
  for (const [k, n] of Object.entries(kinds).sort((a, b) => b[1] - a[1])) console.log(`  ${n} x ${k}`);
  for (const f of failures.slice(0, 20)) {
    const file = save(target, f.index, f.why);
    console.log(
      `  FAIL ${f.kind} at case ${f.index} (seed ${seed}): ${f.why}${file ? ` -> ${path.relative(process.cwd(), file)}` : ''}`,
    );
  }
  return failures.length === 0;
}

console.log(
  `fuzz: seed ${seed}, cases ${first}..${cases - 1} of each target, batches of ${batch}, ${jobs} jobs, ${caseMs} ms per case, RSS bound ${maxRssMb} MB`,
);
let passed = 0;
let failed = 0;
for (const t of targets) {
  if (await fuzzTarget(t)) passed++;
  else failed++;
}
console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
