#!/usr/bin/env node
// Writes a model folder with the shapes of pbelcak/UltraFastBERT-1x11-long (docs/FFF-SPEC.md section 2): 16
// layers, hidden 768, 12 heads, FFF K=1 D=11, vocab 32768, max sequence 128, random weights, in the crammedBERT
// layout of the fixtures (config.json with `arch`, model_config.json, model.safetensors with a tied decoder.weight, and the
// crammed-style tokenizer.json of test/fixtures). Tensors are generated and written in chunks: memory stays
// at a few MB whatever the model size.
//
//   node scripts/make-ufb-long.mjs <out-dir> [--layers 16] [--seed 1]
//
// Scaling, as the fixtures: word embeddings std 1; LayerNorm weight 1 +- 0.2, bias +- 0.2; Linear weights
// std 1/sqrt(fan_in); FFF linear_in bias std 0.15; FFF linear_out std 1/sqrt(K*(D+1)) (the nodes a token
// visits, not the 4095 it could) so that the FFF's output keeps the size of its input. All uniform.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { layers: { type: 'string', default: '16' }, seed: { type: 'string', default: '1' } },
});
if (positionals.length !== 1) {
  console.error('Usage: node scripts/make-ufb-long.mjs <out-dir> [--layers 16] [--seed 1]');
  process.exit(2);
}
const out = path.resolve(positionals[0]);
const L = Number(values.layers);
const seed = Number(values.seed);
const H = 768;
const HEADS = 12;
const K = 1;
const D = 11;
const V = 32768;
const MAX_SEQ = 128;
const NODES = K * (2 ** (D + 1) - 1); // 4095

// ---- config (the fixtures' crammedBERT format, with these sizes) ----
const arch = {
  architectures: ['ScriptableCrammedBERT'],
  num_transformer_layers: L,
  intermed_type: 'fff',
  hidden_size: H,
  intermed_size: K,
  intermed_depth: D,
  hidden_dropout_prob: 0.1,
  norm: 'LayerNorm',
  norm_eps: 1e-12,
  norm_scheme: 'pre',
  nonlin: 'GELU',
  tie_weights: true,
  decoder_bias: false,
  sparse_prediction: 0.25,
  loss: 'cross-entropy',
  objective_layout: 'MLM',
  embedding: {
    vocab_size: V,
    pos_embedding: 'scaled-sinusoidal',
    dropout_prob: 0.1,
    pad_token_id: 0,
    max_seq_length: MAX_SEQ,
    embedding_dim: H,
    normalization: true,
    stable_low_precision: false,
  },
  attention: {
    type: 'self-attention',
    causal_attention: false,
    num_attention_heads: HEADS,
    dropout_prob: 0.1,
    skip_output_projection: false,
    qkv_bias: false,
    rotary_embedding: false,
    seq_op_in_fp32: false,
    sequence_op: 'torch-softmax',
    high_level_fusion: false,
    low_level_fusion: false,
  },
  init: { type: 'normal', std: 0.02 },
  ffn_layer_frequency: 1,
  skip_head_transform: true,
  use_bias: false,
  final_norm: true,
  num_labels: null,
  classification_head: {
    pooler: 'avg',
    include_ff_layer: true,
    head_dim: 1024,
    nonlin: 'Tanh',
    classifier_dropout: 0.1,
  },
};
const config = {
  arch,
  architectures: ['ScriptableLMForPreTraining'],
  model_type: 'crammedBERT',
  torch_dtype: 'float32',
};

// ---- tensors: name, shape, and how to fill them ----
// fill: { kind: 'uniform', std, mean? } | { kind: 'const', value }; `seedName` makes decoder.weight equal the
// word embedding (tied).
const uniform = (std, mean = 0) => ({ kind: 'uniform', std, mean });
const tensors = [];
const add = (name, shape, fill, seedName = name) => tensors.push({ name, shape, fill, seedName });
add('encoder.embedding.word_embedding.weight', [V, H], uniform(1));
add('encoder.embedding.pos_embedding.scale_factor', [1], { kind: 'const', value: 0.5 });
add('encoder.embedding.norm.weight', [H], uniform(0.2, 1));
add('encoder.embedding.norm.bias', [H], uniform(0.2));
for (let i = 0; i < L; i++) {
  const p = `encoder.layers.${i}.`;
  add(`${p}norm1.weight`, [H], uniform(0.2, 1));
  add(`${p}norm1.bias`, [H], uniform(0.2));
  add(`${p}norm2.weight`, [H], uniform(0.2, 1));
  add(`${p}norm2.bias`, [H], uniform(0.2));
  add(`${p}attn.self_attention.norm_factor`, [], { kind: 'const', value: 1 / Math.sqrt(H / HEADS) });
  add(`${p}attn.self_attention.query_key_value.weight`, [3 * H, H], uniform(1 / Math.sqrt(H)));
  add(`${p}attn.dense.weight`, [H, H], uniform(1 / Math.sqrt(H)));
  add(`${p}ffn.linear_in.weight`, [NODES, H], uniform(1 / Math.sqrt(H)));
  add(`${p}ffn.linear_in.bias`, [NODES], uniform(0.15));
  add(`${p}ffn.linear_out.weight`, [H, NODES], uniform(1 / Math.sqrt(K * (D + 1))));
}
add('encoder.final_norm.weight', [H], uniform(0.2, 1));
add('encoder.final_norm.bias', [H], uniform(0.2));
add('decoder.weight', [V, H], uniform(1), 'encoder.embedding.word_embedding.weight');

// ---- safetensors header: offsets in order, JSON padded with spaces to a multiple of 8 ----
const header = { __metadata__: { format: 'pt' } };
let offset = 0;
for (const t of tensors) {
  const bytes = t.shape.reduce((a, b) => a * b, 1) * 4;
  header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
  offset += bytes;
}
let json = JSON.stringify(header);
json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
const prefix = Buffer.alloc(8);
prefix.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));

// ---- a small seeded generator (mulberry32), seeded per tensor name ----
function hash(s) {
  let h = 2166136261 ^ seed;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
function mulberry32(a) {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
fs.writeFileSync(path.join(out, 'model_config.json'), `${JSON.stringify(arch, null, 2)}\n`);
fs.copyFileSync(
  path.join(here, '..', 'test', 'fixtures', 'crammed-tokenizer', 'tokenizer.json'),
  path.join(out, 'tokenizer.json'),
);

const file = path.join(out, 'model.safetensors');
const fd = fs.openSync(`${file}.partial`, 'w');
fs.writeSync(fd, prefix);
fs.writeSync(fd, json);
const CHUNK = 1 << 20; // floats per write: 4 MB
const chunk = new Float32Array(CHUNK);
const started = Date.now();
for (const t of tensors) {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const rand = mulberry32(hash(t.seedName));
  const half = t.fill.kind === 'uniform' ? t.fill.std * Math.sqrt(3) : 0; // uniform(-a, a) has std a/sqrt(3)
  for (let done = 0; done < n; done += CHUNK) {
    const m = Math.min(CHUNK, n - done);
    for (let i = 0; i < m; i++)
      chunk[i] = t.fill.kind === 'const' ? t.fill.value : t.fill.mean + (2 * rand() - 1) * half;
    fs.writeSync(fd, new Uint8Array(chunk.buffer, 0, m * 4));
  }
}
fs.closeSync(fd);
fs.renameSync(`${file}.partial`, file);
const size = fs.statSync(file).size;
console.log(
  `${out}: ${L} layers, ${tensors.length} tensors, model.safetensors ${(size / 1e6).toFixed(1)} MB (${size} bytes) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
