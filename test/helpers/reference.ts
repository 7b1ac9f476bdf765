/**
 * Plain TypeScript references the native results are checked against: docs/FFF-SPEC.md section 1 in float64, exact
 * erf, a seeded random generator and comparison helpers.
 */

/** erf in float64: Taylor series below 2.5, Lentz's continued fraction for erfc above (error < 1e-14). */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 100; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const r = (2 / Math.sqrt(Math.PI)) * sum;
    return x < 0 ? -r : r;
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))), modified Lentz.
  const tiny = 1e-300;
  let f = ax;
  let c = ax;
  let d = 0;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    d = ax + an * d;
    d = d === 0 ? tiny : d;
    c = ax + an / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return x < 0 ? erfc - 1 : 1 - erfc;
}

export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** Mulberry32: small, seeded, good enough for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Float32Array of n values, uniform in [-scale, scale). */
export function randomArray(n: number, scale: number, next: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (next() * 2 - 1) * scale;
  return a;
}

export interface FffWeights {
  I: number;
  O: number;
  D: number;
  K: number;
  wIn: Float32Array; // [K*n_nodes, I]
  bIn: Float32Array; // [K*n_nodes]
  wOut: Float32Array; // [O, K*n_nodes]
}

/**
 * docs/FFF-SPEC.md section 1 in float64, for one token. Returns the output and the path, and the smallest |logit| met
 * (the decision margin: a path is only comparable across implementations when it is well above rounding).
 */
export function fffReference(
  w: FffWeights,
  x: Float32Array,
  row: number,
): { y: Float64Array; path: number[]; margin: number } {
  const nodes = 2 ** (w.D + 1) - 1;
  const y = new Float64Array(w.O);
  const path: number[] = [];
  let margin = Infinity;
  for (let k = 0; k < w.K; k++) {
    let n = 0;
    for (let level = 0; level <= w.D; level++) {
      const r = k * nodes + n;
      let l = w.bIn[r];
      for (let i = 0; i < w.I; i++) l += w.wIn[r * w.I + i] * x[row * w.I + i];
      margin = Math.min(margin, Math.abs(l));
      const g = gelu(l);
      for (let o = 0; o < w.O; o++) y[o] += g * w.wOut[o * (w.K * nodes) + r];
      path.push(n);
      n = 2 * n + 1 + (l > 0 ? 1 : 0);
    }
  }
  return { y, path, margin };
}

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
