/**
 * Masked-token prediction: for every mask token of a text, the topK tokens by softmax over the vocabulary of the
 * MLM logits at that position, with the text re-decoded with each candidate in place.
 */

import { expectSignal } from '../batching/batcher';
import { ErrorCode, expectInteger, FffError, invalidArgument } from '../errors';
import type { PipelineHost } from './host';
import { softmax, topKEntries } from './math';

export interface FillMaskOptions {
  /** Candidates per mask (default 5). */
  topK?: number;
  truncation?: boolean;
  /** Aborting removes the call while it waits for a batch (ERR_FFF_ABORTED). */
  signal?: AbortSignal;
}

export interface FillMaskCandidate {
  /** The candidate's token string ('' for an id the tokenizer does not name). */
  token: string;
  tokenId: number;
  /** Softmax probability over the whole vocabulary. */
  score: number;
  /** The text decoded with this candidate at the mask (special tokens dropped; other masks kept). */
  sequence: string;
}

/** One list of topK candidates, best first, per mask token of `text`, in text order. */
export async function fillMask(
  host: PipelineHost,
  text: string,
  options: FillMaskOptions = {},
): Promise<FillMaskCandidate[][]> {
  if (typeof text !== 'string') throw invalidArgument('text', 'a string', text);
  const { config } = host;
  if (config.head !== 'mlm') {
    throw new FffError(
      ErrorCode.UNSUPPORTED_MODEL,
      `fillMask needs a masked-language-model head but this model's head is "${config.head}"`,
    );
  }
  const tokenizer = host.requireTokenizer();
  if (tokenizer.maskId === undefined)
    throw new FffError(ErrorCode.INVALID_MODEL, 'The tokenizer has no mask token ([MASK] or <mask>)');
  const k = options.topK === undefined ? 5 : expectInteger('topK', options.topK, 1, config.vocabSize);
  const enc = tokenizer.encode(text, undefined, { truncation: options.truncation });
  const positions = enc.ids.flatMap((id, s) => (id === tokenizer.maskId ? [s] : []));
  if (positions.length === 0)
    throw invalidArgument('text', `a text containing the mask token ${tokenizer.maskToken}`, text);
  const seq = enc.ids.length;
  const inputs = {
    batch: 1,
    seq,
    inputIds: Int32Array.from(enc.ids),
    attentionMask: new Int32Array(seq).fill(1),
    tokenTypeIds: config.typeVocabSize > 0 ? Int32Array.from(enc.typeIds) : undefined,
  };
  const out = await host.runEncoder(inputs, { logits: true, signal: expectSignal('signal', options.signal) });
  const logits = out.logits;
  const V = config.vocabSize;
  if (logits === undefined || logits.length !== seq * V)
    throw new FffError(ErrorCode.INTERNAL, `The encoder returned no MLM logits of [1, ${seq}, ${V}]`);
  // ids shown in `sequence`: drop cls/sep/pad, keep masks
  const shown = (ids: number[]): number[] => ids.filter((id) => id === tokenizer.maskId || !tokenizer.isSpecialId(id));
  return positions.map((p) => {
    // logits: [1, seq, V]; row p
    const probs = softmax(logits, p * V, V);
    return topKEntries(probs, k).map(({ index: tokenId, value: score }) => {
      const ids = enc.ids.slice();
      ids[p] = tokenId;
      return {
        token: tokenizer.idToToken(tokenId) ?? '',
        tokenId,
        score,
        sequence: tokenizer.decode(shown(ids), { skipSpecialTokens: false }),
      };
    });
  });
}
