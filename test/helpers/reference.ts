/**
 * The references the native results are checked against: docs/FFF-SPEC.md section 1 in float64, exact erf and a
 * seeded random generator (scripts/lib/fff-reference.mjs, which the package smoke test shares), and comparison
 * helpers.
 */

import { erf, type FffWeights, fffReference, gelu, randomArray, rng } from '../../scripts/lib/fff-reference.mjs';

export { erf, type FffWeights, fffReference, gelu, randomArray, rng };

/** Max |a - b| over all elements (NaN if either holds a NaN where the other does not). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (Number.isNaN(d)) return NaN;
    if (d > m) m = d;
  }
  return m;
}

export function randomFff(I: number, O: number, D: number, K: number, seed: number): FffWeights {
  const next = rng(seed);
  const nodes = K * (2 ** (D + 1) - 1);
  return {
    I,
    O,
    D,
    K,
    wIn: randomArray(nodes * I, 1 / Math.sqrt(I), next),
    bIn: randomArray(nodes, 0.1, next),
    wOut: randomArray(O * nodes, 1 / Math.sqrt(D + 1), next),
  };
}

/** Index of the first element whose bits differ, or -1 when the arrays are bitwise identical. */
export function firstBitDifference(a: ArrayBufferView, b: ArrayBufferView): number {
  if (a.byteLength !== b.byteLength) return 0;
  const x = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const y = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (x.equals(y)) return -1;
  const bytes = (a as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return Math.floor(i / bytes);
  return -1;
}
