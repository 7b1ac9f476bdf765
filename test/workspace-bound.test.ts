/**
 * The encoder's workspace shrinks back after an unusually large batch (issue 9, class 7): it is freed after a
 * forward when it holds more than 32 MiB and more than twice what the median of the last 16 forwards needs
 * (native/include/fffbert/bert.h), and kept otherwise. Measured with the native counter, not RSS.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Model } from '../lib/index';
import type { NativeBertModel } from '../lib/native-types';
import { loadWithNative } from './helpers/native-model';

const KEEP_BYTES = 32 * 2 ** 20;
const SEQ = 32; // ufb-tiny: hidden 64, max sequence 32; ~1.8 KB of workspace per token

function ids(batch: number): { inputIds: { data: Int32Array; shape: [number, number] } } {
  return { inputIds: { data: Int32Array.from({ length: batch * SEQ }, (_, i) => 1 + (i % 500)), shape: [batch, SEQ] } };
}

describe('encoder workspace bound', () => {
  let model: Model;
  let handle: NativeBertModel;
  beforeAll(async () => {
    ({ model, handle } = await loadWithNative(path.join(__dirname, 'fixtures', 'ufb-tiny')));
  });
  afterAll(() => model.dispose());

  it('kept for the typical batch, freed after one far larger, regrown to the typical size', async () => {
    expect(handle.workspaceBytes()).toBe(0);
    for (let i = 0; i < 5; i++) await model.forward(ids(4));
    const typical = handle.workspaceBytes();
    expect(typical).toBeGreaterThan(4 * SEQ * 64 * 4);
    expect(typical).toBeLessThan(2 ** 20);

    // A batch under the bound is kept even though it is far above the median.
    await model.forward(ids(100), { logits: false });
    const mid = handle.workspaceBytes();
    expect(mid).toBeGreaterThan(typical);
    expect(mid).toBeLessThan(KEEP_BYTES);

    // 600 x 32 needs ~34 MB: above the bound and above twice the median, so it is freed after the forward.
    const big = await model.forward(ids(600), { logits: false });
    expect(big.lastHiddenState.length).toBe(600 * SEQ * 64);
    expect(handle.workspaceBytes()).toBe(0);

    await model.forward(ids(4));
    expect(handle.workspaceBytes()).toBe(typical);
  });
});
