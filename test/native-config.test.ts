/**
 * The native configuration contract: the keys NativeBertConfig types (lib/native-types.ts) are the keys the
 * addon reads (bertConfigKeys, native/binding/model.cpp), every field set in TypeScript reaches C++ unchanged
 * (NativeBertModel.config() echoes what was parsed), and a missing or renamed field is refused, not defaulted.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/bert/config';
import { DENSE_DTYPES, nativeConfig } from '../lib/bert/encoder';
import { SafetensorsFile } from '../lib/formats/safetensors';
import { native } from '../lib/native';
import type { NativeBertConfig } from '../lib/native-types';
import { architectures } from './helpers/architectures';

/** Every key of NativeBertConfig: the type makes this list complete (a key added or renamed there fails tsc). */
const KEYS: Record<keyof NativeBertConfig, true> = {
  family: true,
  hiddenSize: true,
  numLayers: true,
  numHeads: true,
  headDim: true,
  vocabSize: true,
  maxPositions: true,
  typeVocabSize: true,
  normEps: true,
  ffn: true,
  head: true,
  numLabels: true,
  crammedPooler: true,
  hasPooler: true,
  denseDtype: true,
};

function echo(config: NativeBertConfig) {
  const m = new native.NativeBertModel(config);
  try {
    return m.config();
  } finally {
    m.dispose();
  }
}

describe('native config: one contract between NativeBertConfig and parse_config', () => {
  it('the TypeScript keys are the keys the addon reads', () => {
    expect(native.bertConfigKeys.length).toBeGreaterThan(10);
    expect([...native.bertConfigKeys].sort()).toEqual(Object.keys(KEYS).sort());
  });

  it('every field reaches C++ unchanged, for every architecture and dtype', () => {
    let n = 0;
    for (const family of ['crammed', 'hf'] as const) {
      for (const config of architectures(family)) {
        for (const denseDtype of DENSE_DTYPES) {
          const got = echo({ ...config, denseDtype });
          expect(Object.keys(got).sort()).toEqual(Object.keys(KEYS).sort());
          expect(got).toEqual({ ...config, normEps: Math.fround(config.normEps), denseDtype });
          n++;
        }
      }
    }
    expect(n).toBe(33);
  });

  it('the loader`s configuration of each fixture round-trips', () => {
    for (const name of ['ufb-tiny', 'bert-tiny-mlm', 'bert-tiny-cls']) {
      const dir = path.join(__dirname, 'fixtures', name);
      const config = nativeConfig(parseConfig(dir, SafetensorsFile.open(path.join(dir, 'model.safetensors'))), 'int8');
      expect(echo(config)).toEqual({ ...config, normEps: Math.fround(config.normEps) });
    }
  });

  it('the pooler width has one definition: the declared pooler weight rows, 0 without a pooler', () => {
    const widths = new Set<number>();
    for (const family of ['crammed', 'hf'] as const) {
      for (const config of architectures(family)) {
        const m = new native.NativeBertModel(config);
        const pooler = m.tensorNames().find((t) => t.name === 'pooler.weight');
        expect(m.poolerWidth()).toBe(pooler?.shape[0] ?? 0);
        widths.add(m.poolerWidth());
        m.dispose();
      }
    }
    expect([...widths].sort()).toEqual([0, 6, 8]); // none, crammed head dim, hf hidden
  });

  it('a missing (or renamed) field is refused with ERR_FFF_INVALID_MODEL naming it', () => {
    const [cls] = architectures('crammed').filter((c) => c.head === 'classification' && c.ffn.kind === 'fff');
    expect(cls).toBeDefined();
    const required = Object.keys(KEYS).filter((k) => k !== 'denseDtype') as (keyof NativeBertConfig)[];
    for (const key of required) {
      const { [key]: value, ...rest } = cls;
      expect(value).toBeDefined();
      expect(() => new native.NativeBertModel({ ...rest, [`${key}Renamed`]: value } as never)).toThrow(
        expect.objectContaining({ code: 'ERR_FFF_INVALID_MODEL', message: expect.stringContaining(`config.${key}`) }),
      );
    }
  });
});
