/**
 * The native side of the int8 / bf16 dense layers: the binding's optional config.denseDtype and what isa()
 * reports about their kernels. (The loadModel option and the accuracy on the fixtures are tested with the option.)
 */
import { describe, expect, it } from 'vitest';
import { native } from '../lib/native';
import { isa } from '../lib/runtime';

const base = {
  family: 'crammed',
  hiddenSize: 8,
  numLayers: 1,
  numHeads: 2,
  headDim: 4,
  vocabSize: 5,
  maxPositions: 4,
  typeVocabSize: 0,
  normEps: 1e-12,
  ffn: { kind: 'dense', intermediateSize: 16 },
  head: 'none',
  hasPooler: false,
};

function make(extra: Record<string, unknown>): { weightBytes: number } {
  const model = new native.NativeBertModel({ ...base, ...extra } as never);
  for (const t of model.tensorNames()) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    model.setTensor(
      t.name,
      Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1) * 0.1 + (t.name.includes('norm') ? 1 : 0)),
      t.shape,
    );
  }
  model.finalize();
  const weightBytes = model.weightBytes();
  model.dispose();
  return { weightBytes };
}

describe('config.denseDtype (native binding)', () => {
  it("takes 'fp32' (the default when absent), 'int8' and 'bf16'; int8 and bf16 hold fewer weight bytes", () => {
    const absent = make({}).weightBytes;
    expect(make({ denseDtype: 'fp32' }).weightBytes).toBe(absent);
    const int8 = make({ denseDtype: 'int8' }).weightBytes;
    const bf16 = make({ denseDtype: 'bf16' }).weightBytes;
    expect(int8).toBeLessThan(absent);
    expect(bf16).toBeLessThan(absent);
  });

  it.each([['int4'], ['FP32'], [8], [null]])(
    'refuses denseDtype %j with ERR_FFF_INVALID_MODEL naming the field',
    (v) => {
      expect(() => new native.NativeBertModel({ ...base, denseDtype: v } as never)).toThrow(
        expect.objectContaining({
          code: 'ERR_FFF_INVALID_MODEL',
          message: expect.stringContaining('config.denseDtype'),
        }),
      );
    },
  );
});

describe('isa() reports the int8 / bf16 kernels', () => {
  it('names a kernel of the active set and the dot-product features', () => {
    const info = isa();
    expect(['amx-int8', 'avx512-vnni', 'avx-vnni', 'avx2', 'neon-i8mm', 'neon-sdot', 'scalar']).toContain(info.int8);
    expect(['amx-bf16', 'avx512-bf16', 'widen-avx2', 'neon-bf16', 'widen-neon', 'scalar']).toContain(info.bf16);
    for (const f of [
      'avx512vnni',
      'avxvnni',
      'amxTile',
      'amxInt8',
      'amxBf16',
      'amxPermitted',
      'neonDotprod',
      'neonI8mm',
    ]) {
      expect(typeof info.features[f]).toBe('boolean');
    }
    if (info.active === 'avx512' && info.features.avx512vnni) {
      expect(info.int8).toBe(info.features.amxPermitted ? 'amx-int8' : 'avx512-vnni');
    }
    if (info.active === 'avx2') expect(info.int8).toBe(info.features.avxvnni ? 'avx-vnni' : 'avx2');
    if (!info.features.amxInt8) expect(info.features.amxPermitted).toBe(false);
    if (info.active === 'avx512') {
      const amx = info.features.amxPermitted && info.features.amxBf16 && info.features.avx512vnni;
      expect(info.bf16).toBe(amx ? 'amx-bf16' : info.features.avx512bf16 ? 'avx512-bf16' : 'widen-avx2');
    }
    if (info.active === 'neon') expect(info.bf16).toBe(info.features.neonBf16 ? 'neon-bf16' : 'widen-neon');
    if (info.active === 'scalar') expect([info.int8, info.bf16]).toEqual(['scalar', 'scalar']);
  });
});
