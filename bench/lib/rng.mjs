// Seeded "Gaussian-ish" data shared by every side of the benchmarks, so that each backend sees the same
// numbers: JavaScript here, and bench/native/openblas_ff.c, which implements the same generator bit for bit
// (FNV-1a of the tensor name -> mulberry32 -> its two 16-bit halves as two uniforms -> their triangular sum
// with unit variance, computed in double). One 32-bit draw per value: the e2e models hold ~190M of them.

const SQRT6 = 2.449489742783178;

/** FNV-1a 32-bit hash of an ASCII name. */
export function fnv1a(name) {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i) & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Fills `out` with the variates of stream `name` (seed `seed`) times `scale`; returns `out`. */
export function fillRandom(out, name, scale = 1, seed = 1) {
  let a = (fnv1a(name) ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < out.length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    t = (t ^ (t >>> 14)) >>> 0;
    const u1 = ((t >>> 16) + 0.5) / 65536;
    const u2 = ((t & 0xffff) + 0.5) / 65536;
    out[i] = (u1 + u2 - 1) * SQRT6 * scale;
  }
  return out;
}

/** A new Float32Array of `n` variates of stream `name`. */
export function randomF32(n, name, scale = 1, seed = 1) {
  return fillRandom(new Float32Array(n), name, scale, seed);
}

/** Transposes a row-major [rows, cols] matrix into [cols, rows]. */
export function transpose(m, rows, cols) {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const src = r * cols;
    for (let c = 0; c < cols; c++) t[c * rows + r] = m[src + c];
  }
  return t;
}
