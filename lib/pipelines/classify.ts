/** Sequence classification: softmax over the classification head's logits, labels from the config's id2label. */
import { ErrorCode, FffError } from '../errors';
import type { TokenizerInput } from '../tokenizer';
import type { BatchOptions, PipelineHost } from './host';
import { runBatched, textList } from './host';
import { softmax, topKEntries } from './math';

export interface ClassifyResult {
  /** The most probable label (first of equals). */
  label: string;
  score: number;
  /** Softmax probability of every label, index = label id (config.labels order). */
  scores: number[];
}

/** One result per text (or [text, pair]), in input order. */
export async function classify(
  host: PipelineHost,
  texts: string | readonly TokenizerInput[],
  options: BatchOptions = {},
): Promise<ClassifyResult[]> {
  const list = textList('texts', texts);
  const { config } = host;
  if (config.head !== 'classification') {
    throw new FffError(
      ErrorCode.UNSUPPORTED_MODEL,
      `classify needs a sequence-classification head but this model's head is "${config.head}"`,
    );
  }
  const L = config.numLabels;
  const results = new Array<ClassifyResult>(list.length);
  // crammedBERT's avg pooler averages every position, padding included: batch only texts of equal length so
  // that a text's result does not depend on its neighbours.
  const sameLength = config.family === 'crammed' && config.crammedPooler?.kind === 'avg';
  await runBatched(host, list, { ...options, logits: true, sameLength }, (out, row, index) => {
    const logits = out.logits;
    if (logits === undefined) throw new FffError(ErrorCode.INTERNAL, 'The encoder returned no classification logits');
    // logits: [batch, L]
    const scores = Array.from(softmax(logits, row * L, L));
    const [best] = topKEntries(scores, 1);
    const label = best && config.labels[best.index];
    if (best === undefined || label === undefined)
      throw new FffError(ErrorCode.INTERNAL, `The encoder returned ${scores.length} scores for ${L} labels`);
    results[index] = { label, score: best.value, scores };
  });
  return results;
}
