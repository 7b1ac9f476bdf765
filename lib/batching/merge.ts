/**
 * Several callers' encoder inputs laid out as one batch, and the batch's outputs cut back into each caller's.
 *
 * Rows are concatenated in caller order and padded at the end to the longest row (attention mask 0, the pad
 * token, token type 0). With this engine a padded key changes nothing a real position computes: its softmax
 * weight is exp(-87.3) ~ 1e-38 (the kernels clamp the exponent) added after every real key, and every other
 * stage works per token. Tested bitwise against unpadded forwards for every ISA (test/batching.test.ts). The
 * exception is crammedBERT's `avg` pooler, which averages padding too: the batcher never pads for it.
 */
import type { BertConfig, EncoderInputs, EncoderOutputs } from '../bert/types';

/** rows [offset, offset + inputs.batch) of the merged batch belong to this caller. */
export interface Slot {
  inputs: EncoderInputs;
  offset: number;
}

/** One [batch, seq] input from several callers (`seq` = the longest); `slots` say which rows are whose. */
export function mergeInputs(parts: readonly EncoderInputs[], padId: number): { inputs: EncoderInputs; slots: Slot[] } {
  const batch = parts.reduce((n, p) => n + p.batch, 0);
  const seq = Math.max(...parts.map((p) => p.seq));
  const withTypes = parts.some((p) => p.tokenTypeIds !== undefined);
  const inputIds = new Int32Array(batch * seq).fill(padId);
  const attentionMask = new Int32Array(batch * seq);
  const tokenTypeIds = withTypes ? new Int32Array(batch * seq) : undefined;
  const slots: Slot[] = [];
  let row = 0;
  for (const p of parts) {
    slots.push({ inputs: p, offset: row });
    for (let b = 0; b < p.batch; b++, row++) {
      // caller row b [p.seq] -> merged row `row` [seq], the tail left as padding
      const src = b * p.seq;
      const dst = row * seq;
      inputIds.set(p.inputIds.subarray(src, src + p.seq), dst);
      attentionMask.set(p.attentionMask.subarray(src, src + p.seq), dst);
      if (tokenTypeIds && p.tokenTypeIds) tokenTypeIds.set(p.tokenTypeIds.subarray(src, src + p.seq), dst);
    }
  }
  const inputs: EncoderInputs = { batch, seq, inputIds, attentionMask };
  if (tokenTypeIds) inputs.tokenTypeIds = tokenTypeIds;
  return { inputs, slots };
}

/** Rows [offset, offset + rows) of `data` [B, S, width], each cut to its first `seq` positions: [rows, seq, width]. */
function cutRows(data: Float32Array, B: number, S: number, offset: number, rows: number, seq: number): Float32Array {
  const width = data.length / (B * S);
  if (seq === S) return data.slice(offset * S * width, (offset + rows) * S * width);
  const out = new Float32Array(rows * seq * width);
  for (let r = 0; r < rows; r++) {
    const src = (offset + r) * S * width;
    out.set(data.subarray(src, src + seq * width), r * seq * width);
  }
  return out;
}

/** The outputs a caller would have got from its own forward. */
export function splitOutputs(
  out: EncoderOutputs,
  merged: EncoderInputs,
  slot: Slot,
  config: BertConfig,
): EncoderOutputs {
  const { batch: B, seq: S } = merged;
  const { batch: rows, seq } = slot.inputs;
  const mine: EncoderOutputs = { lastHiddenState: cutRows(out.lastHiddenState, B, S, slot.offset, rows, seq) };
  if (out.logits !== undefined) {
    // MLM: [B, S, vocab], per position; classification: [B, labels], per row
    mine.logits =
      config.head === 'mlm'
        ? cutRows(out.logits, B, S, slot.offset, rows, seq)
        : cutRows(out.logits, B, 1, slot.offset, rows, 1);
  }
  if (out.poolerOutput !== undefined) mine.poolerOutput = cutRows(out.poolerOutput, B, 1, slot.offset, rows, 1);
  return mine;
}
