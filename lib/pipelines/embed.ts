/**
 * Sentence embeddings: the encoder's last hidden state pooled per text, `mean` over the tokens of the attention
 * mask (padding excluded) or `cls` (the first position), optionally L2-normalised.
 */
import { invalidArgument } from '../errors';
import type { TokenizerInput } from '../tokenizer';
import { expectOneOf } from '../util/options';
import type { BatchOptions, PipelineHost } from './host';
import { runBatched, textList } from './host';
import { l2Normalize } from './math';

export type Pooling = 'mean' | 'cls';

export interface EmbedOptions extends BatchOptions {
  /** 'mean' (default) over the attention mask, or 'cls': the first token's state. */
  pooling?: Pooling;
  /** Divide each embedding by its L2 norm (default true). */
  normalize?: boolean;
}

/** One Float32Array of hiddenSize per text, in input order. */
export async function embed(
  host: PipelineHost,
  texts: string | readonly TokenizerInput[],
  options: EmbedOptions = {},
): Promise<Float32Array[]> {
  const list = textList('texts', texts);
  const pooling = expectOneOf('pooling', options.pooling, ['mean', 'cls'] as const, 'mean');
  const normalize = options.normalize ?? true;
  if (typeof normalize !== 'boolean') throw invalidArgument('normalize', 'a boolean', normalize);
  const H = host.config.hiddenSize;
  const result: Float32Array[] = new Array<Float32Array>(list.length);
  await runBatched(host, list, { ...options, logits: false }, (out, row, index, encoding, seq) => {
    // lastHiddenState: [batch, seq, H]; this text's tokens are positions 0 .. length-1 of its row
    const base = row * seq * H;
    const v = new Float32Array(H);
    if (pooling === 'cls') {
      v.set(out.lastHiddenState.subarray(base, base + H));
    } else {
      const n = encoding.ids.length;
      const acc = new Float64Array(H);
      for (let s = 0; s < n; s++) {
        out.lastHiddenState.subarray(base + s * H, base + (s + 1) * H).forEach((x, h) => {
          acc[h] = (acc[h] ?? 0) + x; // h < H = acc.length
        });
      }
      v.set(acc.map((a) => a / n));
    }
    result[index] = normalize ? l2Normalize(v) : v;
  });
  return result;
}
