/** Small configurations of every architecture the native core builds, for contract tests. */
import type { BertConfig } from '../../lib/bert/types';
import type { NativeBertConfig } from '../../lib/native-types';

type Family = BertConfig['family'];

/** Every architecture the core declares tensors for: family x feedforward x head (x hf pooler). */
export function architectures(family: Family): NativeBertConfig[] {
  const base = {
    family,
    hiddenSize: 8,
    numLayers: 2,
    numHeads: 2,
    headDim: 4,
    vocabSize: 11,
    maxPositions: 16,
    typeVocabSize: family === 'hf' ? 2 : 0,
    normEps: 1e-12,
    numLabels: 0,
    hasPooler: false,
  } as const;
  const ffns: NativeBertConfig['ffn'][] = [{ kind: 'dense', intermediateSize: 12 }];
  if (family === 'crammed') ffns.push({ kind: 'fff', depth: 1, trees: 2 });
  const out: NativeBertConfig[] = [];
  for (const ffn of ffns) {
    for (const head of ['none', 'mlm', 'classification'] as const) {
      const cls = head === 'classification' ? { numLabels: 3 } : {};
      if (family === 'hf') {
        for (const hasPooler of head === 'classification' ? [true] : [false, true])
          out.push({ ...base, ffn, head, ...cls, hasPooler });
      } else {
        const pooler = head === 'classification' ? { crammedPooler: { kind: 'avg', headDim: 6 } as const } : {};
        out.push({ ...base, ffn, head, ...cls, ...pooler });
      }
    }
  }
  return out;
}
