// The float64 references of docs/FFF-SPEC.md section 1 that results are checked against, in plain JavaScript so
// that the tests (test/helpers/reference.ts) and the smoke test of an installed package (scripts/package-smoke.mjs,
// copied with this file into an empty project) share one copy: exact erf and GELU, a seeded generator, and one
// token's walk through an FFF layer. Types: fff-reference.d.mts.

/** erf in float64: Taylor series below 2.5, Lentz's continued fraction for erfc above (error < 1e-14). */
export function erf(x) {
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

/** The exact (erf) GELU. */
export function gelu(x) {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** Mulberry32: small, seeded, good enough for test data; each call gives a uniform in [0, 1). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Float32Array of n values, uniform in [-scale, scale), from the generator `next`. */
export function randomArray(n, scale, next) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (next() * 2 - 1) * scale;
  return a;
}

/**
 * docs/FFF-SPEC.md section 1 in float64, for token `row` of x [rows, I]. Returns the output, the path (node
 * index within its tree at each level, tree by tree), and the smallest |logit| met (the decision margin: a path
 * is only comparable across implementations when it is well above rounding). w: { I, O, D, K, wIn [K*n_nodes, I],
 * bIn [K*n_nodes], wOut [O, K*n_nodes] } (PyTorch layouts).
 */
export function fffReference(w, x, row) {
  const nodes = 2 ** (w.D + 1) - 1;
  const y = new Float64Array(w.O);
  const path = [];
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
