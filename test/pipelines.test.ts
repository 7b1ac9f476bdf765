import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Model } from '../lib/model';
import { loadModel } from '../lib/model';
import { planBatches } from '../lib/pipelines/host';
import { l2Normalize, softmax, topK } from '../lib/pipelines/math';
import { writeCrammedModel } from './helpers/crammed-model';

const fixtures = path.join(__dirname, 'fixtures');

const TEXTS = [
  'Hello, world!',
  'The capital of France is a city.',
  'naïve café',
  'supercalifragilisticexpialidocious antidisestablishmentarianism',
  'a',
];

function norm(v: Float32Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return Math.sqrt(s);
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('pipeline helpers', () => {
  it('softmax sums to 1, is shift-invariant, and handles large logits', () => {
    const p = softmax(new Float32Array([1, 2, 3]));
    expect(p[0] + p[1] + p[2]).toBeCloseTo(1, 15);
    expect(p[2] / p[1]).toBeCloseTo(Math.E, 12);
    const q = softmax(new Float32Array([1001, 1002, 1003]));
    expect(maxAbs(p, q)).toBeLessThan(1e-15);
    expect(Array.from(softmax(new Float32Array([9, 0, 0, 9]), 1, 2))).toEqual([0.5, 0.5]);
  });

  it('topK: largest first, ties by lower index, k larger than the input', () => {
    expect(topK([3, 1, 4, 1, 5, 9, 2, 6], 3)).toEqual([5, 7, 4]);
    expect(topK([1, 2, 2, 0], 2)).toEqual([1, 2]);
    expect(topK([0.5, 0.25], 5)).toEqual([0, 1]);
    const values = Array.from({ length: 1000 }, (_, i) => (Math.sin(i * 12.9898) * 43758.5453) % 1);
    const sorted = values
      .map((v, i) => [v, i])
      .sort((a, b) => b[0] - a[0] || a[1] - b[1])
      .slice(0, 10)
      .map((x) => x[1]);
    expect(topK(values, 10)).toEqual(sorted);
  });

  it('l2Normalize leaves zero vectors alone', () => {
    expect(Array.from(l2Normalize(new Float32Array([3, 4])))).toEqual([Math.fround(0.6), Math.fround(0.8)]);
    expect(Array.from(l2Normalize(new Float32Array([0, 0])))).toEqual([0, 0]);
  });

  it('planBatches sorts by length, caps batch size, and can keep lengths apart', () => {
    expect(planBatches([5, 2, 9, 2, 5], 2)).toEqual([[1, 3], [0, 4], [2]]);
    expect(planBatches([5, 2, 9, 2, 5], 10, true)).toEqual([[1, 3], [0, 4], [2]]);
    expect(planBatches([3, 3, 3], 10)).toEqual([[0, 1, 2]]);
  });
});

describe('pipelines on bert-tiny-mlm', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(path.join(fixtures, 'bert-tiny-mlm'));
  });
  afterAll(() => model?.dispose());

  it('normalised embeddings have norm 1', async () => {
    const vs = await model.embed(TEXTS);
    expect(vs.length).toBe(TEXTS.length);
    for (const v of vs) {
      expect(v.length).toBe(32);
      expect(norm(v)).toBeCloseTo(1, 6);
    }
  });

  it('mean pooling equals the mean of lastHiddenState over the attention mask', async () => {
    const [v] = await model.embed('Hello, world!', { pooling: 'mean', normalize: false });
    const ids = model.tokenizer!.encode('Hello, world!').ids;
    // padded to 9 with a mask: the padding must not enter the mean
    const padded = [...ids, 0, 0, 0];
    const out = await model.forward(
      { inputIds: [padded], attentionMask: [padded.map((_, i) => (i < ids.length ? 1 : 0))] },
      { logits: false },
    );
    const H = 32;
    const manual = new Float64Array(H);
    for (let s = 0; s < ids.length; s++)
      for (let h = 0; h < H; h++) manual[h] += out.lastHiddenState[s * H + h] / ids.length;
    expect(maxAbs(v, manual)).toBeLessThan(1e-5);
    // and differs from the mean over all 9 positions (the padding would have changed it)
    const all = new Float64Array(H);
    for (let s = 0; s < padded.length; s++)
      for (let h = 0; h < H; h++) all[h] += out.lastHiddenState[s * H + h] / padded.length;
    expect(maxAbs(v, all)).toBeGreaterThan(1e-3);
  });

  it('cls pooling is the first token state', async () => {
    const [v] = await model.embed('Hello, world!', { pooling: 'cls', normalize: false });
    const out = await model.forward({ inputIds: [model.tokenizer!.encode('Hello, world!').ids] }, { logits: false });
    expect(maxAbs(v, out.lastHiddenState.subarray(0, 32))).toBeLessThan(1e-6);
  });

  it('batch embeddings equal single-text embeddings', async () => {
    const batch = await model.embed(TEXTS, { batchSize: 3 });
    for (const [i, t] of TEXTS.entries()) {
      const [single] = await model.embed(t);
      expect(maxAbs(batch[i], single), `text ${i}`).toBeLessThan(1e-5);
    }
  });

  it('fillMask: top token is the argmax of the logits, scores are the softmax, best first', async () => {
    const text = 'The capital of France is [MASK].';
    const [candidates] = await model.fillMask(text, { topK: 7 });
    expect(candidates.length).toBe(7);
    const ids = model.tokenizer!.encode(text).ids;
    const p = ids.indexOf(103);
    const out = await model.forward({ inputIds: [ids] });
    const V = 30522;
    const row = out.logits!.subarray(p * V, (p + 1) * V);
    let arg = 0;
    for (let i = 1; i < V; i++) if (row[i] > row[arg]) arg = i;
    expect(candidates[0].tokenId).toBe(arg);
    const probs = softmax(row);
    for (const c of candidates) {
      expect(c.score).toBeCloseTo(probs[c.tokenId], 12);
      expect(c.token).toBe(model.tokenizer!.idToToken(c.tokenId));
    }
    for (let i = 1; i < candidates.length; i++)
      expect(candidates[i].score).toBeLessThanOrEqual(candidates[i - 1].score);
    expect(candidates[0].sequence).toBe(model.tokenizer!.decode(ids.map((id) => (id === 103 ? arg : id))));
    expect(candidates[0].sequence.startsWith('the capital of france is')).toBe(true);
  });

  it('fillMask with two masks: one list per mask, the other mask kept in the sequence', async () => {
    const res = await model.fillMask('[MASK] is the capital of [MASK].', { topK: 2 });
    expect(res.length).toBe(2);
    expect(res[0][0].sequence).toMatch(/\[MASK\]\.?$/);
    expect(res[1][0].sequence).toMatch(/^\[MASK\] is the capital of/);
  });

  it('refusals: no mask, wrong head, too long without truncation', async () => {
    await expect(model.fillMask('no mask here')).rejects.toMatchObject({
      code: 'ERR_FFF_INVALID_ARGUMENT',
      message: expect.stringMatching(/containing the mask token \[MASK\]/),
    });
    await expect(model.fillMask('[MASK]', { topK: 0 })).rejects.toThrow(
      /Expected topK to be an integer in \[1, 30522\]/,
    );
    await expect(model.classify('hello')).rejects.toMatchObject({
      code: 'ERR_FFF_UNSUPPORTED_MODEL',
      message: expect.stringMatching(/classify needs a sequence-classification head/),
    });
    const long = 'word '.repeat(80);
    await expect(model.embed(['short', long])).rejects.toMatchObject({
      code: 'ERR_FFF_SEQUENCE_TOO_LONG',
      message: expect.stringMatching(/texts\[1\]: The input is 82 tokens long but the model accepts at most 64/),
    });
    const [v] = await model.embed(long, { truncation: true });
    expect(norm(v)).toBeCloseTo(1, 6);
    await expect(model.embed([])).rejects.toThrow(/Expected texts to be a string or a non-empty array/);
    await expect(model.embed('x', { pooling: 'max' as never })).rejects.toThrow(
      /Expected pooling to be one of mean, cls but received string "max"/,
    );
  });
});

describe('pipelines on bert-tiny-cls', () => {
  let model: Model;
  beforeAll(async () => {
    model = await loadModel(path.join(fixtures, 'bert-tiny-cls'), { truncation: true });
  });
  afterAll(() => model?.dispose());

  it('classify: scores sum to 1 and equal the softmax of forward logits; label is the argmax', async () => {
    const results = await model.classify(TEXTS);
    expect(results.length).toBe(TEXTS.length);
    for (const [i, r] of results.entries()) {
      expect(r.scores.length).toBe(3);
      expect(r.scores.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      const enc = model.tokenizer!.encode(TEXTS[i]);
      const out = await model.forward({ inputIds: [enc.ids], tokenTypeIds: [enc.typeIds] });
      const probs = softmax(out.logits!);
      expect(maxAbs(r.scores, probs)).toBeLessThan(1e-5);
      const best = probs.indexOf(Math.max(...probs));
      expect(r.label).toBe(['LABEL_0', 'LABEL_1', 'LABEL_2'][best]);
      expect(r.score).toBe(r.scores[best]);
    }
  });

  it('batch results equal single-text results, pairs included', async () => {
    const inputs = [...TEXTS, ['How old are you?', 'I am six.'] as const];
    const batch = await model.classify(inputs, { batchSize: 4 });
    for (const [i, t] of inputs.entries()) {
      const [single] = await model.classify([t]);
      expect(maxAbs(batch[i].scores, single.scores), `text ${i}`).toBeLessThan(1e-5);
    }
  });

  it('a pair is not the same input as its concatenation', async () => {
    const [pair] = await model.classify([['How old are you?', 'I am six.']]);
    const [joined] = await model.classify('How old are you? I am six.');
    expect(maxAbs(pair.scores, joined.scores)).toBeGreaterThan(1e-6);
  });

  it('fillMask on a classifier is refused', async () => {
    await expect(model.fillMask('a [MASK]')).rejects.toMatchObject({
      code: 'ERR_FFF_UNSUPPORTED_MODEL',
      message: expect.stringMatching(
        /fillMask needs a masked-language-model head but this model's head is "classification"/,
      ),
    });
  });
});

describe('pipelines on crammedBERT models with the crammed tokenizer', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fffbert-pipe-'));
  let mlm: Model;
  let cls: Model;
  beforeAll(async () => {
    writeCrammedModel(path.join(tmp, 'mlm'), 'mlm');
    writeCrammedModel(path.join(tmp, 'cls'), 'classification');
    mlm = await loadModel(path.join(tmp, 'mlm'));
    cls = await loadModel(path.join(tmp, 'cls'));
  });
  afterAll(() => {
    mlm?.dispose();
    cls?.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the models load with the expected heads and the tokenizer limit of max_seq_length', () => {
    expect(mlm.config).toMatchObject({ family: 'crammed', head: 'mlm', ffn: { kind: 'fff', depth: 2, trees: 2 } });
    expect(cls.config).toMatchObject({
      head: 'classification',
      numLabels: 3,
      crammedPooler: { kind: 'avg', headDim: 8 },
    });
    expect(mlm.tokenizer?.maxLength).toBe(24);
  });

  it('embed: normalised, mean over the mask, batch equals single', async () => {
    const batch = await mlm.embed(TEXTS);
    for (const [i, t] of TEXTS.entries()) {
      expect(norm(batch[i])).toBeCloseTo(1, 6);
      const [single] = await mlm.embed(t);
      expect(maxAbs(batch[i], single), `text ${i}`).toBeLessThan(1e-5);
    }
    const [raw] = await mlm.embed('Hello, world!', { normalize: false });
    const ids = mlm.tokenizer!.encode('Hello, world!').ids;
    const out = await mlm.forward({ inputIds: [ids] }, { logits: false });
    const manual = new Float64Array(16);
    for (let s = 0; s < ids.length; s++)
      for (let h = 0; h < 16; h++) manual[h] += out.lastHiddenState[s * 16 + h] / ids.length;
    expect(maxAbs(raw, manual)).toBeLessThan(1e-5);
  });

  it('fillMask: "<mask>" is one token; top candidate is the argmax of the logits', async () => {
    const text = 'The capital of France is <mask>.';
    const [candidates] = await mlm.fillMask(text, { topK: 3 });
    const ids = mlm.tokenizer!.encode(text).ids;
    const p = ids.indexOf(4);
    expect(p).toBeGreaterThan(0);
    const V = mlm.config.vocabSize;
    const out = await mlm.forward({ inputIds: [ids] });
    const row = out.logits!.subarray(p * V, (p + 1) * V);
    let arg = 0;
    for (let i = 1; i < V; i++) if (row[i] > row[arg]) arg = i;
    expect(candidates[0].tokenId).toBe(arg);
    expect(candidates[0].score).toBeCloseTo(softmax(row)[arg], 12);
  });

  it('classify: scores are the softmax of the logits; batches (lengths kept apart) equal single texts', async () => {
    const batch = await cls.classify(TEXTS, { batchSize: 8 });
    for (const [i, t] of TEXTS.entries()) {
      const [single] = await cls.classify(t);
      expect(maxAbs(batch[i].scores, single.scores), `text ${i}`).toBeLessThan(1e-5);
      expect(batch[i].scores.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      const out = await cls.forward({ inputIds: [cls.tokenizer!.encode(t).ids] });
      expect(maxAbs(batch[i].scores, softmax(out.logits!))).toBeLessThan(1e-5);
    }
  });
});
