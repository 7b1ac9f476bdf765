/** Limits written on both sides of the native boundary: the native core owns each, TypeScript must agree. */
import { describe, expect, it } from 'vitest';
import { FastFeedforward } from '../lib/index';
import { FFF_MAX_DEPTH } from '../lib/limits';
import { native } from '../lib/native';

describe('limits shared with the native core', () => {
  it('FFF_MAX_DEPTH is the core kFffMaxDepth', () => {
    expect(native.fffMaxDepth).toBe(FFF_MAX_DEPTH);
  });

  it('the deepest tree is accepted and one deeper is refused by TypeScript first', () => {
    const tiny = (depth: number) => {
      const nodes = 2 ** (depth + 1) - 1;
      return {
        inputWidth: 1,
        outputWidth: 1,
        depth,
        trees: 1,
        linearInWeight: new Float32Array(nodes),
        linearInBias: new Float32Array(nodes),
        linearOutWeight: new Float32Array(nodes),
      };
    };
    expect(() => FastFeedforward.fromTorch(tiny(FFF_MAX_DEPTH + 1))).toThrow(
      expect.objectContaining({ code: 'ERR_FFF_INVALID_ARGUMENT' }),
    );
    const small = FastFeedforward.fromTorch(tiny(3)); // the deepest (2^25 - 1 nodes) would take 400 MB here
    small.dispose();
  });
});
