import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = path.resolve(benchDir, '..');
export const resultsDir = path.join(benchDir, 'results');
/** The OpenBLAS peer, built on demand (bench/native/build is gitignored). */
export const openblasBinary = path.join(benchDir, 'native', 'build', 'openblas_ff');
