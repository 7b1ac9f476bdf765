/**
 * Reads a model folder's configuration into the normalised BertConfig of lib/bert/types.ts:
 * - crammedBERT / UltraFastBERT (docs/FFF-SPEC.md section 2): config.json with `model_type: "crammedBERT"` and
 *   the architecture under `arch`, or the architecture alone in model_config.json;
 * - Hugging Face BERT (docs/FFF-SPEC.md section 3): config.json with `model_type: "bert"`.
 * Everything this project cannot run exactly is refused (ERR_FFF_UNSUPPORTED_MODEL naming the field and value);
 * missing or ill-typed fields are ERR_FFF_INVALID_MODEL. Where the config leaves the head or the pooler open,
 * the checkpoint's tensor names decide (resolveWithCheckpoint).
 */
import * as path from 'node:path';
import { ErrorCode, FffError } from '../errors';
import { MAX_CONFIG_BYTES, pathExists, readJsonObject } from '../formats/files';
import type { TensorSource } from '../formats/tensors';
import { FFF_MAX_DEPTH } from '../limits';
import { checkpointKey, hfPrefix, layerKeyPattern, presentKey } from './checkpoint-keys';
import type { BertConfig } from './types';

type Json = Record<string, unknown>;

/** Reads config.json (or model_config.json) of `dir`; with `tensors`, also checks it against the checkpoint. */
export function parseConfig(dir: string, tensors?: TensorSource): BertConfig {
  const configPath = path.join(dir, 'config.json');
  const archPath = path.join(dir, 'model_config.json');
  let config: BertConfig;
  if (pathExists(configPath, 'model config')) config = parseConfigJson(readJson(configPath), configPath);
  else if (pathExists(archPath, 'model config'))
    config = parseCrammedArch(readJson(archPath), archPath, 'model_config.json', null, null);
  else throw new FffError(ErrorCode.FILE_NOT_FOUND, `No config.json or model_config.json in ${dir}`);
  if (tensors) checkLayerCount(config, tensors);
  return tensors ? resolveWithCheckpoint(config, tensors) : config;
}

/** Normalises a parsed config.json (`source` names it in errors). */
export function parseConfigJson(raw: unknown, source = 'config.json'): BertConfig {
  const json = expectObject(raw, source, '(root)');
  const modelType = json.model_type;
  if (modelType === 'bert') return parseHfBert(json, source);
  if (modelType === 'crammedBERT') {
    const arch = expectObject(json.arch, source, 'arch');
    return parseCrammedArch(arch, source, 'arch.', json, json.architectures);
  }
  // A bare crammedBERT architecture saved as config.json
  if (modelType === undefined && 'num_transformer_layers' in json && 'intermed_type' in json) {
    return parseCrammedArch(json, source, '', null, null);
  }
  throw unsupported(source, 'model_type', modelType, '"bert" or "crammedBERT"');
}

function readJson(file: string): Json {
  return readJsonObject(file, MAX_CONFIG_BYTES, 'model config');
}

// ---- field helpers: `field` is the full dotted name as it appears in the file ----

function show(value: unknown): string {
  return value === undefined ? 'missing' : JSON.stringify(value);
}

function unsupported(source: string, field: string, value: unknown, expected: string): FffError {
  return new FffError(
    ErrorCode.UNSUPPORTED_MODEL,
    `Unsupported model (${source}): ${field} is ${show(value)}; this library supports ${expected}`,
  );
}

function invalid(source: string, field: string, value: unknown, expected: string): FffError {
  return new FffError(
    ErrorCode.INVALID_MODEL,
    `Invalid model config (${source}): expected ${field} to be ${expected} but it is ${show(value)}`,
  );
}

function expectObject(value: unknown, source: string, field: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw invalid(source, field, value, 'an object');
  return value as Json;
}

function posInt(json: Json, key: string, source: string, field: string, fallback?: number): number {
  const v = json[key] === undefined || json[key] === null ? fallback : json[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)
    throw invalid(source, field, json[key], 'a positive integer');
  return v;
}

/** A positive number that stays positive and finite in float32, where the native core keeps it (fuzz: 1e300, 5e-324). */
function positiveNumber(json: Json, key: string, source: string, field: string, fallback?: number): number {
  const v = json[key] === undefined ? fallback : json[key];
  if (typeof v !== 'number' || !(Math.fround(v) > 0) || !Number.isFinite(Math.fround(v))) {
    throw invalid(source, field, json[key], 'a positive number within float32 range');
  }
  return v;
}

/** Refuses a field whose value differs from the one this library implements (`allowMissing`: absent is fine). */
function requireValue(
  json: Json,
  key: string,
  expected: unknown,
  source: string,
  field: string,
  allowMissing = true,
): void {
  const v = json[key];
  if (v === undefined && allowMissing) return;
  if (v !== expected) throw unsupported(source, field, v, JSON.stringify(expected));
}

/** Most labels of a classification head (bounds the label list built before the checkpoint is read). */
export const MAX_LABELS = 65536;
/**
 * Most positions of a crammedBERT model: its scaled-sinusoidal table (max_seq_length x hidden floats) is computed
 * at load with no checkpoint tensor to check it against (crammedBERT and UltraFastBERT use 128).
 */
export const MAX_CRAMMED_POSITIONS = 16384;

function labelsFrom(id2label: unknown, numLabels: number | undefined, source: string, field: string): string[] {
  if (numLabels !== undefined && numLabels > MAX_LABELS)
    throw invalid(source, 'num_labels', numLabels, `at most ${MAX_LABELS}`);
  if (id2label === undefined || id2label === null) {
    return Array.from({ length: numLabels ?? 2 }, (_, i) => `LABEL_${i}`);
  }
  const map = expectObject(id2label, source, field);
  const keys = Object.keys(map);
  if (keys.length > MAX_LABELS) throw invalid(source, field, `${keys.length} labels`, `at most ${MAX_LABELS} labels`);
  const n = numLabels ?? keys.length;
  if (keys.length !== n) throw invalid(source, field, id2label, `${n} labels (num_labels)`);
  const labels: string[] = [];
  for (let i = 0; i < n; i++) {
    const name = map[String(i)];
    if (typeof name !== 'string') throw invalid(source, `${field}.${i}`, name, 'a label name (ids 0..num_labels-1)');
    labels.push(name);
  }
  return labels;
}

// ---- Hugging Face BERT ----

const HF_HEADS: Record<string, BertConfig['head']> = {
  BertModel: 'none',
  BertForMaskedLM: 'mlm',
  BertForPreTraining: 'mlm', // the next-sentence head is ignored
  BertForSequenceClassification: 'classification',
};

function parseHfBert(json: Json, source: string): BertConfig {
  requireValue(json, 'hidden_act', 'gelu', source, 'hidden_act');
  requireValue(json, 'position_embedding_type', 'absolute', source, 'position_embedding_type');
  requireValue(json, 'is_decoder', false, source, 'is_decoder');
  requireValue(json, 'add_cross_attention', false, source, 'add_cross_attention');
  const hiddenSize = posInt(json, 'hidden_size', source, 'hidden_size');
  const numHeads = posInt(json, 'num_attention_heads', source, 'num_attention_heads');
  if (hiddenSize % numHeads !== 0)
    throw invalid(source, 'hidden_size', hiddenSize, `a multiple of num_attention_heads (${numHeads})`);
  const head = hfHead(json.architectures, source);
  const numLabelsField = json.num_labels === undefined ? undefined : posInt(json, 'num_labels', source, 'num_labels');
  const labels = head === 'classification' ? labelsFrom(json.id2label, numLabelsField, source, 'id2label') : [];
  const padTokenId = json.pad_token_id;
  return {
    family: 'hf',
    hiddenSize,
    numLayers: posInt(json, 'num_hidden_layers', source, 'num_hidden_layers'),
    numHeads,
    headDim: hiddenSize / numHeads,
    vocabSize: posInt(json, 'vocab_size', source, 'vocab_size'),
    maxPositions: posInt(json, 'max_position_embeddings', source, 'max_position_embeddings'),
    typeVocabSize: posInt(json, 'type_vocab_size', source, 'type_vocab_size', 2),
    normEps: positiveNumber(json, 'layer_norm_eps', source, 'layer_norm_eps', 1e-12),
    ffn: { kind: 'dense', intermediateSize: posInt(json, 'intermediate_size', source, 'intermediate_size') },
    head: head ?? 'none',
    numLabels: labels.length,
    labels,
    hasPooler: head === 'classification',
    padTokenId:
      typeof padTokenId === 'number' && Number.isSafeInteger(padTokenId) && padTokenId >= 0 ? padTokenId : undefined,
    raw: json,
  };
}

/** The head named by `architectures`; undefined when the config has none (the checkpoint decides). */
function hfHead(architectures: unknown, source: string): BertConfig['head'] | undefined {
  if (architectures === undefined || architectures === null) return undefined;
  if (
    !Array.isArray(architectures) ||
    architectures.length === 0 ||
    !architectures.every((a) => typeof a === 'string')
  ) {
    throw invalid(source, 'architectures', architectures, 'a non-empty array of class names');
  }
  const known = (architectures as string[]).find((a) => Object.hasOwn(HF_HEADS, a));
  if (known === undefined) throw unsupported(source, 'architectures', architectures, Object.keys(HF_HEADS).join(', '));
  return HF_HEADS[known];
}

// ---- crammedBERT ----

const CRAMMED_HEADS: Record<string, BertConfig['head']> = {
  ScriptableLMForPreTraining: 'mlm',
  ScriptableLMForSequenceClassification: 'classification',
};

/**
 * `arch` is the architecture object; `prefix` its dotted name in errors ('arch.' or ''); `outer` the whole
 * config.json when there is one; `architectures` its top-level class list (decides the head).
 */
function parseCrammedArch(
  arch: Json,
  source: string,
  prefix: string,
  outer: Json | null,
  architectures: unknown,
): BertConfig {
  const f = (key: string): string => prefix + key;
  const embedding = expectObject(arch.embedding, source, f('embedding'));
  const attention = expectObject(arch.attention, source, f('attention'));
  const e = (key: string): string => f(`embedding.${key}`);
  const a = (key: string): string => f(`attention.${key}`);

  requireValue(arch, 'norm', 'LayerNorm', source, f('norm'));
  requireValue(arch, 'norm_scheme', 'pre', source, f('norm_scheme'));
  requireValue(arch, 'nonlin', 'GELU', source, f('nonlin'));
  requireValue(arch, 'final_norm', true, source, f('final_norm'));
  requireValue(arch, 'skip_head_transform', true, source, f('skip_head_transform'));
  requireValue(arch, 'decoder_bias', false, source, f('decoder_bias'));
  requireValue(arch, 'ffn_layer_frequency', 1, source, f('ffn_layer_frequency'));
  requireValue(embedding, 'pos_embedding', 'scaled-sinusoidal', source, e('pos_embedding'));
  requireValue(embedding, 'normalization', true, source, e('normalization'));
  requireValue(attention, 'type', 'self-attention', source, a('type'));
  requireValue(attention, 'causal_attention', false, source, a('causal_attention'));
  requireValue(attention, 'skip_output_projection', false, source, a('skip_output_projection'));
  requireValue(attention, 'qkv_bias', false, source, a('qkv_bias'));
  requireValue(attention, 'rotary_embedding', false, source, a('rotary_embedding'));
  requireValue(attention, 'sequence_op', 'torch-softmax', source, a('sequence_op'));

  const hiddenSize = posInt(arch, 'hidden_size', source, f('hidden_size'));
  const embeddingDim = posInt(embedding, 'embedding_dim', source, e('embedding_dim'), hiddenSize);
  if (embeddingDim !== hiddenSize)
    throw unsupported(source, e('embedding_dim'), embeddingDim, `embedding_dim equal to hidden_size (${hiddenSize})`);
  const numHeads = posInt(attention, 'num_attention_heads', source, a('num_attention_heads'));
  if (hiddenSize % numHeads !== 0)
    throw invalid(source, f('hidden_size'), hiddenSize, `a multiple of num_attention_heads (${numHeads})`);

  let ffn: BertConfig['ffn'];
  if (arch.intermed_type === 'fff') {
    const depth = arch.intermed_depth;
    if (typeof depth !== 'number' || !Number.isSafeInteger(depth) || depth < 0 || depth > FFF_MAX_DEPTH) {
      throw invalid(source, f('intermed_depth'), depth, `an integer in [0, ${FFF_MAX_DEPTH}]`);
    }
    ffn = { kind: 'fff', depth, trees: posInt(arch, 'intermed_size', source, f('intermed_size')) };
  } else if (arch.intermed_type === 'ff') {
    ffn = { kind: 'dense', intermediateSize: posInt(arch, 'intermed_size', source, f('intermed_size')) };
  } else {
    throw unsupported(source, f('intermed_type'), arch.intermed_type, '"fff" (Fast Feedforward) or "ff" (dense)');
  }

  const head = crammedHead(architectures, source);
  let numLabels = 0;
  let labels: string[] = [];
  let crammedPooler: BertConfig['crammedPooler'];
  if (head === 'classification') {
    const n =
      arch.num_labels === null || arch.num_labels === undefined
        ? undefined
        : posInt(arch, 'num_labels', source, f('num_labels'));
    labels = labelsFrom(outer?.id2label, n, source, 'id2label');
    numLabels = labels.length;
    crammedPooler = crammedPoolerOf(arch, source, f);
  }
  const padTokenId = embedding.pad_token_id;
  return {
    family: 'crammed',
    hiddenSize,
    numLayers: posInt(arch, 'num_transformer_layers', source, f('num_transformer_layers')),
    numHeads,
    headDim: hiddenSize / numHeads,
    vocabSize: posInt(embedding, 'vocab_size', source, e('vocab_size')),
    maxPositions: crammedPositions(embedding, source, e('max_seq_length')),
    typeVocabSize: 0,
    normEps: positiveNumber(arch, 'norm_eps', source, f('norm_eps')),
    ffn,
    head: head ?? 'none',
    numLabels,
    labels,
    crammedPooler,
    hasPooler: false,
    padTokenId:
      typeof padTokenId === 'number' && Number.isSafeInteger(padTokenId) && padTokenId >= 0 ? padTokenId : undefined,
    raw: outer ?? arch,
  };
}

function crammedPositions(embedding: Json, source: string, field: string): number {
  const n = posInt(embedding, 'max_seq_length', source, field);
  if (n > MAX_CRAMMED_POSITIONS)
    throw invalid(source, field, n, `at most ${MAX_CRAMMED_POSITIONS} (the sinusoidal table is computed at load)`);
  return n;
}

function crammedHead(architectures: unknown, source: string): BertConfig['head'] | undefined {
  if (architectures === undefined || architectures === null) return undefined;
  if (!Array.isArray(architectures) || !architectures.every((x) => typeof x === 'string')) {
    throw invalid(source, 'architectures', architectures, 'an array of class names');
  }
  const known = (architectures as string[]).find((x) => Object.hasOwn(CRAMMED_HEADS, x));
  if (known === undefined)
    throw unsupported(source, 'architectures', architectures, Object.keys(CRAMMED_HEADS).join(', '));
  return CRAMMED_HEADS[known];
}

function crammedPoolerOf(
  arch: Json,
  source: string,
  f: (key: string) => string,
): NonNullable<BertConfig['crammedPooler']> {
  const ch = expectObject(arch.classification_head, source, f('classification_head'));
  const c = (key: string): string => f(`classification_head.${key}`);
  const kind = ch.pooler;
  if (kind !== 'avg' && kind !== 'zero_index') throw unsupported(source, c('pooler'), kind, '"avg" or "zero_index"');
  requireValue(ch, 'include_ff_layer', true, source, c('include_ff_layer'));
  requireValue(ch, 'nonlin', 'Tanh', source, c('nonlin'));
  return { kind, headDim: posInt(ch, 'head_dim', source, c('head_dim')) };
}

// ---- the checkpoint decides what the config leaves open ----

/** Whether the config names its head (HF `architectures`; crammed config.json's top-level `architectures`). */
function configNamesHead(config: BertConfig): boolean {
  const { raw } = config;
  if (raw.architectures === undefined || raw.architectures === null) return false;
  return config.family === 'hf' || raw.model_type === 'crammedBERT';
}

function shapeOf(tensors: TensorSource, name: string): number[] | undefined {
  return tensors.info(name)?.shape;
}

function expectShape(tensors: TensorSource, name: string, expected: number[], why: string): void {
  const shape = shapeOf(tensors, name);
  if (shape === undefined) throw new FffError(ErrorCode.INVALID_MODEL, `The checkpoint has no tensor ${name} (${why})`);
  if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
    throw new FffError(
      ErrorCode.INVALID_MODEL,
      `The checkpoint's ${name} has shape [${shape.join(', ')}] but the config implies [${expected.join(', ')}] (${why})`,
    );
  }
}

/**
 * The config's layer count must be the checkpoint's (one more than its highest layer index), a dense
 * feedforward's width that of layer 0's input weight and HF's type_vocab_size that of the token type embedding,
 * before the native model is sized by them.
 */
export function checkLayerCount(config: BertConfig, tensors: TensorSource): void {
  if (config.family === 'hf') {
    const key = checkpointKey('hf', 'embeddings.token_type.weight', hfPrefix(tensors));
    const rows = tensors.info(key)?.shape[0];
    if (rows !== undefined && rows !== config.typeVocabSize) {
      throw new FffError(
        ErrorCode.INVALID_MODEL,
        `The config's type_vocab_size is ${config.typeVocabSize} but the checkpoint's ${key} has ${rows} rows`,
      );
    }
  }
  if (config.ffn.kind === 'dense') {
    const key = checkpointKey(config.family, 'layers.0.ffn.in.weight', hfPrefix(tensors));
    const rows = tensors.info(key)?.shape[0];
    if (rows !== undefined && rows !== config.ffn.intermediateSize) {
      const field = config.family === 'crammed' ? 'intermed_size' : 'intermediate_size';
      throw new FffError(
        ErrorCode.INVALID_MODEL,
        `The config's ${field} is ${config.ffn.intermediateSize} but the checkpoint's ${key} has ${rows} rows`,
      );
    }
  }
  const pattern = layerKeyPattern(config.family, config.family === 'hf' ? hfPrefix(tensors) : '');
  let layers = 0;
  for (const name of tensors.names()) {
    const m = pattern.exec(name);
    if (m) layers = Math.max(layers, Number(m[1]) + 1);
  }
  if (layers !== config.numLayers) {
    const field = config.family === 'crammed' ? 'num_transformer_layers' : 'num_hidden_layers';
    throw new FffError(
      ErrorCode.INVALID_MODEL,
      `The config's ${field} is ${config.numLayers} but the checkpoint has ${layers} layers`,
    );
  }
}

/**
 * Checks the config against the checkpoint's tensor names and shapes (embeddings, FFF tree sizes, heads) and
 * settles what the config leaves open: the head when no `architectures` names it, and the HF pooler.
 */
export function resolveWithCheckpoint(config: BertConfig, tensors: TensorSource): BertConfig {
  const undecided = !configNamesHead(config);
  const out: BertConfig = { ...config };
  const H = config.hiddenSize;
  const p = config.family === 'hf' ? hfPrefix(tensors) : '';
  const key = (core: string): string => checkpointKey(config.family, core, p);
  const has = (core: string): boolean => presentKey(tensors, config.family, core, p) !== undefined;
  if (config.family === 'hf') {
    expectShape(tensors, key('embeddings.word.weight'), [config.vocabSize, H], 'vocab_size x hidden_size');
    expectShape(
      tensors,
      key('embeddings.position.weight'),
      [config.maxPositions, H],
      'max_position_embeddings x hidden_size',
    );
    out.hasPooler = has('pooler.weight');
    if (undecided) out.head = has('classifier.weight') ? 'classification' : has('mlm.decoder.bias') ? 'mlm' : 'none';
    if (out.head === 'mlm') {
      const bias = presentKey(tensors, 'hf', 'mlm.decoder.bias', p) ?? key('mlm.decoder.bias');
      expectShape(tensors, bias, [config.vocabSize], 'the MLM head of BertForMaskedLM');
    }
    if (out.head === 'classification') {
      if (undecided) {
        const n = shapeOf(tensors, key('classifier.weight'))?.[0] ?? 0;
        out.labels = labelsFrom(config.raw.id2label, n, 'config.json', 'id2label');
        out.numLabels = n;
      }
      if (!out.hasPooler)
        throw new FffError(ErrorCode.INVALID_MODEL, `The checkpoint has a classifier but no ${key('pooler.weight')}`);
      expectShape(tensors, key('classifier.weight'), [out.numLabels, H], 'num_labels x hidden_size');
    }
    return out;
  }
  expectShape(tensors, key('embeddings.word.weight'), [config.vocabSize, H], 'embedding.vocab_size x hidden_size');
  if (config.ffn.kind === 'fff') {
    const nodes = config.ffn.trees * (2 ** (config.ffn.depth + 1) - 1);
    expectShape(
      tensors,
      key('layers.0.ffn.linear_in.weight'),
      [nodes, H],
      `intermed_size x (2^(intermed_depth+1) - 1) nodes x hidden_size`,
    );
  }
  if (undecided) {
    if (has('classifier.weight')) {
      const n = shapeOf(tensors, key('classifier.weight'))?.[0] ?? 0;
      out.head = 'classification';
      out.labels = labelsFrom(undefined, n, 'config', 'id2label');
      out.numLabels = n;
      out.crammedPooler = crammedPoolerOf(
        config.raw.arch !== undefined ? (config.raw.arch as Json) : config.raw,
        'config',
        (k) => k,
      );
    } else {
      out.head = has('mlm.decoder.weight') ? 'mlm' : 'none';
    }
  }
  if (out.head === 'classification' && out.crammedPooler) {
    expectShape(
      tensors,
      key('pooler.weight'),
      [out.crammedPooler.headDim, H],
      'classification_head.head_dim x hidden_size',
    );
    expectShape(
      tensors,
      key('classifier.weight'),
      [out.numLabels, out.crammedPooler.headDim],
      'num_labels x classification_head.head_dim',
    );
  }
  return out;
}
