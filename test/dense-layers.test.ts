/**
 * Linear and DenseFeedforward against a plain TypeScript computation in float64, for every instruction set the
 * machine runs, on awkward shapes, with every epilogue; sync/async and thread counts; bad input.
 */
import { describe, expect, it } from 'vitest';
import { type Activation, DenseFeedforward, ErrorCode, isa, Linear, setIsa, setThreads } from '../lib/index';
import { restoreRuntimeAfterAll } from './helpers/layers';
import { firstBitDifference, gelu, maxAbsDiff, randomArray, rng } from './helpers/reference';

const supported = isa().supported;
restoreRuntimeAfterAll();

/** y[M, N] = act(x[M, K] W[N, K]^T + b) + residual, in float64. */
function linearRef(
  x: Float32Array,
  M: number,
  K: number,
  w: Float32Array,
  N: number,
  b: Float32Array | null,
  act: Activation,
  residual?: Float32Array,
): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = b ? b[n] : 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      if (act === 'gelu') s = gelu(s);
      else if (act === 'tanh') s = Math.tanh(s);
      y[m * N + n] = s + (residual ? residual[m * N + n] : 0);
    }
  }
  return y;
}

// fp32 accumulation over K terms of magnitude ~1/sqrt(K): error grows like sqrt(K) ulps of the sum.
const tol = (K: number) => 1e-6 * (4 + Math.sqrt(K) * 4);

describe('Linear', () => {
  const shapes: Array<[number, number, number]> = [
    [1, 1, 1],
    [1, 67, 5],
    [17, 1, 33],
    [3, 17, 16],
    [16, 16, 16],
    [33, 65, 67],
    [67, 63, 64],
    [5, 768, 31],
    [130, 200, 129],
  ];
  for (const which of supported) {
    it(`${which}: awkward shapes, bias, activations, residual`, async () => {
      setIsa(which);
      for (const [M, N, K] of shapes) {
        const next = rng(M * 10007 + N * 101 + K);
        const w = randomArray(N * K, 1 / Math.sqrt(K), next);
        const b = randomArray(N, 0.5, next);
        const x = randomArray(M * K, 1, next);
        const res = randomArray(M * N, 1, next);
        for (const act of ['none', 'gelu', 'tanh'] as const) {
          const withBias = act !== 'tanh';
          const layer = Linear.fromTorch({ weight: w, bias: withBias ? b : null, inFeatures: K });
          expect([layer.outFeatures, layer.inFeatures]).toEqual([N, K]);
          const got = layer.forwardSync(x, M, { activation: act });
          expect(
            maxAbsDiff(got, linearRef(x, M, K, w, N, withBias ? b : null, act)),
            `${M}x${N}x${K} ${act}`,
          ).toBeLessThanOrEqual(tol(K));
          const gotRes = await layer.forward(x, M, { activation: act, residual: res });
          expect(
            maxAbsDiff(gotRes, linearRef(x, M, K, w, N, withBias ? b : null, act, res)),
            `${M}x${N}x${K} ${act}+residual`,
          ).toBeLessThanOrEqual(tol(K));
          layer.dispose();
        }
      }
    });
  }

  it('shape from bias or outFeatures; results independent of threads; sync equals async', async () => {
    const next = rng(1);
    const K = 96,
      N = 80,
      M = 37;
    const w = randomArray(N * K, 0.1, next);
    const b = randomArray(N, 0.1, next);
    const x = randomArray(M * K, 1, next);
    const a = Linear.fromTorch({ weight: w, bias: b });
    const c = Linear.fromTorch({ weight: w, bias: b, outFeatures: N });
    expect([a.outFeatures, a.inFeatures]).toEqual([N, K]);
    for (const which of supported) {
      setIsa(which);
      setThreads(1);
      const base = a.forwardSync(x, M);
      for (const n of [2, 3]) {
        setThreads(n);
        expect(firstBitDifference(a.forwardSync(x, M), base)).toBe(-1);
        expect(firstBitDifference(await c.forward(x, M), base)).toBe(-1);
      }
    }
    a.dispose();
    c.dispose();
  });

  it('bad input', async () => {
    expect(() => Linear.fromTorch({ weight: new Float32Array(6) })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_SHAPE }),
    );
    expect(() => Linear.fromTorch({ weight: new Float32Array(7), inFeatures: 2 })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_LENGTH }),
    );
    expect(() => Linear.fromTorch({ weight: new Float32Array(6), bias: new Float32Array(4) })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_LENGTH }),
    );
    expect(() => Linear.fromTorch({ weight: new Float32Array(6), inFeatures: 2, outFeatures: 4 })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_LENGTH }),
    );
    expect(() => Linear.fromTorch({ weight: [1, 2] as never, inFeatures: 2 })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_TYPE }),
    );
    const layer = Linear.fromTorch({ weight: new Float32Array(6), inFeatures: 2 });
    expect(() => layer.forwardSync(new Float32Array(5), 2)).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_LENGTH }),
    );
    expect(() => layer.forwardSync(new Float32Array(4), 2, { activation: 'relu' as never })).toThrow(/activation/);
    expect(() => layer.forwardSync(new Float32Array(4), 2, { residual: new Float32Array(5) })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_LENGTH }),
    );
    layer.dispose();
    expect(() => layer.forwardSync(new Float32Array(4), 2)).toThrow(
      expect.objectContaining({ code: ErrorCode.DISPOSED }),
    );
    await expect(layer.forward(new Float32Array(4), 2)).rejects.toMatchObject({ code: ErrorCode.DISPOSED });
  });
});

describe('DenseFeedforward', () => {
  for (const which of supported) {
    it(`${which}: y = W2 GELU(W1 x + b1) + b2 against float64`, async () => {
      setIsa(which);
      for (const [M, I, H, O] of [
        [1, 7, 13, 5],
        [9, 32, 67, 31],
        [40, 64, 300, 48],
      ] as const) {
        const next = rng(M + I + H + O);
        const w1 = randomArray(H * I, 1 / Math.sqrt(I), next);
        const b1 = randomArray(H, 0.3, next);
        const w2 = randomArray(O * H, 1 / Math.sqrt(H), next);
        const b2 = randomArray(O, 0.3, next);
        const x = randomArray(M * I, 1, next);
        const ff = DenseFeedforward.fromTorch({ inWeight: w1, inBias: b1, outWeight: w2, outBias: b2 });
        expect([ff.inputWidth, ff.hiddenWidth, ff.outputWidth]).toEqual([I, H, O]);
        const h = Float32Array.from(linearRef(x, M, I, w1, H, b1, 'gelu'));
        const ref = linearRef(h, M, H, w2, O, b2, 'none');
        expect(maxAbsDiff(ff.forwardSync(x, M), ref)).toBeLessThanOrEqual(tol(I) + tol(H));
        expect(maxAbsDiff(await ff.forward(x, M), ref)).toBeLessThanOrEqual(tol(I) + tol(H));
        ff.dispose();
      }
    });
  }

  it('without biases needs the widths; bad input; dispose', async () => {
    expect(() =>
      DenseFeedforward.fromTorch({ inWeight: new Float32Array(12), outWeight: new Float32Array(12) }),
    ).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_SHAPE }));
    const ff = DenseFeedforward.fromTorch({
      inWeight: new Float32Array(12),
      outWeight: new Float32Array(12),
      inputWidth: 4,
    });
    expect([ff.inputWidth, ff.hiddenWidth, ff.outputWidth]).toEqual([4, 3, 4]);
    expect(Array.from(ff.forwardSync(new Float32Array(8), 2))).toEqual(new Array(8).fill(0));
    expect(() => ff.forwardSync(new Float32Array(7), 2)).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_LENGTH }),
    );
    ff.dispose();
    await expect(ff.forward(new Float32Array(8), 2)).rejects.toMatchObject({ code: ErrorCode.DISPOSED });
  });
});
