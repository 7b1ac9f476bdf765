/**
 * The one map from the native core's tensor names to checkpoint keys, per family.
 *
 * The core owns its names and shapes: native/src/bert.cpp declare() lists them for a configuration and
 * NativeBertModel.tensorNames() hands that list over. This table says, for each core name, which checkpoint
 * keys hold it (first present wins: old HF checkpoints name LayerNorm parameters gamma/beta). Everything in
 * lib/ that looks a checkpoint tensor up by name goes through it; test/checkpoint-keys.test.ts checks that
 * every name the core declares, for every architecture, has an entry here and that no entry is stale.
 *
 * `{i}` is a layer index; `{p}` the prefix of an HF checkpoint's encoder keys (hfPrefix).
 */
import { ErrorCode, FffError } from '../errors';
import type { TensorSource } from '../formats/tensors';
import type { BertConfig } from './types';

type Family = BertConfig['family'];
type Table = Readonly<Record<string, readonly string[]>>;

/** A LayerNorm's weight and bias under `core`, stored at `key` (and, with `oldNames`, as gamma/beta). */
function norm(core: string, key: string, oldNames = false): Table {
  return {
    [`${core}.weight`]: oldNames ? [`${key}.weight`, `${key}.gamma`] : [`${key}.weight`],
    [`${core}.bias`]: oldNames ? [`${key}.bias`, `${key}.beta`] : [`${key}.bias`],
  };
}

/** A Linear's weight and bias (or the weight alone). */
function linear(core: string, key: string, bias = true): Table {
  return bias
    ? { [`${core}.weight`]: [`${key}.weight`], [`${core}.bias`]: [`${key}.bias`] }
    : { [`${core}.weight`]: [`${key}.weight`] };
}

const CRAMMED: Table = {
  'embeddings.word.weight': ['encoder.embedding.word_embedding.weight'],
  'embeddings.scale_factor': ['encoder.embedding.pos_embedding.scale_factor'],
  ...norm('embeddings.norm', 'encoder.embedding.norm'),
  ...norm('layers.{i}.norm1', 'encoder.layers.{i}.norm1'),
  ...norm('layers.{i}.norm2', 'encoder.layers.{i}.norm2'),
  ...linear('layers.{i}.attn.qkv', 'encoder.layers.{i}.attn.self_attention.query_key_value', false),
  ...linear('layers.{i}.attn.out', 'encoder.layers.{i}.attn.dense', false),
  ...linear('layers.{i}.ffn.linear_in', 'encoder.layers.{i}.ffn.linear_in'),
  ...linear('layers.{i}.ffn.linear_out', 'encoder.layers.{i}.ffn.linear_out', false),
  ...linear('layers.{i}.ffn.in', 'encoder.layers.{i}.ffn.dense_in'),
  ...linear('layers.{i}.ffn.out', 'encoder.layers.{i}.ffn.dense_out'),
  ...norm('final_norm', 'encoder.final_norm'),
  'mlm.decoder.weight': ['decoder.weight'], // optional natively: absent = tied to the word embedding
  ...linear('pooler', 'pooler.dense'),
  ...linear('classifier', 'head'),
};

const HF: Table = {
  'embeddings.word.weight': ['{p}embeddings.word_embeddings.weight'],
  'embeddings.position.weight': ['{p}embeddings.position_embeddings.weight'],
  'embeddings.token_type.weight': ['{p}embeddings.token_type_embeddings.weight'],
  ...norm('embeddings.norm', '{p}embeddings.LayerNorm', true),
  ...linear('layers.{i}.attn.query', '{p}encoder.layer.{i}.attention.self.query'),
  ...linear('layers.{i}.attn.key', '{p}encoder.layer.{i}.attention.self.key'),
  ...linear('layers.{i}.attn.value', '{p}encoder.layer.{i}.attention.self.value'),
  ...linear('layers.{i}.attn.out', '{p}encoder.layer.{i}.attention.output.dense'),
  ...norm('layers.{i}.norm1', '{p}encoder.layer.{i}.attention.output.LayerNorm', true),
  ...linear('layers.{i}.ffn.in', '{p}encoder.layer.{i}.intermediate.dense'),
  ...linear('layers.{i}.ffn.out', '{p}encoder.layer.{i}.output.dense'),
  ...norm('layers.{i}.norm2', '{p}encoder.layer.{i}.output.LayerNorm', true),
  ...linear('mlm.transform', 'cls.predictions.transform.dense'),
  ...norm('mlm.transform_norm', 'cls.predictions.transform.LayerNorm', true),
  'mlm.decoder.weight': ['cls.predictions.decoder.weight'], // optional natively: absent = tied
  'mlm.decoder.bias': ['cls.predictions.bias', 'cls.predictions.decoder.bias'],
  ...linear('pooler', '{p}pooler.dense'),
  ...linear('classifier', 'classifier'),
};

/** The table of one family: core name (with `{i}` for a layer index) -> checkpoint keys. */
export function checkpointTable(family: Family): Table {
  return family === 'crammed' ? CRAMMED : HF;
}

/** The prefix of an HF checkpoint's encoder keys: 'bert.' (task models) or '' (some plain BertModel files). */
export function hfPrefix(tensors: TensorSource): string {
  const word = HF['embeddings.word.weight']?.[0];
  return word !== undefined && tensors.info(word.replace('{p}', 'bert.')) !== undefined ? 'bert.' : '';
}

/** Candidate checkpoint keys of a core tensor name, first present wins; [] for a name the table lacks. */
export function checkpointKeys(family: Family, name: string, prefix = ''): string[] {
  const layer = /^layers\.(\d+)\./.exec(name);
  const entry = checkpointTable(family)[layer ? name.replace(layer[0], 'layers.{i}.') : name];
  return (entry ?? []).map((k) => k.replace('{p}', prefix).replace('{i}', layer?.[1] ?? '{i}'));
}

/** The first candidate key of a core tensor name (the canonical one, for messages and checks). */
export function checkpointKey(family: Family, name: string, prefix = ''): string {
  const key = checkpointKeys(family, name, prefix)[0];
  if (key === undefined) throw new FffError(ErrorCode.INTERNAL, `No checkpoint key for the core tensor ${name}`);
  return key;
}

/** The first of a core tensor's candidate keys the checkpoint holds, or undefined. */
export function presentKey(tensors: TensorSource, family: Family, name: string, prefix = ''): string | undefined {
  return checkpointKeys(family, name, prefix).find((k) => tensors.info(k) !== undefined);
}

/** Whether a core name is of the encoder body (embeddings, layers, final norm), not a head or the pooler. */
export function isBodyTensor(name: string): boolean {
  return /^(embeddings|layers|final_norm)\./.test(name);
}

/**
 * The checkpoint key prefixes of the encoder body: the first dotted part (after an HF checkpoint's prefix) of
 * every key the table maps a body tensor to ('encoder.' for crammed; '{p}embeddings.' and '{p}encoder.' for HF).
 */
export function bodyKeyPrefixes(family: Family, prefix = ''): string[] {
  const prefixes = new Set<string>();
  for (const [name, keys] of Object.entries(checkpointTable(family))) {
    if (!isBodyTensor(name)) continue;
    for (const key of keys) {
      const rest = key.startsWith('{p}') ? key.slice(3) : key;
      prefixes.add(`${key === rest ? '' : prefix}${rest.slice(0, rest.indexOf('.') + 1)}`);
    }
  }
  return [...prefixes];
}

/** Matches a checkpoint key of a layer's tensor; group 1 is the layer index. */
export function layerKeyPattern(family: Family, prefix = ''): RegExp {
  const key = checkpointKey(family, 'layers.{i}.norm1.weight', prefix);
  const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${literal(key.slice(0, key.indexOf('{i}')))}(\\d+)\\.`);
}
