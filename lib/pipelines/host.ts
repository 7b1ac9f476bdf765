/**
 * What the pipelines need from a model: its config, its tokenizer, and a forward over a tokenized batch.
 * Model implements it; tests can give a stand-in.
 */

import { expectSignal } from '../batching/batcher';
import type { BertConfig, EncoderForwardOptions, EncoderInputs, EncoderOutputs } from '../bert/types';
import { ErrorCode, expectInteger, FffError, invalidArgument } from '../errors';
import type { BertTokenizer, Encoding, TokenizerInput } from '../tokenizer';
import { padBatch } from '../tokenizer';

export interface PipelineHost {
  readonly config: BertConfig;
  /** The folder's tokenizer; throws ERR_FFF_FILE_NOT_FOUND when it has none. */
  requireTokenizer(): BertTokenizer;
  /** The encoder on inputs already laid out and checked by the tokenizer. */
  runEncoder(inputs: EncoderInputs, options: EncoderForwardOptions & { signal?: AbortSignal }): Promise<EncoderOutputs>;
}

/** Options every batched pipeline takes. */
export interface BatchOptions {
  /** Texts per forward (default 32). Texts are grouped by length so that little padding is computed. */
  batchSize?: number;
  /** Overrides the model's truncation setting for these texts. */
  truncation?: boolean;
  /** Aborting removes the call's forwards while they wait for a batch (ERR_FFF_ABORTED). */
  signal?: AbortSignal;
}

/** A non-empty list of texts (or pairs) from a single text or an array. */
export function textList(name: string, texts: unknown): TokenizerInput[] {
  const list = typeof texts === 'string' ? [texts] : texts;
  if (!Array.isArray(list) || list.length === 0)
    throw invalidArgument(name, 'a string or a non-empty array of strings', texts);
  return list as TokenizerInput[];
}

export function batchSizeOf(options: BatchOptions): number {
  return options.batchSize === undefined ? 32 : expectInteger('batchSize', options.batchSize, 1, 65536);
}

/**
 * Indices of `lengths` in batches of at most `batchSize`, sorted by length (less padding). With `sameLength`,
 * a batch never mixes lengths (for heads whose result depends on padding, as crammedBERT's avg pooler).
 */
export function planBatches(lengths: readonly number[], batchSize: number, sameLength = false): number[][] {
  const order = lengths
    .map((length, index) => ({ length, index }))
    .sort((a, b) => a.length - b.length || a.index - b.index);
  const batches: number[][] = [];
  let current: number[] = [];
  let currentLength = 0;
  for (const { length, index } of order) {
    if (current.length === batchSize || (sameLength && current.length > 0 && currentLength !== length)) {
      batches.push(current);
      current = [];
    }
    if (current.length === 0) currentLength = length;
    current.push(index);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * Tokenizes `texts`, runs them batch by batch and calls `take(outputs, row, textIndex, encoding, seq)` for every
 * text, with `row` its row in that batch's outputs.
 */
export async function runBatched(
  host: PipelineHost,
  texts: readonly TokenizerInput[],
  options: BatchOptions & { logits: boolean; sameLength?: boolean },
  take: (out: EncoderOutputs, row: number, index: number, encoding: Encoding, seq: number) => void,
): Promise<void> {
  const tokenizer = host.requireTokenizer();
  const batchSize = batchSizeOf(options);
  expectSignal('signal', options.signal);
  const encodings = texts.map((t, i) => {
    if (
      typeof t !== 'string' &&
      !(Array.isArray(t) && t.length === 2 && typeof t[0] === 'string' && typeof t[1] === 'string')
    ) {
      throw invalidArgument(`texts[${i}]`, 'a string or a [text, pair] array of two strings', t);
    }
    try {
      return typeof t === 'string' ? tokenizer.encode(t, undefined, options) : tokenizer.encode(t[0], t[1], options);
    } catch (err) {
      if (err instanceof FffError && err.code === ErrorCode.SEQUENCE_TOO_LONG)
        throw new FffError(err.code, `texts[${i}]: ${err.message}`);
      throw err;
    }
  });
  for (const indices of planBatches(
    encodings.map((e) => e.ids.length),
    batchSize,
    options.sameLength,
  )) {
    // planBatches returns indices of `encodings`, each once
    const texts = indices.map((index) => ({ index, encoding: encodings[index] as Encoding }));
    const batch = padBatch(
      texts.map((t) => t.encoding),
      tokenizer.padId,
    );
    const inputs: EncoderInputs = {
      batch: batch.batch,
      seq: batch.seq,
      inputIds: batch.inputIds,
      attentionMask: batch.attentionMask,
    };
    if (host.config.typeVocabSize > 0) inputs.tokenTypeIds = batch.tokenTypeIds;
    const out = await host.runEncoder(inputs, { logits: options.logits, signal: options.signal });
    texts.forEach(({ index, encoding }, row) => take(out, row, index, encoding, batch.seq));
  }
}
