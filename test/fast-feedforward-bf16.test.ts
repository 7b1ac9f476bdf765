/**
 * FastFeedforward with bf16 weights ({ weights: 'bf16' }): the option and its errors, bitwise agreement with the
 * f32 layer built from the bf16-rounded weights (same instruction set), strategies/threads, and the accuracy on
 * the ufb fixture probes computed by the UltraFastBERT authors' code.
 *
 * Accuracy bound: rounding to bf16 (8 significant bits, nearest even) moves each weight by at most u = 2^-8 of
 * itself, so a logit l = b + sum w_i x_i moves by at most u * A (A = |b| + sum |w_i x_i|, b stays fp32) and an
 * output by at most u * sum over the path of (|g| + 1.2 A) |W_out| (|GELU'| <= 1.13). That worst-case bound,
 * plus the 1e-5 an fp32 implementation is allowed against the fixtures, is what the outputs are held to; paths
 * may part only at a node whose float64 logit is within u * A of 0.
 *
 * 'bf16-dot' also rounds x to bf16 for the dots (the CPU's bf16 dot products): each product w_i x_i moves by at
 * most 2u + u^2, so the probes hold it to the same bound with that in place of u. Its own tests (rounding of x,
 * bitwise agreement with 'bf16' on the rounded x where the dots are widened) are in fast-feedforward-bf16-dot.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, FastFeedforward, isa, setIsa } from '../lib/index';
import { native } from '../lib/native';
import { loadFffProbe } from './helpers/fff-probe';
import { buildFff, expectStrategiesAndThreadsBitwise, fffOptions, restoreRuntimeAfterAll } from './helpers/layers';
import { firstBitDifference, gelu, randomArray, randomFff, rng } from './helpers/reference';

const U = 2 ** -8;
const supported = isa().supported;
const { initialThreads } = restoreRuntimeAfterAll();

/** float32 -> nearest bf16 (ties to even), returned widened to float32. No NaN in test data. */
function roundBf16(a: Float32Array): Float32Array {
  const out = Float32Array.from(a);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < u.length; i++) u[i] = ((u[i] + 0x7fff + ((u[i] >>> 16) & 1)) & 0xffff0000) >>> 0;
  return out;
}

describe('the weights option', () => {
  const w = randomFff(4, 3, 2, 1, 8);
  const ok = fffOptions(w);

  it("defaults to 'f32'; 'bf16' halves the packed weights", () => {
    const f = FastFeedforward.fromTorch(ok);
    const f2 = FastFeedforward.fromTorch({ ...ok, weights: 'f32' });
    const b = FastFeedforward.fromTorch({ ...ok, weights: 'bf16' });
    expect(f.weightDtype).toBe('f32');
    expect(f2.weightDtype).toBe('f32');
    expect(b.weightDtype).toBe('bf16');
    // 7 rows: fp32 rows padded to 16 floats, bf16 rows to 32 bf16 (64 bytes), plus 7 fp32 biases.
    expect(f.weightBytes).toBe(7 * (4 * (16 + 16) + 4));
    expect(b.weightBytes).toBe(7 * (2 * (32 + 32) + 4));
    for (const l of [f, f2, b]) l.dispose();
  });

  it.each([['fp16'], ['F32'], ['bfloat16'], [16], [true], [{}]])('rejects weights: %o', (weights) => {
    const fn = () => FastFeedforward.fromTorch({ ...ok, weights: weights as never });
    expect(fn).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(fn).toThrow(/Expected weights to be one of f32, bf16, bf16-dot but received/);
  });

  it('the native side checks again when TypeScript is bypassed', () => {
    const N = native.NativeFastFeedforward as unknown as new (
      ...a: unknown[]
    ) => { weightDtype(): string; dispose(): void };
    expect(() => new N(4, 3, 2, 1, w.wIn, w.bIn, w.wOut, 'fp16')).toThrow(
      expect.objectContaining({
        code: ErrorCode.INVALID_ARGUMENT,
        message: "Expected weights to be one of 'f32', 'bf16', 'bf16-dot' but received 'fp16'",
      }),
    );
    expect(() => new N(4, 3, 2, 1, w.wIn, w.bIn, w.wOut, 1)).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
    const d = new N(4, 3, 2, 1, w.wIn, w.bIn, w.wOut);
    const b = new N(4, 3, 2, 1, w.wIn, w.bIn, w.wOut, 'bf16');
    expect(d.weightDtype()).toBe('f32');
    expect(b.weightDtype()).toBe('bf16');
    d.dispose();
    b.dispose();
  });
});

describe('bf16 layer = f32 layer of the rounded weights, bitwise', () => {
  const shapes = [
    { I: 768, O: 768, D: 11, K: 1, rows: 300 },
    { I: 67, O: 33, D: 5, K: 3, rows: 40 },
    { I: 17, O: 65, D: 7, K: 2, rows: 9 },
  ];
  for (const which of supported) {
    it(`${which}: both strategies`, () => {
      for (const s of shapes) {
        const w = randomFff(s.I, s.O, s.D, s.K, s.I * 13 + s.D);
        const x = randomArray(s.rows * s.I, 1, rng(s.rows + s.O));
        const b = buildFff(w, 'bf16');
        const f = buildFff({ ...w, wIn: roundBf16(w.wIn), wOut: roundBf16(w.wOut) });
        setIsa(which);
        for (const strategy of ['per-token', 'batched'] as const) {
          expect(
            firstBitDifference(b.forwardSync(x, s.rows, { strategy }), f.forwardSync(x, s.rows, { strategy })),
            `${strategy} I=${s.I}`,
          ).toBe(-1);
        }
        expect(firstBitDifference(b.paths(x, s.rows), f.paths(x, s.rows))).toBe(-1);
        b.dispose();
        f.dispose();
      }
    });
  }
});

describe('bf16: strategies, threads and sync/async agree bitwise', () => {
  const w = randomFff(768, 768, 11, 1, 21);
  const rows = 300;
  const x = randomArray(rows * 768, 1, rng(6));
  for (const which of supported) {
    it(`${which}`, async () => {
      const layer = buildFff(w, 'bf16');
      setIsa(which);
      await expectStrategiesAndThreadsBitwise(layer, x, rows, initialThreads);
      layer.dispose();
    });
  }
});

for (const [name, dtype, eps] of [
  ['ufb-tiny', 'bf16', U],
  ['ufb-tiny-k2', 'bf16', U],
  ['ufb-tiny', 'bf16-dot', 2 * U + U * U],
  ['ufb-tiny-k2', 'bf16-dot', 2 * U + U * U],
] as const) {
  describe(`${name}: fff_layer0 probe with ${dtype} weights`, () => {
    const { weights: w, x, expected, rows, paths: expectedPaths } = loadFffProbe(name);
    const { K, D, I: H } = w;
    const layer = buildFff(w, dtype);
    afterAll(() => layer.dispose());
    const nodes = 2 ** (D + 1) - 1;
    const L = D + 1;
    /** float64 logit and its |terms| scale A at flat node r for token t. */
    const logit = (t: number, r: number) => {
      let l = w.bIn[r];
      let a = Math.abs(w.bIn[r]);
      for (let i = 0; i < H; i++) {
        const p = w.wIn[r * H + i] * x[t * H + i];
        l += p;
        a += Math.abs(p);
      }
      return { l, a };
    };
    /** The worst-case bf16 bound of each output of token t on the reference path, plus 1e-5. */
    const bound = (t: number) => {
      const tol = new Float64Array(H).fill(1e-5);
      for (let k = 0; k < K; k++) {
        for (let d = 0; d < L; d++) {
          const r = k * nodes + expectedPaths[(t * K + k) * L + d];
          const { l, a } = logit(t, r);
          const node = eps * (Math.abs(gelu(l)) + 1.2 * a);
          for (let o = 0; o < H; o++) tol[o] += node * Math.abs(w.wOut[o * K * nodes + r]);
        }
      }
      return tol;
    };

    for (const which of supported) {
      for (const strategy of ['per-token', 'batched'] as const) {
        it(`${which} ${strategy}: paths and outputs within the ${dtype} bound`, async () => {
          setIsa(which);
          const y = await layer.forward(x, rows, { strategy });
          const paths = layer.paths(x, rows);
          let flips = 0;
          let maxErr = 0;
          let maxOfBound = 0;
          let maxY = 0;
          for (let t = 0; t < rows; t++) {
            let parted = false;
            for (let k = 0; k < K && !parted; k++) {
              for (let d = 1; d < L; d++) {
                const i = (t * K + k) * L + d;
                if (paths[i] !== expectedPaths[i]) {
                  const { l, a } = logit(t, k * nodes + expectedPaths[i - 1]);
                  expect(
                    Math.abs(l),
                    `token ${t} tree ${k} level ${d}: paths part at a logit of ${l} (A ${a})`,
                  ).toBeLessThanOrEqual(eps * a);
                  parted = true;
                  break;
                }
              }
              expect(paths[(t * K + k) * L], 'root').toBe(0);
            }
            if (parted) {
              flips++;
              continue;
            }
            const tol = bound(t);
            for (let o = 0; o < H; o++) {
              const e = Math.abs(y[t * H + o] - expected[t * H + o]);
              maxErr = Math.max(maxErr, e);
              maxY = Math.max(maxY, Math.abs(expected[t * H + o]));
              maxOfBound = Math.max(maxOfBound, e / tol[o]);
              expect(e, `token ${t} output ${o}`).toBeLessThanOrEqual(tol[o]);
            }
          }
          console.log(
            `${name} ${dtype} ${which} ${strategy}: ${flips} of ${rows} tokens took another path; others: max abs error ` +
              `${maxErr.toExponential(2)} (max |y| ${maxY.toFixed(3)}), ${maxOfBound.toFixed(3)} of the worst-case bound`,
          );
        });
      }
    }
  });
}
