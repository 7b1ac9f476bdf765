/**
 * createEncoder as the public API gives it (lib/index.ts, what `require('fffbert')` returns): an encoder built
 * from parseConfig and a SafetensorsFile computes what loadModel's Model computes on the same folder, bit for
 * bit, and its inputs are checked with the stable codes. The benchmarks (bench/lib/e2e-worker.mjs,
 * bench/dtype-ab.mjs) and scripts/accuracy.mjs build their encoders through this entry point.
 */
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EncoderInputs } from '../lib/index';
import { createEncoder, ErrorCode, loadModel, parseConfig, SafetensorsFile } from '../lib/index';
import { expectFffError } from './helpers/errors';

const dir = path.join(__dirname, 'fixtures', 'ufb-tiny');

const same = (a: Float32Array | undefined, b: Float32Array | undefined): boolean =>
  a !== undefined && b !== undefined && Buffer.from(a.buffer).equals(Buffer.from(b.buffer));

describe('createEncoder (public API)', () => {
  it('computes what loadModel computes, sync and async, and profiles its forwards', async () => {
    const tensors = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
    const config = parseConfig(dir, tensors);
    const enc = createEncoder(config, tensors);
    tensors.close();
    const model = await loadModel(dir);
    try {
      const ids = [
        [2, 7, 11, 13, 3],
        [2, 17, 19, 3, 0],
      ];
      const mask = [
        [1, 1, 1, 1, 1],
        [1, 1, 1, 1, 0],
      ];
      const inputs: EncoderInputs = {
        batch: 2,
        seq: 5,
        inputIds: Int32Array.from(ids.flat()),
        attentionMask: Int32Array.from(mask.flat()),
      };
      const reference = await model.forward({ inputIds: ids, attentionMask: mask });
      expect(reference.lastHiddenState.length).toBe(2 * 5 * config.hiddenSize);
      enc.resetProfile();
      const sync = enc.forwardSync(inputs);
      const async = await enc.forward(inputs);
      for (const out of [sync, async]) {
        expect(same(out.lastHiddenState, reference.lastHiddenState)).toBe(true);
        expect(same(out.logits, reference.logits)).toBe(true);
      }
      expect(enc.forwardSync(inputs, { logits: false }).logits).toBeUndefined();
      expect(enc.profile().forwards).toBe(3);
      expect(enc.dtype).toBe('fp32');
      expect(enc.weightBytes).toBeGreaterThan(0);
    } finally {
      model.dispose();
      enc.dispose();
    }
  });

  it('refuses bad inputs and a disposed encoder with stable codes', () => {
    const tensors = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
    const config = parseConfig(dir, tensors);
    const enc = createEncoder(config, tensors);
    const empty = { names: () => [], info: () => undefined, readF32: () => new Float32Array(0) };
    expectFffError(() => createEncoder(config, empty), ErrorCode.INVALID_CHECKPOINT);
    tensors.close();
    const one = (id: number, seq = 1): EncoderInputs => ({
      batch: 1,
      seq,
      inputIds: new Int32Array(seq).fill(id),
      attentionMask: new Int32Array(seq).fill(1),
    });
    expectFffError(() => enc.forwardSync(one(config.vocabSize)), ErrorCode.TOKEN_OUT_OF_RANGE);
    expectFffError(() => enc.forwardSync(one(1, config.maxPositions + 1)), ErrorCode.SEQUENCE_TOO_LONG);
    expectFffError(() => enc.forwardSync({ ...one(1), inputIds: [1] as never }), ErrorCode.INVALID_TYPE);
    enc.dispose();
    expect(enc.disposed).toBe(true);
    expectFffError(() => enc.forwardSync(one(1)), ErrorCode.DISPOSED);
  });
});
