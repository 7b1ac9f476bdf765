import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig, parseConfigJson, resolveWithCheckpoint } from '../lib/bert/config';
import { SafetensorsFile } from '../lib/formats/safetensors';
import type { TensorInfo, TensorSource } from '../lib/formats/tensors';
import { expectFffError } from './helpers/errors';

const fixtures = path.join(__dirname, 'fixtures');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fffbert-cfg-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const readJson = (rel: string): Record<string, unknown> =>
  JSON.parse(fs.readFileSync(path.join(fixtures, rel), 'utf8')) as Record<string, unknown>;
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** A TensorSource with names and shapes only. */
function fakeTensors(shapes: Record<string, number[]>): TensorSource {
  return {
    names: () => Object.keys(shapes),
    info: (name: string): TensorInfo | undefined =>
      shapes[name] ? { name, dtype: 'F32', shape: shapes[name] } : undefined,
    readF32: () => {
      throw new Error('not used');
    },
  };
}

function withCheckpoint<T>(dir: string, fn: (t: SafetensorsFile) => T): T {
  const t = SafetensorsFile.open(path.join(fixtures, dir, 'model.safetensors'));
  try {
    return fn(t);
  } finally {
    t.close();
  }
}

describe('crammedBERT configs', () => {
  it('ufb-tiny: FFF K=1 D=3, pre-LN, MLM head', () => {
    const c = withCheckpoint('ufb-tiny', (t) => parseConfig(path.join(fixtures, 'ufb-tiny'), t));
    expect(c).toMatchObject({
      family: 'crammed',
      hiddenSize: 64,
      numLayers: 2,
      numHeads: 4,
      headDim: 16,
      vocabSize: 512,
      maxPositions: 32,
      typeVocabSize: 0,
      normEps: 1e-12,
      ffn: { kind: 'fff', depth: 3, trees: 1 },
      head: 'mlm',
      numLabels: 0,
      labels: [],
      hasPooler: false,
      padTokenId: 0,
    });
    expect(c.raw.model_type).toBe('crammedBERT');
  });

  it('ufb-tiny-k2: K=2 D=2, head dim 12', () => {
    const c = withCheckpoint('ufb-tiny-k2', (t) => parseConfig(path.join(fixtures, 'ufb-tiny-k2'), t));
    expect(c).toMatchObject({
      hiddenSize: 48,
      numHeads: 4,
      headDim: 12,
      vocabSize: 300,
      maxPositions: 24,
      ffn: { kind: 'fff', depth: 2, trees: 2 },
    });
  });

  it('a folder with only model_config.json: the checkpoint decides the head', () => {
    const dir = path.join(tmp, 'arch-only');
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(fixtures, 'ufb-tiny/model_config.json'), path.join(dir, 'model_config.json'));
    const bare = parseConfig(dir);
    expect(bare.head).toBe('none');
    expect(bare.ffn).toEqual({ kind: 'fff', depth: 3, trees: 1 });
    const withDecoder = withCheckpoint('ufb-tiny', (t) => parseConfig(dir, t));
    expect(withDecoder.head).toBe('mlm');
    const arch = readJson('ufb-tiny/model_config.json');
    const noDecoder = fakeTensors({
      'encoder.embedding.word_embedding.weight': [512, 64],
      'encoder.layers.0.ffn.linear_in.weight': [15, 64],
    });
    expect(resolveWithCheckpoint(parseConfigJson(arch), noDecoder).head).toBe('none');
    const cls = resolveWithCheckpoint(
      parseConfigJson(arch),
      fakeTensors({
        'encoder.embedding.word_embedding.weight': [512, 64],
        'encoder.layers.0.ffn.linear_in.weight': [15, 64],
        'pooler.dense.weight': [1024, 64],
        'head.weight': [5, 1024],
      }),
    );
    expect(cls).toMatchObject({
      head: 'classification',
      numLabels: 5,
      labels: ['LABEL_0', 'LABEL_1', 'LABEL_2', 'LABEL_3', 'LABEL_4'],
      crammedPooler: { kind: 'avg', headDim: 1024 },
    });
  });

  it('a sequence-classification crammedBERT config', () => {
    const json = readJson('ufb-tiny/config.json');
    json.architectures = ['ScriptableLMForSequenceClassification'];
    (json.arch as Record<string, unknown>).num_labels = 2;
    (json.arch as Record<string, Record<string, unknown>>).classification_head.pooler = 'zero_index';
    json.id2label = { 0: 'neg', 1: 'pos' };
    const c = parseConfigJson(json);
    expect(c).toMatchObject({
      head: 'classification',
      numLabels: 2,
      labels: ['neg', 'pos'],
      crammedPooler: { kind: 'zero_index', headDim: 1024 },
    });
    const shapes = {
      'encoder.embedding.word_embedding.weight': [512, 64],
      'encoder.layers.0.ffn.linear_in.weight': [15, 64],
      'pooler.dense.weight': [1024, 64],
      'head.weight': [2, 1024],
    };
    expect(resolveWithCheckpoint(c, fakeTensors(shapes)).head).toBe('classification');
    expectFffError(
      () => resolveWithCheckpoint(c, fakeTensors({ ...shapes, 'head.weight': [3, 1024] })),
      'ERR_FFF_INVALID_MODEL',
      /head.weight has shape \[3, 1024\] but the config implies \[2, 1024\]/,
    );
  });

  it('a dense crammedBERT (intermed_type "ff")', () => {
    const json = readJson('ufb-tiny/config.json');
    Object.assign(json.arch as object, { intermed_type: 'ff', intermed_size: 256 });
    expect(parseConfigJson(json).ffn).toEqual({ kind: 'dense', intermediateSize: 256 });
  });

  /** The parts of config.json's arch that the refusals below edit. */
  type Arch = Record<string, unknown> & {
    embedding: Record<string, unknown>;
    attention: Record<string, unknown>;
  };
  const refusals: Array<[string, (arch: Arch) => void, RegExp]> = [
    [
      'intermed_type',
      (a) => (a.intermed_type = 'moe'),
      /arch.intermed_type is "moe"; this library supports "fff" \(Fast Feedforward\) or "ff"/,
    ],
    ['norm_scheme', (a) => (a.norm_scheme = 'post'), /arch.norm_scheme is "post"; this library supports "pre"/],
    ['norm', (a) => (a.norm = 'RMSNorm'), /arch.norm is "RMSNorm"/],
    ['nonlin', (a) => (a.nonlin = 'GELUglu'), /arch.nonlin is "GELUglu"/],
    ['decoder_bias', (a) => (a.decoder_bias = true), /arch.decoder_bias is true; this library supports false/],
    ['skip_head_transform', (a) => (a.skip_head_transform = false), /arch.skip_head_transform is false/],
    ['final_norm', (a) => (a.final_norm = false), /arch.final_norm is false/],
    ['pos_embedding', (a) => (a.embedding.pos_embedding = 'learned'), /arch.embedding.pos_embedding is "learned"/],
    ['qkv_bias', (a) => (a.attention.qkv_bias = true), /arch.attention.qkv_bias is true/],
    ['rotary', (a) => (a.attention.rotary_embedding = true), /arch.attention.rotary_embedding is true/],
    ['causal', (a) => (a.attention.causal_attention = true), /arch.attention.causal_attention is true/],
    ['sequence_op', (a) => (a.attention.sequence_op = 'exp'), /arch.attention.sequence_op is "exp"/],
    ['embedding_dim', (a) => (a.embedding.embedding_dim = 32), /arch.embedding.embedding_dim is 32/],
  ];
  for (const [what, edit, message] of refusals) {
    it(`refuses an unsupported ${what}`, () => {
      const json = clone(readJson('ufb-tiny/config.json'));
      edit(json.arch as Arch);
      expectFffError(() => parseConfigJson(json), 'ERR_FFF_UNSUPPORTED_MODEL', message);
    });
  }

  it('refuses missing or ill-typed fields as invalid', () => {
    const json = readJson('ufb-tiny/config.json');
    delete (json.arch as Record<string, unknown>).hidden_size;
    expectFffError(
      () => parseConfigJson(json),
      'ERR_FFF_INVALID_MODEL',
      /expected arch.hidden_size to be a positive integer but it is missing/,
    );
    const j2 = readJson('ufb-tiny/config.json');
    (j2.arch as Record<string, unknown>).intermed_depth = -1;
    expectFffError(
      () => parseConfigJson(j2),
      'ERR_FFF_INVALID_MODEL',
      /arch.intermed_depth to be an integer in \[0, 24\] but it is -1/,
    );
    const j3 = readJson('ufb-tiny/config.json');
    (j3.arch as Record<string, Record<string, unknown>>).attention.num_attention_heads = 5;
    expectFffError(
      () => parseConfigJson(j3),
      'ERR_FFF_INVALID_MODEL',
      /arch.hidden_size to be a multiple of num_attention_heads \(5\)/,
    );
    const j4 = readJson('ufb-tiny/config.json');
    delete j4.arch;
    expectFffError(
      () => parseConfigJson(j4),
      'ERR_FFF_INVALID_MODEL',
      /expected arch to be an object but it is missing/,
    );
  });

  it('refuses a checkpoint whose shapes disagree with the config', () => {
    const json = readJson('ufb-tiny/config.json');
    (json.arch as Record<string, unknown>).intermed_depth = 4;
    const c = parseConfigJson(json);
    withCheckpoint('ufb-tiny', (t) =>
      expectFffError(
        () => resolveWithCheckpoint(c, t),
        'ERR_FFF_INVALID_MODEL',
        /encoder.layers.0.ffn.linear_in.weight has shape \[15, 64\] but the config implies \[31, 64\]/,
      ),
    );
    const j2 = readJson('ufb-tiny/config.json');
    (j2.arch as Record<string, Record<string, unknown>>).embedding.vocab_size = 1000;
    withCheckpoint('ufb-tiny', (t) =>
      expectFffError(
        () => resolveWithCheckpoint(parseConfigJson(j2), t),
        'ERR_FFF_INVALID_MODEL',
        /word_embedding.weight has shape \[512, 64\] but the config implies \[1000, 64\]/,
      ),
    );
  });
});

describe('Hugging Face BERT configs', () => {
  it('bert-tiny-mlm: BertForMaskedLM, no pooler in the checkpoint', () => {
    const c = withCheckpoint('bert-tiny-mlm', (t) => parseConfig(path.join(fixtures, 'bert-tiny-mlm'), t));
    expect(c).toMatchObject({
      family: 'hf',
      hiddenSize: 32,
      numLayers: 2,
      numHeads: 2,
      headDim: 16,
      vocabSize: 30522,
      maxPositions: 64,
      typeVocabSize: 2,
      normEps: 1e-12,
      ffn: { kind: 'dense', intermediateSize: 128 },
      head: 'mlm',
      hasPooler: false,
      padTokenId: 0,
    });
  });

  it('bert-tiny-cls: labels from id2label, pooler present', () => {
    const c = withCheckpoint('bert-tiny-cls', (t) => parseConfig(path.join(fixtures, 'bert-tiny-cls'), t));
    expect(c).toMatchObject({
      head: 'classification',
      numLabels: 3,
      labels: ['LABEL_0', 'LABEL_1', 'LABEL_2'],
      hasPooler: true,
    });
  });

  it('architectures absent: the checkpoint decides', () => {
    const json = readJson('bert-tiny-mlm/config.json');
    delete json.architectures;
    expect(withCheckpoint('bert-tiny-mlm', (t) => resolveWithCheckpoint(parseConfigJson(json), t)).head).toBe('mlm');
    const j2 = readJson('bert-tiny-cls/config.json');
    delete j2.architectures;
    const cls = withCheckpoint('bert-tiny-cls', (t) => resolveWithCheckpoint(parseConfigJson(j2), t));
    expect(cls).toMatchObject({
      head: 'classification',
      numLabels: 3,
      labels: ['LABEL_0', 'LABEL_1', 'LABEL_2'],
      hasPooler: true,
    });
  });

  it('BertModel has no head; a checkpoint without the bert. prefix works', () => {
    const json = readJson('bert-tiny-mlm/config.json');
    json.architectures = ['BertModel'];
    const t = fakeTensors({
      'embeddings.word_embeddings.weight': [30522, 32],
      'embeddings.position_embeddings.weight': [64, 32],
      'pooler.dense.weight': [32, 32],
    });
    expect(resolveWithCheckpoint(parseConfigJson(json), t)).toMatchObject({ head: 'none', hasPooler: true });
  });

  it('custom label names in index order', () => {
    const json = readJson('bert-tiny-cls/config.json');
    json.id2label = { 2: 'c', 0: 'a', 1: 'b' };
    expect(parseConfigJson(json).labels).toEqual(['a', 'b', 'c']);
    json.id2label = { 0: 'a', 2: 'c' };
    expectFffError(() => parseConfigJson(json), 'ERR_FFF_INVALID_MODEL', /id2label.1 to be a label name/);
  });

  const refusals: Array<[string, Record<string, unknown>, RegExp]> = [
    ['hidden_act', { hidden_act: 'gelu_new' }, /hidden_act is "gelu_new"; this library supports "gelu"/],
    ['hidden_act relu', { hidden_act: 'relu' }, /hidden_act is "relu"/],
    [
      'position_embedding_type',
      { position_embedding_type: 'relative_key' },
      /position_embedding_type is "relative_key"; this library supports "absolute"/,
    ],
    ['is_decoder', { is_decoder: true }, /is_decoder is true/],
    ['model_type', { model_type: 'roberta' }, /model_type is "roberta"; this library supports "bert" or "crammedBERT"/],
    [
      'architectures',
      { architectures: ['BertForQuestionAnswering'] },
      /architectures is \["BertForQuestionAnswering"\]; this library supports BertModel, BertForMaskedLM/,
    ],
  ];
  for (const [what, patch, message] of refusals) {
    it(`refuses an unsupported ${what}`, () => {
      const json = { ...readJson('bert-tiny-mlm/config.json'), ...patch };
      expectFffError(() => parseConfigJson(json), 'ERR_FFF_UNSUPPORTED_MODEL', message);
    });
  }

  it('refuses a config.json that says MLM over a checkpoint without the MLM head', () => {
    const c = parseConfigJson(readJson('bert-tiny-mlm/config.json'));
    withCheckpoint('bert-tiny-cls', (t) =>
      expectFffError(() => resolveWithCheckpoint(c, t), 'ERR_FFF_INVALID_MODEL', /no tensor cls.predictions.bias/),
    );
  });

  it('missing folders and files', () => {
    expectFffError(
      () => parseConfig(path.join(tmp, 'nowhere')),
      'ERR_FFF_FILE_NOT_FOUND',
      /No config.json or model_config.json/,
    );
    const dir = path.join(tmp, 'badjson');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'config.json'), '{"model_type": "bert",');
    expectFffError(() => parseConfig(dir), 'ERR_FFF_INVALID_MODEL', /config.json is not valid JSON/);
  });
});
