// alignedFloat32Array and the layers' own outputs start on a 64-byte boundary (a cache line), and the results do
// not depend on where the caller's arrays start: aligned, 4 or 16 bytes past a line, sync and async, every ISA.
import { describe, expect, it } from 'vitest';
import {
  alignedFloat32Array,
  DATA_ALIGNMENT,
  DenseFeedforward,
  ErrorCode,
  FastFeedforward,
  isa,
  Linear,
  setIsa,
} from '../lib/index';
import { native } from '../lib/native';
import { fffOptions, restoreRuntimeAfterAll } from './helpers/layers';
import { firstBitDifference, randomArray, randomFff, rng } from './helpers/reference';

restoreRuntimeAfterAll();

/** The array's data address modulo DATA_ALIGNMENT, from the addon's view of its buffer. */
function misalignment(a: Float32Array): number {
  const toBoundary = native.alignmentOffset(a.buffer as ArrayBuffer);
  return (((a.byteOffset - toBoundary) % DATA_ALIGNMENT) + DATA_ALIGNMENT) % DATA_ALIGNMENT;
}

/** A copy of `a` whose data starts `bytes` past a 64-byte boundary. */
function placedAt(a: Float32Array, bytes: number): Float32Array {
  const base = alignedFloat32Array(a.length + DATA_ALIGNMENT / 4);
  const out = new Float32Array(base.buffer, base.byteOffset + bytes, a.length);
  out.set(a);
  return out;
}

function expectCode(fn: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect((thrown as { code?: string } | undefined)?.code).toBe(code);
}

describe('alignedFloat32Array', () => {
  it('gives zeroed arrays of the length asked, on a cache line, for every length', () => {
    for (const n of [0, 1, 3, 16, 17, 768, 2048 * 768 + 5]) {
      const a = alignedFloat32Array(n);
      expect(a).toBeInstanceOf(Float32Array);
      expect(a.length).toBe(n);
      expect(misalignment(a), `length ${n}`).toBe(0);
      expect(a.buffer.byteLength - a.byteOffset).toBeGreaterThanOrEqual(4 * n);
      expect(a.every((v) => v === 0)).toBe(true);
    }
  });

  it('refuses lengths that are not integers in [0, 2^32] with ERR_FFF_INVALID_ARGUMENT', () => {
    for (const bad of [-1, 1.5, Number.NaN, Infinity, 2 ** 32 + 1, '8', null]) {
      expectCode(() => alignedFloat32Array(bad as number), ErrorCode.INVALID_ARGUMENT);
    }
  });

  it('the addon refuses anything but an ArrayBuffer', () => {
    for (const bad of [new Float32Array(4), {}, 3, undefined]) {
      expectCode(() => native.alignmentOffset(bad as ArrayBuffer), ErrorCode.INVALID_ARGUMENT);
    }
  });

  it('the placement helper of these tests can miss a cache line (the check above can fail)', () => {
    expect(misalignment(placedAt(new Float32Array(8), 4))).toBe(4);
    expect(misalignment(placedAt(new Float32Array(8), 16))).toBe(16);
  });
});

describe('layer outputs start on a cache line', () => {
  const w = randomFff(48, 40, 5, 2, 7100);
  const fff = FastFeedforward.fromTorch(fffOptions(w));
  const dense = DenseFeedforward.fromTorch({
    inWeight: randomArray(32 * 48, 0.2, rng(7101)),
    inBias: randomArray(32, 0.1, rng(7102)),
    outWeight: randomArray(40 * 32, 0.2, rng(7103)),
    outBias: randomArray(40, 0.1, rng(7104)),
  });
  const linear = Linear.fromTorch({ weight: randomArray(40 * 48, 0.2, rng(7105)), outFeatures: 40 });
  const x = randomArray(5 * 48, 1, rng(7106));

  it('forwardSync and forward without `out`', async () => {
    for (const layer of [fff, dense, linear]) {
      expect(misalignment(layer.forwardSync(x, 5))).toBe(0);
      const y = await layer.forward(x, 5);
      expect(misalignment(y)).toBe(0);
      // forward()'s new output is a buffer of its own size (the addon's memory), not a view into a larger one.
      expect(y.byteOffset).toBe(0);
      expect(y.buffer.byteLength).toBe(y.byteLength);
    }
  });

  it('gives the same bits for inputs and outputs 0, 4 and 16 bytes past a line, sync and async, every ISA', async () => {
    for (const name of isa().supported) {
      setIsa(name);
      for (const layer of [fff, dense, linear]) {
        const base = layer.forwardSync(placedAt(x, 0), 5);
        for (const bytes of [4, 16, 48]) {
          const xi = placedAt(x, bytes);
          const out = placedAt(new Float32Array(5 * 40), bytes);
          expect(misalignment(xi)).toBe(bytes);
          layer.forwardSync(xi, 5, { out });
          expect(firstBitDifference(out, base), `${name} sync x and out at +${bytes}`).toBe(-1);
          expect(firstBitDifference(await layer.forward(xi, 5), base), `${name} async x at +${bytes}`).toBe(-1);
        }
      }
    }
  });
});
