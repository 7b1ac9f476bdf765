import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = path.resolve(benchDir, '..');
/**
 * A source checkout (bench/package.json is there; the npm package ships bench/ without it): the benchmarks may
 * install their peers (npm --prefix bench ci, apt-get) and write to bench/results/. From the installed package
 * they only use what they find, and write to ./fffbert-bench/ unless told otherwise (--out).
 */
export const sourceTree = existsSync(path.join(benchDir, 'package.json'));
export const resultsDir = sourceTree ? path.join(benchDir, 'results') : path.resolve('fffbert-bench');
/** The OpenBLAS peer, built on demand (bench/native/build is gitignored). */
export const openblasBinary = path.join(benchDir, 'native', 'build', 'openblas_ff');
