/**
 * The shared option checks (lib/util/options.ts) and the entry points that pick a value from a list through
 * expectOneOf: one message style, ERR_FFF_INVALID_ARGUMENT, and no name inherited from Object.prototype
 * ('constructor', 'toString') taken for a choice.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, FastFeedforward, Linear, setIsa } from '../lib/index';
import { expectOneOf, expectOptions } from '../lib/util/options';
import { expectFffError } from './helpers/errors';
import { fffOptions } from './helpers/layers';
import { randomFff } from './helpers/reference';

const invalid = (fn: () => unknown, message: RegExp) => expectFffError(fn, ErrorCode.INVALID_ARGUMENT, message);

describe('expectOneOf', () => {
  const choices = ['a', 'b-c'] as const;
  it('returns a listed value, the fallback for undefined, and refuses anything else', () => {
    expect(expectOneOf('x', 'b-c', choices, 'a')).toBe('b-c');
    expect(expectOneOf('x', undefined, choices, 'a')).toBe('a');
    invalid(() => expectOneOf('x', undefined, choices), /^Expected x to be one of a, b-c but received undefined/);
    for (const bad of ['A', '', 'constructor', 'toString', 1, null, ['a']])
      invalid(() => expectOneOf('x', bad, choices, 'a'), /^Expected x to be one of a, b-c but received /);
  });

  it('expectOptions takes an object or undefined', () => {
    expect(expectOptions('o', undefined)).toEqual({});
    expect(expectOptions('o', { k: 1 })).toEqual({ k: 1 });
    for (const bad of [null, 1, 'x', []]) invalid(() => expectOptions('o', bad), /^Expected o to be an object/);
  });
});

describe('entry points that pick from a list', () => {
  const x = new Float32Array(4 * 3).fill(0.5);
  it('Linear activation', () => {
    const layer = Linear.fromTorch({ weight: new Float32Array(2 * 3).fill(1), inFeatures: 3 });
    for (const activation of ['relu', 'constructor', 'toString'])
      invalid(
        () => layer.forwardSync(x, 4, { activation: activation as never }),
        /^Expected activation to be one of none, gelu, tanh but received string/,
      );
    expect(layer.forwardSync(x, 4, { activation: 'tanh' })[0]).toBeCloseTo(Math.tanh(1.5), 6);
    layer.dispose();
  });

  it('FastFeedforward strategy and weights', () => {
    const w = randomFff(3, 2, 1, 1, 7);
    const layer = FastFeedforward.fromTorch(fffOptions(w));
    for (const strategy of ['fast', 'constructor', 'toString'])
      invalid(
        () => layer.forwardSync(x, 4, { strategy: strategy as never }),
        /^Expected strategy to be one of auto, per-token, batched but received string/,
      );
    expect(layer.forwardSync(x, 4, { strategy: 'batched' })).toEqual(layer.forwardSync(x, 4));
    layer.dispose();
    invalid(
      () => FastFeedforward.fromTorch({ ...fffOptions(w), weights: 'toString' as never }),
      /^Expected weights to be one of f32, bf16, bf16-dot but received string "toString"/,
    );
  });

  it('setIsa', () => {
    invalid(() => setIsa('constructor' as never), /^Expected isa to be one of scalar, avx2, avx512, neon/);
  });
});
