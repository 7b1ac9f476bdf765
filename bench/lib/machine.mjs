// What a result was measured on: CPU, ISA, threads, Node, commit, peers' versions, load.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { repoRoot } from './paths.mjs';

function git(args) {
  try {
    return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

function cpuFlags() {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('flags'));
    const flags = new Set(line.split(':')[1].trim().split(/\s+/));
    return ['avx2', 'fma', 'f16c', 'avx512f', 'avx512bw', 'avx512vl', 'avx512_bf16'].filter((f) => flags.has(f));
  } catch {
    return [];
  }
}

/** @returns {Record<string, any>} filled in further by the benchmarks */
export function machineInfo(extra = {}) {
  const dirty = git(['status', '--porcelain', '--untracked-files=no']);
  return {
    date: new Date().toISOString(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    cpuFlags: cpuFlags(),
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${process.platform}-${process.arch}`,
    node: process.version,
    commit: git(['rev-parse', 'HEAD']),
    worktreeDirty: dirty === null ? null : dirty.length > 0,
    loadavg: os.loadavg(),
    ...extra,
  };
}
