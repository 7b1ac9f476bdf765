// int8 and bf16 dense layers against fp32 on every fixture (issue 12): the documented bounds (README, "Dense
// layers in int8 and bf16"), measured by scripts/lib/accuracy.mjs (also `npm run accuracy`), which README reports.
//
// Bounds from the rounding error, not from the measured values:
// - int8 rounds each operand of a product to 1/127 of its row's (or channel's) largest value: ~0.6% rms relative
//   for these rows, ~1% for a product; through the 2-layer chain, hidden states within 3% relative (dense
//   models). bf16 keeps 8 significant bits (2^-9 relative at most, ~0.1% rms per operand): within 0.6%.
//   Embedding cosine: 1 - cos ~ rel^2 / 2, so >= 0.999 (int8) and >= 0.9999 (bf16).
// - FFF models add routing: a decision flips where a node's logit lies within the error of 0, about
//   0.8 * rel / sqrt(2 pi) of them (~0.3% in int8, ~0.1% in bf16): >= 99% / >= 99.5% of decisions agree. A
//   flipped token gets other neurons (its hidden state moves by O(1) relative), so a row of n tokens with f
//   flips loses ~(f/n)^2 / 2 of cosine: rows of >= 8 tokens with up to 2 flips keep >= 0.97; the mean over rows
//   stays >= 0.999.
// - Top-1 over V candidates flips where the two largest logits are closer than their errors' difference:
//   the top gap has density ~ sqrt(2 ln V) / sigma at 0, the error difference ~ sqrt(2) * rel * sigma, so
//   P(flip) ~ 0.8 * sqrt(2 ln V) * sqrt(2) * rel (rel: the measured hidden-state error); bound: 1.5 times that.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createEncoder } from '../lib/bert/encoder';
import { FastFeedforward, isa, SafetensorsFile } from '../lib/index';
import { loadModel } from '../lib/model';
// @ts-expect-error: an ES module without types (the script's and the test's one implementation)
import { measureAccuracy } from '../scripts/lib/accuracy.mjs';

const fixtures = path.join(__dirname, 'fixtures');
const api = { fs, loadModel, createEncoder, SafetensorsFile, FastFeedforward };

const BOUNDS = {
  int8: { hiddenRel: 0.03, cosine: 0.999, decisions: 0.99 },
  bf16: { hiddenRel: 0.006, cosine: 0.9999, decisions: 0.995 },
} as const;
const FFF_MIN_COSINE = 0.97;
const FFF_MEAN_COSINE = 0.999;

/** Smallest top-1 agreement the hidden-state error `rel` allows over `candidates` (see the header). */
const top1Bound = (rel: number, candidates: number): number =>
  1 - 1.5 * 0.8 * Math.sqrt(2 * Math.log(candidates)) * Math.SQRT2 * rel;

interface Measured {
  model: { ffn: string; head: string };
  hidden: { maxAbs: number; relative: number; worstTokenRelative: number };
  embedding: { minCosine: number; meanCosine: number; vectors: number };
  routing?: { pathAgreement: number; decisionAgreement: number; minLayerPathAgreement: number };
  fillMask?: { top1Agreement: number; sites: number; top1AgreementAll: number };
  classification?: { agreement: number; rows: number; maxProbDiff: number };
}

const VOCAB: Record<string, number> = {
  'ufb-tiny': 512,
  'ufb-tiny-k2': 300,
  'bert-tiny-mlm': 30522,
  'bert-tiny-cls': 3,
};

describe.each(['int8', 'bf16'] as const)('%s against fp32', (dtype) => {
  const b = BOUNDS[dtype];
  it.each(['ufb-tiny', 'ufb-tiny-k2', 'bert-tiny-mlm', 'bert-tiny-cls'])(
    '%s stays within the documented bounds',
    async (folder) => {
      const r: Measured = await measureAccuracy(api, path.join(fixtures, folder), dtype, { sequences: 96, seq: 32 });
      console.log(
        `${folder} ${dtype} (isa ${isa().active}): ${JSON.stringify({ ...r, routing: r.routing && { ...r.routing, layers: undefined } })}`,
      );
      // the dtype is in effect: an fp32 run would give exactly 0
      expect(r.hidden.relative).toBeGreaterThan(0);
      if (r.model.ffn === 'fff') {
        expect(r.routing!.decisionAgreement).toBeGreaterThanOrEqual(b.decisions);
        expect(r.embedding.minCosine).toBeGreaterThanOrEqual(FFF_MIN_COSINE);
        expect(r.embedding.meanCosine).toBeGreaterThanOrEqual(FFF_MEAN_COSINE);
      } else {
        expect(r.hidden.relative).toBeLessThanOrEqual(b.hiddenRel);
        expect(r.embedding.minCosine).toBeGreaterThanOrEqual(b.cosine);
      }
      if (r.model.head === 'mlm') {
        expect(r.fillMask!.sites).toBeGreaterThan(200);
        expect(r.fillMask!.top1Agreement).toBeGreaterThanOrEqual(top1Bound(r.hidden.relative, VOCAB[folder]));
      } else {
        expect(r.classification!.rows).toBeGreaterThan(90);
        expect(r.classification!.agreement).toBeGreaterThanOrEqual(top1Bound(r.hidden.relative, VOCAB[folder]));
      }
    },
  );
});
