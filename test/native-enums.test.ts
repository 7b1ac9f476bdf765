/**
 * The enums crossing the boundary: each is a table of names in the binding (native/binding/common.h Named),
 * exported as enumNames and read from there by lib/. The TypeScript unions (lib/native-types.ts) are the
 * tables' names, every name reaches its own core value (and comes back where the addon echoes it), and a bad
 * name, or the integer the boundary used to take, gets its ERR_FFF_* code from the addon itself.
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../lib/errors';
import { native } from '../lib/native';
import type {
  IsaName,
  NativeActivation,
  NativeBertConfig,
  NativeDenseDtype,
  NativeEnumNames,
  NativeFastFeedforward,
  NativeProbeKind,
  NativeStrategy,
  NativeWeightDtype,
} from '../lib/native-types';
import { architectures } from './helpers/architectures';
import { expectFffError } from './helpers/errors';
import { fffReference, gelu, maxAbsDiff, randomFff } from './helpers/reference';

/** Each union written as a Record: a name added to or dropped from a union fails tsc here. */
const UNIONS: { [K in keyof NativeEnumNames]: Record<NativeEnumNames[K][number], true> } = {
  family: { crammed: true, hf: true },
  ffn: { fff: true, dense: true },
  head: { none: true, mlm: true, classification: true },
  crammedPooler: { avg: true, zero_index: true },
  denseDtype: { fp32: true, int8: true, bf16: true } satisfies Record<NativeDenseDtype, true>,
  fffWeights: { f32: true, bf16: true, 'bf16-dot': true } satisfies Record<NativeWeightDtype, true>,
  fffStrategy: { auto: true, 'per-token': true, batched: true } satisfies Record<NativeStrategy, true>,
  activation: { none: true, gelu: true, tanh: true } satisfies Record<NativeActivation, true>,
  fffProbe: { dot: true, gather: true, read: true } satisfies Record<NativeProbeKind, true>,
  isa: { scalar: true, avx2: true, avx512: true, neon: true } satisfies Record<IsaName, true>,
};

/** Not names: another case, a prefix, an Object.prototype key, the integer 0 and 1, null. */
function nearMisses(names: readonly string[]): unknown[] {
  return [names[0]?.toUpperCase(), names[0]?.slice(0, -1), '', 'constructor', 0, 1, null];
}

const w = randomFff(5, 3, 2, 2, 11);
const x = Float32Array.from({ length: 4 * 5 }, (_, i) => Math.sin(i * 1.7) * 2);

/** The native FFF layer of `w`, with `weights` passed as given (absent when undefined). */
function nativeFff(weights?: unknown): NativeFastFeedforward {
  const N = native.NativeFastFeedforward as unknown as new (...a: unknown[]) => NativeFastFeedforward;
  return weights === undefined
    ? new N(5, 3, 2, 2, w.wIn, w.bIn, w.wOut)
    : new N(5, 3, 2, 2, w.wIn, w.bIn, w.wOut, weights);
}

describe('enums cross the boundary as names, one table each', () => {
  it('the TypeScript unions are the binding`s tables', () => {
    expect(Object.keys(native.enumNames).sort()).toEqual(Object.keys(UNIONS).sort());
    for (const [key, union] of Object.entries(UNIONS)) {
      const names = native.enumNames[key as keyof NativeEnumNames];
      expect(new Set(names).size, key).toBe(names.length);
      expect([...names].sort(), key).toEqual(Object.keys(union).sort());
    }
  });

  it('every FFF weights name round-trips through weightDtype()', () => {
    for (const name of native.enumNames.fffWeights) {
      const layer = nativeFff(name);
      expect(layer.weightDtype()).toBe(name);
      layer.dispose();
    }
    const layer = nativeFff();
    expect(layer.weightDtype()).toBe('f32'); // absent: f32
    layer.dispose();
  });

  it('every strategy name runs the FFF and gives the float64 reference`s outputs and paths', () => {
    const layer = nativeFff();
    const rows = x.length / 5;
    for (const strategy of native.enumNames.fffStrategy) {
      const out = new Float32Array(rows * 3);
      const paths = new Int32Array(rows * 2 * 3);
      layer.forwardSync(x, rows, out, paths, strategy);
      for (let r = 0; r < rows; r++) {
        const ref = fffReference(w, x, r);
        expect(ref.margin, 'the reference paths are well above rounding').toBeGreaterThan(1e-4);
        expect(maxAbsDiff(out.subarray(r * 3, r * 3 + 3), ref.y), strategy).toBeLessThan(1e-5);
        expect(Array.from(paths.subarray(r * 6, r * 6 + 6)), strategy).toEqual(ref.path);
      }
    }
    layer.dispose();
  });

  it('every instruction set name round-trips through setIsa() and isa()', () => {
    const { active, supported } = native.isa();
    try {
      for (const name of native.enumNames.isa) {
        if (supported.includes(name)) {
          native.setIsa(name);
          expect(native.isa().active).toBe(name);
        } else {
          expectFffError(() => native.setIsa(name), ErrorCode.UNSUPPORTED_ISA);
        }
      }
    } finally {
      native.setIsa(active);
    }
  });

  it('every activation name applies its own function', () => {
    const v = [-2.5, -0.75, 0, 0.5, 3];
    const fns: Record<NativeActivation, (t: number) => number> = { none: (t) => t, gelu, tanh: Math.tanh };
    const linear = new native.NativeLinear(1, 1, new Float32Array([1]), null);
    for (const activation of native.enumNames.activation) {
      const out = new Float32Array(v.length);
      linear.forwardSync(new Float32Array(v), v.length, out, activation, null);
      expect(maxAbsDiff(out, v.map(fns[activation])), activation).toBeLessThan(1e-6);
    }
    linear.dispose();
  });

  it('every configuration name round-trips through NativeBertModel.config()', () => {
    const seen: { [K in 'family' | 'ffn' | 'head' | 'crammedPooler' | 'denseDtype']: Set<string> } = {
      family: new Set(),
      ffn: new Set(),
      head: new Set(),
      crammedPooler: new Set(),
      denseDtype: new Set(),
    };
    // The architectures, and each crammed classification head with every pooler kind.
    const configs = [...architectures('crammed'), ...architectures('hf')].flatMap((c): NativeBertConfig[] => {
      const pooler = c.crammedPooler;
      if (!pooler) return [c];
      return native.enumNames.crammedPooler.map((kind) => ({ ...c, crammedPooler: { ...pooler, kind } }));
    });
    for (const denseDtype of native.enumNames.denseDtype) {
      for (const config of configs) {
        const m = new native.NativeBertModel({ ...config, denseDtype } satisfies NativeBertConfig);
        const got = m.config();
        m.dispose();
        expect(got.family).toBe(config.family);
        expect(got.ffn.kind).toBe(config.ffn.kind);
        expect(got.head).toBe(config.head);
        expect(got.crammedPooler?.kind).toBe(config.crammedPooler?.kind);
        expect(got.denseDtype).toBe(denseDtype);
        seen.family.add(got.family);
        seen.ffn.add(got.ffn.kind);
        seen.head.add(got.head);
        if (got.crammedPooler) seen.crammedPooler.add(got.crammedPooler.kind);
        seen.denseDtype.add(got.denseDtype);
      }
    }
    for (const [key, names] of Object.entries(seen))
      expect([...names].sort(), key).toEqual([...native.enumNames[key as keyof typeof seen]].sort());
  });

  it('a bad name gets ERR_FFF_INVALID_ARGUMENT from the layer binding, listing the names', () => {
    const layer = nativeFff();
    const linear = new native.NativeLinear(1, 1, new Float32Array([1]), null);
    const out = new Float32Array(4 * 3);
    const list = (names: readonly string[]) => new RegExp(`one of ${names.map((n) => `'${n}'`).join(', ')} but`);
    const { fffStrategy, activation, fffWeights, fffProbe } = native.enumNames;
    for (const bad of nearMisses(fffStrategy))
      expectFffError(
        () => layer.forwardSync(x, 4, out, null, bad as never),
        ErrorCode.INVALID_ARGUMENT,
        list(fffStrategy),
      );
    for (const bad of nearMisses(activation))
      expectFffError(
        () => linear.forwardSync(new Float32Array(1), 1, new Float32Array(1), bad as never, null),
        ErrorCode.INVALID_ARGUMENT,
        list(activation),
      );
    for (const bad of nearMisses(fffWeights))
      expectFffError(() => nativeFff(bad), ErrorCode.INVALID_ARGUMENT, list(fffWeights));
    for (const bad of nearMisses(native.enumNames.isa).filter((b) => typeof b === 'string'))
      expectFffError(() => native.setIsa(bad as string), ErrorCode.INVALID_ARGUMENT, list(native.enumNames.isa));
    for (const bad of nearMisses(fffProbe))
      expectFffError(() => native.fffProbe(bad as never, 'f32', 0, 1), ErrorCode.INVALID_ARGUMENT, list(fffProbe));
    layer.dispose();
    linear.dispose();
  });

  it('a bad configuration name gets ERR_FFF_INVALID_MODEL naming the field', () => {
    const [config] = architectures('crammed').filter((c) => c.head === 'classification');
    expect(config?.crammedPooler).toBeDefined();
    if (!config?.crammedPooler) return;
    const { family, ffn, head, crammedPooler, denseDtype } = native.enumNames;
    const cases: Array<[string, readonly string[], (bad: unknown) => unknown]> = [
      ['family', family, (bad) => ({ ...config, family: bad })],
      ['ffn.kind', ffn, (bad) => ({ ...config, ffn: { ...config.ffn, kind: bad } })],
      ['head', head, (bad) => ({ ...config, head: bad })],
      [
        'crammedPooler.kind',
        crammedPooler,
        (bad) => ({ ...config, crammedPooler: { ...config.crammedPooler, kind: bad } }),
      ],
      ['denseDtype', denseDtype, (bad) => ({ ...config, denseDtype: bad })],
    ];
    for (const [field, names, make] of cases) {
      for (const bad of nearMisses(names)) {
        expectFffError(
          () => new native.NativeBertModel(make(bad) as never),
          ErrorCode.INVALID_MODEL,
          new RegExp(`^Expected config\\.${field.replace('.', '\\.')} to be one of '${names[0]}'`),
        );
      }
    }
  });

  it('every error code the addon throws is one of lib/errors.ts ErrorCode', () => {
    const codes: readonly string[] = Object.values(ErrorCode);
    expect(native.errorCodes.length).toBeGreaterThan(10);
    expect(new Set(native.errorCodes).size).toBe(native.errorCodes.length);
    for (const code of native.errorCodes) expect(codes, code).toContain(code);
  });
});
