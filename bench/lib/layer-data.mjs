// The layer benchmark's seeded data (names and scales shared with bench/native/openblas_ff.c).
import { randomF32 } from './rng.mjs';

export const WIDTH = 768;

/**
 * `a` itself, or with `alloc` (fffbert's alignedFloat32Array, in the workers: every implementation gets its x and
 * output on a cache line, as the model's own activations are) a copy in alloc(a.length).
 */
const placed = (a, alloc) => {
  if (!alloc) return a;
  const b = alloc(a.length);
  b.set(a);
  return b;
};

/** Input tokens x [tokens, I], unit variance; `alloc` as placed()'s. */
export const tokensInput = (tokens, I = WIDTH, alloc = null) => placed(randomF32(tokens * I, 'x', 1), alloc);
/** Distinct tokens an FFF benchmark job cycles through with --inputs stream (the default). */
export const STREAM_TOKENS = 2048;

/**
 * The x of successive FFF calls of `tokens` rows. 'stream': each call the next tokens of STREAM_TOKENS distinct
 * ones (rounded up to whole calls), as a service's calls come, so a call does not find the rows its own tokens
 * visited last time still in the caches (the FFF's row traffic depends on its input; a dense layer's does not).
 * 'repeat': the same x every call. Returns next() (the next call's x) and the number of distinct tokens. `alloc`:
 * as tokensInput's (a call's x then starts on a cache line too: a row is 3072 bytes).
 */
export function fffInputs(tokens, inputs, alloc = null) {
  const calls = inputs === 'repeat' ? 1 : Math.max(1, Math.ceil(STREAM_TOKENS / tokens));
  const all = tokensInput(calls * tokens, WIDTH, alloc);
  const xs = Array.from({ length: calls }, (_, i) => all.subarray(i * tokens * WIDTH, (i + 1) * tokens * WIDTH));
  let i = 0;
  return {
    distinctTokens: calls * tokens,
    next() {
      const x = xs[i];
      i = i + 1 === calls ? 0 : i + 1;
      return x;
    },
  };
}

/** Dense FF weights in PyTorch layout, ~1/sqrt(fan_in). */
export function denseWeights(I, W, O) {
  return {
    inWeight: randomF32(W * I, 'ff.in.weight', 1 / Math.sqrt(I)),
    inBias: randomF32(W, 'ff.in.bias', 0.1),
    outWeight: randomF32(O * W, 'ff.out.weight', 1 / Math.sqrt(W)),
    outBias: randomF32(O, 'ff.out.bias', 0.1),
  };
}

/** FFF weights in PyTorch layout; linear_out scaled by the K*(D+1) nodes a token really uses. */
export function fffWeights(I, O, depth, trees) {
  const nodes = trees * (2 ** (depth + 1) - 1);
  return {
    inputWidth: I,
    outputWidth: O,
    depth,
    trees,
    linearInWeight: randomF32(nodes * I, 'fff.in.weight', 1 / Math.sqrt(I)),
    linearInBias: randomF32(nodes, 'fff.in.bias', 0.1),
    linearOutWeight: randomF32(O * nodes, 'fff.out.weight', 1 / Math.sqrt(trees * (depth + 1))),
  };
}

/** y = x W^T with W [N, K]: the GEMM section's operands; x placed with `alloc` as tokensInput's. */
export function gemmOperands(M, N, K, alloc = null) {
  return { x: placed(randomF32(M * K, 'x', 1), alloc), w: randomF32(N * K, 'gemm.weight', 1 / Math.sqrt(K)) };
}

/** Double-precision reference of the dense FF for a few tokens (the sanity check of every backend). */
export function denseReference(w, x, tokens, I, W, O) {
  const y = new Float64Array(tokens * O);
  const h = new Float64Array(W);
  for (let t = 0; t < tokens; t++) {
    for (let j = 0; j < W; j++) {
      let s = w.inBias[j];
      for (let i = 0; i < I; i++) s += w.inWeight[j * I + i] * x[t * I + i];
      h[j] = 0.5 * s * (1 + erf(s / Math.SQRT2));
    }
    for (let o = 0; o < O; o++) {
      let s = w.outBias[o];
      for (let j = 0; j < W; j++) s += w.outWeight[o * W + j] * h[j];
      y[t * O + o] = s;
    }
  }
  return y;
}

/** erf to ~1e-7 (W. J. Cody-style rational approximation via the complementary function). */
export function erf(x) {
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const tau =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - tau : tau - 1;
}

/** Largest |a - b| over the largest |b|. */
export function relMaxDiff(a, b) {
  let d = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return m > 0 ? d / m : d;
}
