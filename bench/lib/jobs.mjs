// Each configuration runs in a fresh process: a Node worker (bench/lib/worker.mjs) or the OpenBLAS program.
// The child prints one JSON line last on stdout; anything else it prints is kept for error messages.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { benchDir, openblasBinary } from './paths.mjs';

/** The environment every child gets: the same thread count on every side. */
export function childEnv(threads, extra = {}) {
  return {
    ...process.env,
    FFFBERT_THREADS: String(threads),
    OMP_NUM_THREADS: String(threads),
    OPENBLAS_NUM_THREADS: String(threads),
    // The OpenBLAS peer's GELU pass runs on OpenMP threads: spinning ones would steal the cores OpenBLAS's
    // own threads need right after (measured: 10-30x slower single-token calls with the default policy).
    OMP_WAIT_POLICY: 'PASSIVE',
    ...extra,
  };
}

function parseLast(stdout) {
  const lines = stdout.trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i].trim();
    if (l.startsWith('{')) return JSON.parse(l);
  }
  throw new Error('no JSON result line');
}

function run(cmd, args, env, timeoutMs) {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 256 * 2 ** 20 });
  if (r.error)
    return {
      error: `${/** @type {NodeJS.ErrnoException} */ (r.error).code === 'ETIMEDOUT' ? `timed out after ${timeoutMs / 1000} s` : r.error.message}`,
    };
  try {
    const res = parseLast(r.stdout);
    if (r.status !== 0 && !res.error) res.error = `exit code ${r.status}`;
    return res;
  } catch {
    const msg = (r.stderr || r.stdout || '').trim().split('\n').filter(Boolean).slice(-2).join(' | ');
    return { error: `exit code ${r.status ?? r.signal}: ${msg.slice(0, 400)}` };
  }
}

/** Runs a Node worker job ({ kind, ... }) in a fresh process. */
export function runWorker(job, { threads, timeoutMs = 20 * 60e3, env = {}, nodeArgs = [] }) {
  const worker = path.join(benchDir, 'lib', 'worker.mjs');
  return run(
    process.execPath,
    [...nodeArgs, worker, JSON.stringify({ ...job, threads })],
    childEnv(threads, env),
    timeoutMs,
  );
}

/** Runs the OpenBLAS program with its positional arguments. */
export function runOpenblas(args, { threads, timeoutMs = 20 * 60e3 }) {
  return run(openblasBinary, args.map(String), childEnv(threads), timeoutMs);
}

function cpuTimes() {
  try {
    const [, ...v] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
    const idle = v[3] + (v[4] ?? 0);
    return { idle, total: v.reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}

/** Fraction of all cores busy over `ms` (while this process sleeps: the load of other work). Linux only. */
export async function backgroundBusy(ms = 250) {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  if (!a || !b || b.total === a.total) return null;
  return 1 - (b.idle - a.idle) / (b.total - a.total);
}

/**
 * Waits (up to maxWaitMs) until other work keeps the cores less than `below` busy; returns the last measured
 * busy fraction, recorded with each result (on shared machines it explains outliers).
 */
export async function waitQuiet({ below = 0.25, maxWaitMs = 0 } = {}) {
  const until = Date.now() + maxWaitMs;
  let busy = await backgroundBusy();
  while (busy !== null && busy >= below && Date.now() < until) busy = await backgroundBusy(500);
  return busy;
}
