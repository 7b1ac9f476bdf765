import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BertConfig } from '../lib/bert/types';
import { SafetensorsFile } from '../lib/formats/safetensors';
import type { Model } from '../lib/model';
import { loadModel } from '../lib/model';
import { normalizeInputs } from '../lib/model-inputs';
import { isa, setIsa } from '../lib/runtime';

const fixtures = path.join(__dirname, 'fixtures');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fffbert-model-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Reference {
  shapes: Record<string, number[]>;
  f32: Record<string, Float32Array>;
  i64: Record<string, BigInt64Array>;
}

function readReference(folder: string): Reference {
  const f = SafetensorsFile.open(path.join(fixtures, folder, 'reference.safetensors'));
  const ref: Reference = { shapes: {}, f32: {}, i64: {} };
  try {
    for (const name of f.names()) {
      const t = f.readTensor(name);
      ref.shapes[name] = t.shape;
      if (t.dtype === 'I64') ref.i64[name] = t.data as BigInt64Array;
      else ref.f32[name] = t.data as Float32Array;
    }
  } finally {
    f.close();
  }
  return ref;
}

/** Largest |a - b| over rows (of `width` values) whose token is attended: mask[token] == 1. */
function maxAbsMasked(
  a: Float32Array,
  b: Float32Array,
  mask: BigInt64Array | null,
  width: number,
): { max: number; at: number } {
  expect(a.length).toBe(b.length);
  let max = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    if (mask !== null && mask[Math.floor(i / width)] !== 1n) continue;
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) {
      max = d;
      at = i;
    }
  }
  return { max, at };
}

/**
 * The outputs each fixture's reference holds (test/fixtures/README.md) and this suite compares: a fixture that
 * lacks one fails the suite instead of skipping the comparison.
 */
const EXPECTED_OUTPUTS: Record<string, string[]> = {
  'ufb-tiny': ['last_hidden_state', 'mlm_logits'],
  'ufb-tiny-k2': ['last_hidden_state', 'mlm_logits'],
  'bert-tiny-mlm': ['last_hidden_state', 'mlm_logits_row0'],
  'bert-tiny-cls': ['last_hidden_state', 'pooler_output', 'logits'],
};
const OUTPUT_NAMES = ['last_hidden_state', 'mlm_logits', 'mlm_logits_row0', 'pooler_output', 'logits'];

const ISAS = isa().supported;
const original = isa().active;
afterAll(() => setIsa(original));

describe.each(Object.keys(EXPECTED_OUTPUTS))('fidelity of %s through loadModel', (folder) => {
  let model: Model;
  const ref = readReference(folder);
  const expected = EXPECTED_OUTPUTS[folder];
  const wants = (name: string): boolean => expected.includes(name);
  const [B, S] = ref.shapes.input_ids;
  const inputs = {
    inputIds: { data: ref.i64.input_ids, shape: [B, S] },
    attentionMask: { data: ref.i64.attention_mask, shape: [B, S] },
    tokenTypeIds: ref.i64.token_type_ids ? { data: ref.i64.token_type_ids, shape: [B, S] } : undefined,
  };
  beforeAll(async () => {
    model = await loadModel(path.join(fixtures, folder));
  });
  afterAll(() => model?.dispose());

  it('the reference holds exactly the outputs compared below', () => {
    expect(OUTPUT_NAMES.filter((name) => ref.f32[name] !== undefined).sort()).toEqual([...expected].sort());
  });

  it.each(ISAS)(
    'isa %s: hidden states within 1e-4, logits and pooler within 1e-3 where attention_mask == 1',
    async (name) => {
      setIsa(name);
      const out = await model.forward(inputs);
      const H = model.config.hiddenSize;
      const mask = ref.i64.attention_mask;
      const hidden = maxAbsMasked(out.lastHiddenState, ref.f32.last_hidden_state, mask, H);
      expect(
        hidden.max,
        `last_hidden_state max abs error (worst at token ${Math.floor(hidden.at / H)})`,
      ).toBeLessThanOrEqual(1e-4);
      if (wants('mlm_logits')) {
        const V = model.config.vocabSize;
        expect(out.logits).toBeDefined();
        expect(maxAbsMasked(out.logits!, ref.f32.mlm_logits, mask, V).max, 'mlm_logits').toBeLessThanOrEqual(1e-3);
      }
      if (wants('mlm_logits_row0')) {
        const V = model.config.vocabSize;
        const row0 = out.logits!.subarray(0, S * V);
        expect(
          maxAbsMasked(row0, ref.f32.mlm_logits_row0, mask.subarray(0, S), V).max,
          'mlm_logits_row0',
        ).toBeLessThanOrEqual(1e-3);
      }
      if (wants('pooler_output')) {
        expect(out.poolerOutput).toBeDefined();
        expect(
          maxAbsMasked(out.poolerOutput!, ref.f32.pooler_output, null, H).max,
          'pooler_output',
        ).toBeLessThanOrEqual(1e-3);
      }
      if (wants('logits')) {
        expect(out.logits!.length).toBe(ref.f32.logits.length);
        expect(
          maxAbsMasked(out.logits!, ref.f32.logits, null, model.config.numLabels).max,
          'classification logits',
        ).toBeLessThanOrEqual(1e-3);
      }
    },
  );

  it('nested number[][] inputs give the same outputs as BigInt64Array tensors', async () => {
    const rows = (t: BigInt64Array): number[][] =>
      Array.from({ length: B }, (_, b) => Array.from(t.subarray(b * S, (b + 1) * S), Number));
    const a = await model.forward(inputs);
    const b = await model.forward({
      inputIds: rows(ref.i64.input_ids),
      attentionMask: rows(ref.i64.attention_mask),
      tokenTypeIds: ref.i64.token_type_ids ? rows(ref.i64.token_type_ids) : undefined,
    });
    expect(Array.from(b.lastHiddenState)).toEqual(Array.from(a.lastHiddenState));
  });

  it('logits: false skips the head logits, the hidden states stay the same', async () => {
    const a = await model.forward(inputs);
    const b = await model.forward(inputs, { logits: false });
    expect(b.logits).toBeUndefined();
    expect(Array.from(b.lastHiddenState)).toEqual(Array.from(a.lastHiddenState));
  });
});

describe('loadModel', () => {
  it('exposes config, tokenizer (when present) and load stats', async () => {
    const m = await loadModel(path.join(fixtures, 'bert-tiny-mlm'));
    expect(m.config.head).toBe('mlm');
    expect(m.tokenizer?.maskId).toBe(103);
    expect(m.tokenizer?.maxLength).toBe(64);
    expect(m.loadStats.checkpointBytes).toBe(fs.statSync(path.join(fixtures, 'bert-tiny-mlm/model.safetensors')).size);
    expect(m.loadStats.weightBytes).toBeGreaterThan(0);
    expect(m.loadStats.seconds).toBeGreaterThan(0);
    m.dispose();
    const u = await loadModel(path.join(fixtures, 'ufb-tiny'));
    expect(u.tokenizer).toBeUndefined();
    await expect(u.embed('hello')).rejects.toMatchObject({
      code: 'ERR_FFF_FILE_NOT_FOUND',
      message: expect.stringMatching(/no tokenizer/),
    });
    u.dispose();
  });

  it('refuses missing folders and files', async () => {
    await expect(loadModel(path.join(tmp, 'absent'))).rejects.toMatchObject({
      code: 'ERR_FFF_FILE_NOT_FOUND',
      message: expect.stringMatching(/Model folder not found/),
    });
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    await expect(loadModel(empty)).rejects.toMatchObject({
      code: 'ERR_FFF_FILE_NOT_FOUND',
      message: expect.stringMatching(/No model.safetensors/),
    });
    const noConfig = path.join(tmp, 'no-config');
    fs.mkdirSync(noConfig);
    fs.copyFileSync(path.join(fixtures, 'ufb-tiny/model.safetensors'), path.join(noConfig, 'model.safetensors'));
    await expect(loadModel(noConfig)).rejects.toMatchObject({
      code: 'ERR_FFF_FILE_NOT_FOUND',
      message: expect.stringMatching(/No config.json or model_config.json/),
    });
    await expect(loadModel(path.join(fixtures, 'ufb-tiny/config.json'))).rejects.toMatchObject({
      message: expect.stringMatching(/is not a directory/),
    });
    await expect(loadModel(path.join(fixtures, 'ufb-tiny'), { thread: 2 } as never)).rejects.toThrow(
      /Expected options.thread to be absent/,
    );
  });

  it('refuses a truncated checkpoint', async () => {
    const dir = path.join(tmp, 'truncated');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(fixtures, 'ufb-tiny/config.json'), path.join(dir, 'config.json'));
    const bytes = fs.readFileSync(path.join(fixtures, 'ufb-tiny/model.safetensors'));
    fs.writeFileSync(path.join(dir, 'model.safetensors'), bytes.subarray(0, bytes.length - 100));
    await expect(loadModel(dir)).rejects.toMatchObject({
      code: 'ERR_FFF_INVALID_CHECKPOINT',
      message: expect.stringMatching(/decoder.weight.*beyond the/),
    });
  });

  it('a model_config.json-only folder loads as the same model (head from the checkpoint)', async () => {
    const dir = path.join(tmp, 'arch-only');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(fixtures, 'ufb-tiny/model_config.json'), path.join(dir, 'model_config.json'));
    fs.copyFileSync(path.join(fixtures, 'ufb-tiny/model.safetensors'), path.join(dir, 'model.safetensors'));
    const a = await loadModel(dir);
    const b = await loadModel(path.join(fixtures, 'ufb-tiny'));
    expect(a.config.head).toBe('mlm');
    const ids = [[5, 6, 7, 8]];
    const [oa, ob] = [await a.forward({ inputIds: ids }), await b.forward({ inputIds: ids })];
    expect(Array.from(oa.logits!)).toEqual(Array.from(ob.logits!));
    a.dispose();
    b.dispose();
  });

  it('dispose is idempotent and later calls throw ERR_FFF_DISPOSED', async () => {
    const m = await loadModel(path.join(fixtures, 'bert-tiny-cls'));
    m.dispose();
    m.dispose();
    expect(m.disposed).toBe(true);
    await expect(m.forward({ inputIds: [[101, 102]] })).rejects.toMatchObject({ code: 'ERR_FFF_DISPOSED' });
    expect(() => m.classify('hello')).toThrow(expect.objectContaining({ code: 'ERR_FFF_DISPOSED' }));
    expect(() => m.embed('hello')).toThrow(expect.objectContaining({ code: 'ERR_FFF_DISPOSED' }));
  });
});

describe('forward input validation', () => {
  const crammed = { family: 'crammed', vocabSize: 512, maxPositions: 32, typeVocabSize: 0 } as BertConfig;
  const hf = { family: 'hf', vocabSize: 100, maxPositions: 8, typeVocabSize: 2 } as BertConfig;
  const fails = (inputs: unknown, config: BertConfig, code: string, message: RegExp): void => {
    expect(() => normalizeInputs(inputs, config)).toThrow(
      expect.objectContaining({ code, message: expect.stringMatching(message) }),
    );
  };

  it('lays out nested rows and defaults the mask to ones', () => {
    const n = normalizeInputs(
      {
        inputIds: [
          [1, 2, 3],
          [4, 5, 6],
        ],
      },
      hf,
    );
    expect([n.batch, n.seq]).toEqual([2, 3]);
    expect(Array.from(n.inputIds)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(n.attentionMask)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(n.tokenTypeIds).toBeUndefined();
    const ids = new Int32Array([1, 2, 3, 4]);
    expect(normalizeInputs({ inputIds: { data: ids, shape: [2, 2] } }, hf).inputIds).toBe(ids);
    const big = normalizeInputs(
      { inputIds: { data: new BigInt64Array([7n, 8n]), shape: [1, 2] }, tokenTypeIds: [[0, 1]] },
      hf,
    );
    expect(Array.from(big.inputIds)).toEqual([7, 8]);
    expect(Array.from(big.tokenTypeIds!)).toEqual([0, 1]);
  });

  it('shapes', () => {
    fails(
      { inputIds: [[1, 2], [3]] },
      hf,
      'ERR_FFF_INVALID_SHAPE',
      /inputIds to be rectangular: inputIds\[0\] has 2 entries but inputIds\[1\] has 1/,
    );
    fails({ inputIds: [] }, hf, 'ERR_FFF_INVALID_SHAPE', /Expected inputIds to be a non-empty array of rows/);
    fails({ inputIds: [[]] }, hf, 'ERR_FFF_INVALID_SHAPE', /inputIds\[0\] to be a non-empty array/);
    fails(
      { inputIds: [1, 2] },
      hf,
      'ERR_FFF_INVALID_TYPE',
      /inputIds\[0\] to be an array of integers but received number 1/,
    );
    fails(
      { inputIds: { data: new Int32Array(5), shape: [2, 2] } },
      hf,
      'ERR_FFF_INVALID_LENGTH',
      /inputIds.data to have length 2 x 2 = 4 but received length 5/,
    );
    fails(
      { inputIds: { data: new Int32Array(4), shape: [4] } },
      hf,
      'ERR_FFF_INVALID_SHAPE',
      /inputIds.shape to be \[batch, seq\]/,
    );
    fails(
      { inputIds: { data: new Float32Array(4), shape: [2, 2] } },
      hf,
      'ERR_FFF_INVALID_TYPE',
      /inputIds.data to be an Int32Array or a BigInt64Array but received Float32Array\(4\)/,
    );
    fails(
      { inputIds: [[1, 2]], attentionMask: [[1, 1, 1]] },
      hf,
      'ERR_FFF_INVALID_SHAPE',
      /attentionMask to have the shape of inputIds \[1, 2\] but received \[1, 3\]/,
    );
    fails({}, hf, 'ERR_FFF_INVALID_ARGUMENT', /inputs.inputIds to be a \[batch, seq\] matrix/);
    fails(null, hf, 'ERR_FFF_INVALID_ARGUMENT', /Expected inputs to be an object/);
  });

  it('values', () => {
    fails(
      { inputIds: [[1, 2.5]] },
      hf,
      'ERR_FFF_INVALID_TYPE',
      /inputIds\[0\]\[1\] to be an integer but received number 2.5/,
    );
    fails(
      { inputIds: [[1, '2']] },
      hf,
      'ERR_FFF_INVALID_TYPE',
      /inputIds\[0\]\[1\] to be an integer but received string "2"/,
    );
    fails(
      { inputIds: [[1, 100]] },
      hf,
      'ERR_FFF_TOKEN_OUT_OF_RANGE',
      /inputIds\[0\]\[1\] to be a token id in \[0, 99\] but received 100/,
    );
    fails({ inputIds: [[-1]] }, hf, 'ERR_FFF_TOKEN_OUT_OF_RANGE', /received -1/);
    fails(
      { inputIds: { data: new BigInt64Array([1n, 2n ** 40n]), shape: [1, 2] } },
      hf,
      'ERR_FFF_TOKEN_OUT_OF_RANGE',
      /inputIds\[0\]\[1\] to be a 32-bit integer/,
    );
    fails(
      { inputIds: [[1, 2]], attentionMask: [[1, 2]] },
      hf,
      'ERR_FFF_INVALID_ARGUMENT',
      /attentionMask\[0\]\[1\] to be 0 or 1/,
    );
    fails(
      { inputIds: [[1, 2]], tokenTypeIds: [[0, 2]] },
      hf,
      'ERR_FFF_INVALID_ARGUMENT',
      /tokenTypeIds\[0\]\[1\] to be a token type in \[0, 1\] but received 2/,
    );
    fails(
      { inputIds: [[1, 2]], tokenTypeIds: [[0, 1]] },
      crammed,
      'ERR_FFF_INVALID_ARGUMENT',
      /this model has none: only 0/,
    );
    expect(normalizeInputs({ inputIds: [[1, 2]], tokenTypeIds: [[0, 0]] }, crammed).tokenTypeIds).toBeUndefined();
  });

  it('length', () => {
    fails(
      { inputIds: [new Array(9).fill(1)] },
      hf,
      'ERR_FFF_SEQUENCE_TOO_LONG',
      /rows of at most 8 tokens \(the model's maximum\) but received 9/,
    );
    expect(normalizeInputs({ inputIds: [new Array(8).fill(1)] }, hf).seq).toBe(8);
  });
});
