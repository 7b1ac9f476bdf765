// Each configuration runs in a fresh process: a Node worker (bench/lib/worker.mjs) or the OpenBLAS program.
// The child prints one JSON line last on stdout; anything else it prints is kept for error messages.
import { spawnSync } from 'node:child_process';
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
  if (r.error) return { error: `${r.error.code === 'ETIMEDOUT' ? `timed out after ${timeoutMs / 1000} s` : r.error.message}` };
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
  return run(process.execPath, [...nodeArgs, worker, JSON.stringify({ ...job, threads })], childEnv(threads, env), timeoutMs);
}

/** Runs the OpenBLAS program with its positional arguments. */
export function runOpenblas(args, { threads, timeoutMs = 20 * 60e3 }) {
  return run(openblasBinary, args.map(String), childEnv(threads), timeoutMs);
}
