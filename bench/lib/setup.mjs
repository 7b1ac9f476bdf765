// The benchmark's own dependencies, prepared on demand: onnxruntime-node (bench/package.json, never the main
// package's), the OpenBLAS peer (bench/native/openblas_ff.c against Debian's libopenblas-dev), and the
// built fffbert package. Each peer that cannot be prepared is skipped with a note, never silently.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { benchDir, openblasBinary, repoRoot, sourceTree } from './paths.mjs';

/**
 * A require() that finds onnxruntime-node: bench's own install in a source checkout, else the current folder's
 * (a user of the installed package adds it with `npm install onnxruntime-node`); null when neither has it.
 */
export function ortRequire() {
  for (const from of [path.join(benchDir, 'package.json'), path.join(process.cwd(), 'package.json')]) {
    const req = createRequire(from);
    try {
      req.resolve('onnxruntime-node');
      return req;
    } catch {
      // next
    }
  }
  return null;
}

function log(msg) {
  process.stderr.write(`[bench] ${msg}\n`);
}

/** The fffbert package as built in this checkout (dist/ + build/ or prebuilds/). */
export function loadFffbert() {
  const entry = path.join(repoRoot, 'dist', 'index.js');
  if (!existsSync(entry))
    throw new Error(`${entry} is missing: run \`npm install\` (or \`npm run build\`) in ${repoRoot} first`);
  return createRequire(entry)(entry);
}

/** The addon itself (dist/native.js), for the benchmark-only probes. */
export function loadNative() {
  const entry = path.join(repoRoot, 'dist', 'native.js');
  return createRequire(entry)(entry).native;
}

function ortResolvable() {
  return ortRequire() !== null;
}

/**
 * Makes sure onnxruntime-node is installed in bench/node_modules: `npm ci` from bench's lockfile with
 * ONNXRUNTIME_NODE_INSTALL=skip (its install script would fetch GPU files; the CPU binary ships in the
 * package). Returns { ok, version?, note? }.
 */
export function ensureOrt({ install = true } = {}) {
  if (!ortResolvable() && install && sourceTree) {
    log('installing the benchmark dependencies (npm --prefix bench ci, ONNXRUNTIME_NODE_INSTALL=skip) ...');
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = spawnSync(npm, ['--prefix', benchDir, 'ci', '--no-audit', '--no-fund'], {
      env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' },
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
    });
    if (r.status !== 0) log(`npm ci failed: ${(r.stderr || String(r.error)).trim().split('\n').slice(-3).join(' | ')}`);
  }
  if (!ortResolvable()) {
    return {
      ok: false,
      note: sourceTree
        ? 'onnxruntime-node is not installed and could not be installed (npm --prefix bench ci): ORT peer skipped'
        : 'onnxruntime-node not found (add it as a peer with `npm install onnxruntime-node` in this folder): ORT peer skipped',
    };
  }
  const version = ortRequire()('onnxruntime-node/package.json').version;
  return { ok: true, version };
}

function openblasCflags() {
  try {
    return execFileSync('pkg-config', ['--cflags', '--libs', 'openblas'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .trim()
      .split(/\s+/)
      .filter(Boolean);
  } catch {
    for (const dir of [
      '/usr/include/x86_64-linux-gnu/openblas-pthread',
      '/usr/include/aarch64-linux-gnu/openblas-pthread',
      '/usr/include/openblas',
    ]) {
      if (existsSync(path.join(dir, 'cblas.h'))) return [`-I${dir}`, '-lopenblas'];
    }
    return null;
  }
}

function tryAptInstall() {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot || !existsSync('/usr/bin/apt-get')) return false;
  log('libopenblas-dev is missing: apt-get install -y libopenblas-dev ...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'libopenblas-dev', 'pkg-config'], {
      env,
      stdio: 'ignore',
    }).status === 0;
  if (install()) return true;
  spawnSync('apt-get', ['update'], { env, stdio: 'ignore' });
  return install();
}

/**
 * Builds bench/native/openblas_ff (only for benchmarking; never part of the addon), installing Debian's
 * libopenblas-dev first when it is missing and we are root. Returns { ok, binary?, note? }.
 */
export function ensureOpenblas({ install = true } = {}) {
  const source = path.join(benchDir, 'native', 'openblas_ff.c');
  if (existsSync(openblasBinary) && statSync(openblasBinary).mtimeMs >= statSync(source).mtimeMs)
    return { ok: true, binary: openblasBinary };
  let flags = openblasCflags();
  if (!flags && install && sourceTree && tryAptInstall()) flags = openblasCflags();
  if (!flags) {
    return {
      ok: false,
      note: 'OpenBLAS (cblas.h / libopenblas) not found and not installable here (needs root + apt-get): OpenBLAS peer skipped',
    };
  }
  mkdirSync(path.dirname(openblasBinary), { recursive: true });
  const cc = process.env.CC || 'cc';
  // -ffp-contract=off: the data generator must round exactly as the JavaScript one does.
  const args = ['-O2', '-ffp-contract=off', '-fopenmp', source, '-o', openblasBinary, ...flags, '-lm'];
  const r = spawnSync(cc, args, { encoding: 'utf8' });
  if (r.status !== 0) {
    return {
      ok: false,
      note: `building the OpenBLAS peer failed (${cc} ${args.join(' ')}): ${(r.stderr || String(r.error)).trim().split('\n')[0]}`,
    };
  }
  log(`built ${path.relative(repoRoot, openblasBinary)}`);
  return { ok: true, binary: openblasBinary };
}
