/**
 * FastFeedforward with { weights: 'bf16-dot' }: bf16 weights, and x rounded to bf16 for the W_in dots (the CPU's
 * bf16 dot products, AVX512_BF16 VDPBF16PS). Every product of two bf16 values is exact in fp32, so:
 * - where an ISA widens (no bf16 dot unit: scalar, avx2, and avx512 without AVX512_BF16), the layer is bitwise
 *   the 'bf16' layer run on x rounded to bf16;
 * - where it uses the bf16 dot unit, only the fp32 summation order differs: paths agree except at a logit within
 *   fp32 rounding of 0, outputs within fp32 rounding of the widened result.
 * Strategies, threads and sync/async agree bitwise. The fixture probes are in fast-feedforward-bf16.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { FastFeedforward, isa, setIsa } from '../lib/index';
import { buildFff, expectStrategiesAndThreadsBitwise, fffOptions, restoreRuntimeAfterAll } from './helpers/layers';
import { firstBitDifference, randomArray, randomFff, rng } from './helpers/reference';

const info = isa();
const { initialThreads } = restoreRuntimeAfterAll();
const bf16DotUnit = (which: string) => which === 'avx512' && info.features.avx512bf16 === true;

/** float32 -> bf16 (nearest even; subnormals flush to zero), widened back. No NaN in test data. */
function roundBf16Daz(a: Float32Array): Float32Array {
  const out = Float32Array.from(a);
  const u = new Uint32Array(out.buffer);
  for (let i = 0; i < u.length; i++) {
    if ((u[i] & 0x7f800000) === 0) u[i] = (u[i] & 0x80000000) >>> 0;
    else u[i] = ((u[i] + 0x7fff + ((u[i] >>> 16) & 1)) & 0xffff0000) >>> 0;
  }
  return out;
}

describe("weights: 'bf16-dot'", () => {
  it('is accepted and reported, with the bf16 byte count', () => {
    const w = randomFff(4, 3, 2, 1, 8);
    const l = buildFff(w, 'bf16-dot');
    expect(l.weightDtype).toBe('bf16-dot');
    expect(l.weightBytes).toBe(7 * (2 * (32 + 32) + 4));
    l.dispose();
  });

  const shapes = [
    { I: 768, O: 768, D: 11, K: 1, rows: 300 },
    { I: 67, O: 33, D: 5, K: 3, rows: 40 },
    { I: 17, O: 65, D: 7, K: 2, rows: 9 },
  ];
  for (const which of info.supported) {
    it(`${which} (${bf16DotUnit(which) ? 'bf16 dot unit' : 'widened'}): against 'bf16' on the rounded x`, () => {
      for (const s of shapes) {
        const w = randomFff(s.I, s.O, s.D, s.K, s.I * 7 + s.D);
        const x = randomArray(s.rows * s.I, 1, rng(s.rows + 3 * s.O));
        const xr = roundBf16Daz(x);
        const d = buildFff(w, 'bf16-dot');
        const b = buildFff(w, 'bf16');
        setIsa(which);
        for (const strategy of ['per-token', 'batched'] as const) {
          const yd = d.forwardSync(x, s.rows, { strategy });
          const yb = b.forwardSync(xr, s.rows, { strategy });
          if (!bf16DotUnit(which)) {
            expect(firstBitDifference(yd, yb), `${strategy} I=${s.I}`).toBe(-1);
            expect(firstBitDifference(d.paths(x, s.rows), b.paths(xr, s.rows))).toBe(-1);
            continue;
          }
          // fp32 summation order only: outputs within 1e-4 of ||y|| per token where the paths agree.
          const pd = d.paths(x, s.rows);
          const pb = b.paths(xr, s.rows);
          const P = s.K * (s.D + 1);
          let flips = 0;
          for (let t = 0; t < s.rows; t++) {
            if (firstBitDifference(pd.subarray(t * P, (t + 1) * P), pb.subarray(t * P, (t + 1) * P)) !== -1) {
              flips++;
              continue;
            }
            let d2 = 0;
            let n2 = 0;
            for (let o = 0; o < s.O; o++) {
              d2 += (yd[t * s.O + o] - yb[t * s.O + o]) ** 2;
              n2 += yb[t * s.O + o] ** 2;
            }
            expect(Math.sqrt(d2), `${strategy} I=${s.I} token ${t}`).toBeLessThanOrEqual(1e-4 * Math.sqrt(n2) + 1e-30);
          }
          expect(flips, `${strategy} I=${s.I}: paths flipped`).toBeLessThanOrEqual(Math.ceil(s.rows / 100));
        }
        d.dispose();
        b.dispose();
      }
    });
  }

  it('strategies, threads and sync/async agree bitwise', async () => {
    const w = randomFff(768, 768, 11, 1, 23);
    const rows = 300;
    const x = randomArray(rows * 768, 1, rng(9));
    const layer = buildFff(w, 'bf16-dot');
    for (const which of info.supported) {
      setIsa(which);
      await expectStrategiesAndThreadsBitwise(layer, x, rows, initialThreads, `${which} `);
    }
    layer.dispose();
  });

  it('rejects a misspelt mode', () => {
    const w = randomFff(4, 3, 2, 1, 8);
    const fn = () => FastFeedforward.fromTorch({ ...fffOptions(w), weights: 'bf16dot' as never });
    expect(fn).toThrow(/Expected weights to be one of f32, bf16, bf16-dot but received string "bf16dot"/);
  });
});
