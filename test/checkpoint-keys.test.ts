/**
 * The core's tensor names (native/src/bert.cpp declare(), listed by NativeBertModel.tensorNames()) against the
 * checkpoint-key table of lib/bert/checkpoint-keys.ts, for every architecture the core builds: every declared
 * name has checkpoint keys, and every table entry is declared by some architecture (no stale entry).
 */

import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bodyKeyPrefixes,
  checkpointKeys,
  checkpointTable,
  hfPrefix,
  isBodyTensor,
  layerKeyPattern,
} from '../lib/bert/checkpoint-keys';
import { parseConfig } from '../lib/bert/config';
import { createEncoder } from '../lib/bert/encoder';
import { ErrorCode } from '../lib/errors';
import { SafetensorsFile } from '../lib/formats/safetensors';
import type { TensorSource } from '../lib/formats/tensors';
import { native } from '../lib/native';
import type { NativeBertConfig } from '../lib/native-types';
import { architectures } from './helpers/architectures';
import { expectFffError } from './helpers/errors';

function declared(config: NativeBertConfig): string[] {
  const m = new native.NativeBertModel(config);
  const names = m.tensorNames().map((t) => t.name);
  m.dispose();
  return names;
}

describe('checkpoint keys: one table, checked against the names the core declares', () => {
  for (const family of ['crammed', 'hf'] as const) {
    it(`${family}: every declared tensor has checkpoint keys, every table entry is declared`, () => {
      const used = new Set<string>();
      const configs = architectures(family);
      expect(configs.length).toBeGreaterThanOrEqual(family === 'hf' ? 5 : 6);
      for (const config of configs) {
        const names = declared(config);
        expect(names.length).toBeGreaterThan(0);
        for (const name of names) {
          const keys = checkpointKeys(family, name, 'bert.');
          expect(keys, `${family} ${name}`).not.toEqual([]);
          for (const k of keys) expect(k).not.toMatch(/[{}]/);
          used.add(name.replace(/^layers\.\d+\./, 'layers.{i}.'));
        }
      }
      expect([...used].sort()).toEqual(Object.keys(checkpointTable(family)).sort());
    });
  }

  it('substitutes the layer index and the HF prefix', () => {
    expect(checkpointKeys('crammed', 'layers.7.attn.qkv.weight')).toEqual([
      'encoder.layers.7.attn.self_attention.query_key_value.weight',
    ]);
    expect(checkpointKeys('hf', 'layers.12.norm2.bias', 'bert.')).toEqual([
      'bert.encoder.layer.12.output.LayerNorm.bias',
      'bert.encoder.layer.12.output.LayerNorm.beta',
    ]);
    expect(checkpointKeys('hf', 'classifier.weight', 'bert.')).toEqual(['classifier.weight']);
    expect(checkpointKeys('crammed', 'no.such.tensor')).toEqual([]);
  });

  it('finds the HF prefix and the layer keys with it', () => {
    const source = (names: string[]): TensorSource => ({
      names: () => names,
      info: (n) => (names.includes(n) ? { name: n, dtype: 'F32', shape: [1] } : undefined),
      readF32: () => new Float32Array(1),
    });
    expect(hfPrefix(source(['bert.embeddings.word_embeddings.weight']))).toBe('bert.');
    expect(hfPrefix(source(['embeddings.word_embeddings.weight']))).toBe('');
    expect(layerKeyPattern('hf', 'bert.').exec('bert.encoder.layer.3.output.dense.weight')?.[1]).toBe('3');
    expect(layerKeyPattern('hf', 'bert.').exec('encoder.layer.3.output.dense.weight')).toBeNull();
    expect(layerKeyPattern('crammed').exec('encoder.layers.11.norm1.weight')?.[1]).toBe('11');
  });

  it('the encoder body`s key prefixes come from the table: every body key has one, no head key does', () => {
    expect(bodyKeyPrefixes('crammed')).toEqual(['encoder.']);
    expect(bodyKeyPrefixes('hf', 'bert.').sort()).toEqual(['bert.embeddings.', 'bert.encoder.']);
    expect(bodyKeyPrefixes('hf').sort()).toEqual(['embeddings.', 'encoder.']);
    for (const family of ['crammed', 'hf'] as const) {
      const body = bodyKeyPrefixes(family, 'bert.');
      for (const name of Object.keys(checkpointTable(family))) {
        const inBody = isBodyTensor(name);
        for (const key of checkpointKeys(family, name, 'bert.'))
          expect(
            body.some((b) => key.startsWith(b)),
            `${family} ${name}: ${key}`,
          ).toBe(inBody);
      }
    }
  });

  it('a checkpoint tensor under the body`s prefixes that nothing reads is refused; one elsewhere is not', () => {
    for (const [name, extraBody] of [
      ['ufb-tiny', 'encoder.layers.0.attn.dense.bias'],
      ['bert-tiny-mlm', 'bert.encoder.layer.0.attention.self.rotary.weight'],
    ] as const) {
      const dir = path.join(__dirname, 'fixtures', name);
      const model = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
      const config = parseConfig(dir, model);
      const withExtra = (extra: string): TensorSource => ({
        names: () => [...model.names(), extra],
        info: (n) => (n === extra ? { name: n, dtype: 'F32', shape: [1] } : model.info(n)),
        readF32: (n) => (n === extra ? new Float32Array(1) : model.readF32(n)),
      });
      expectFffError(
        () => createEncoder(config, withExtra(extraBody)),
        ErrorCode.UNSUPPORTED_MODEL,
        new RegExp(`does not use: ${extraBody.replace(/\./g, '\\.')}`),
      );
      createEncoder(config, withExtra('unrelated.head.weight')).dispose();
    }
  });
});
