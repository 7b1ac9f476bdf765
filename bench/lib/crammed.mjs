// A crammedBERT / UltraFastBERT-shaped model with seeded random weights, held as a TensorSource of checkpoint
// names (docs/FFF-SPEC.md section 2): our engine reads it through createEncoder(), the ONNX graphs through the
// same src(), so both sides run exactly the same weights. Tensors are generated when read, one at a time: no 755 MB file
// and no second copy of the model in memory.
import { fillRandom, randomF32 } from './rng.mjs';

/** UltraFastBERT-1x11-long's shapes; `ffn` decides FFF (depth 11, 1 tree) or a dense FF of width `width`. */
export function crammedConfig({
  ffn = 'fff',
  width = 4095,
  hidden = 768,
  layers = 16,
  heads = 12,
  vocab = 32768,
  maxPositions = 128,
  depth = 11,
  trees = 1,
} = {}) {
  return {
    family: 'crammed',
    hiddenSize: hidden,
    numLayers: layers,
    numHeads: heads,
    headDim: hidden / heads,
    vocabSize: vocab,
    maxPositions,
    typeVocabSize: 0,
    normEps: 1e-12,
    ffn: ffn === 'fff' ? { kind: 'fff', depth, trees } : { kind: 'dense', intermediateSize: width },
    head: 'none',
    numLabels: 0,
    labels: [],
    hasPooler: false,
    raw: {},
  };
}

/** Names, shapes and how to fill each tensor of the checkpoint (crammedBERT keys). */
export function crammedTensors(cfg) {
  const H = cfg.hiddenSize;
  const t = new Map();
  const add = (name, shape, fill) => t.set(name, { name, dtype: 'F32', shape, fill });
  const norm = (name) => {
    add(`${name}.weight`, [H], { offset: 1, scale: 0.1 });
    add(`${name}.bias`, [H], { scale: 0.1 });
  };
  add('encoder.embedding.word_embedding.weight', [cfg.vocabSize, H], { scale: 1 });
  add('encoder.embedding.pos_embedding.scale_factor', [], { value: 1 });
  norm('encoder.embedding.norm');
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `encoder.layers.${l}`;
    norm(`${p}.norm1`);
    norm(`${p}.norm2`);
    add(`${p}.attn.self_attention.query_key_value.weight`, [3 * H, H], { scale: 1 / Math.sqrt(H) });
    add(`${p}.attn.self_attention.norm_factor`, [], { value: 1 / Math.sqrt(cfg.headDim) });
    add(`${p}.attn.dense.weight`, [H, H], { scale: 1 / Math.sqrt(H) });
    if (cfg.ffn.kind === 'fff') {
      const n = cfg.ffn.trees * (2 ** (cfg.ffn.depth + 1) - 1);
      add(`${p}.ffn.linear_in.weight`, [n, H], { scale: 1 / Math.sqrt(H) });
      add(`${p}.ffn.linear_in.bias`, [n], { scale: 0.1 });
      // A token uses K*(D+1) of the n output columns: scale by those.
      add(`${p}.ffn.linear_out.weight`, [H, n], { scale: 1 / Math.sqrt(cfg.ffn.trees * (cfg.ffn.depth + 1)) });
    } else {
      const F = cfg.ffn.intermediateSize;
      add(`${p}.ffn.dense_in.weight`, [F, H], { scale: 1 / Math.sqrt(H) });
      add(`${p}.ffn.dense_in.bias`, [F], { scale: 0.1 });
      add(`${p}.ffn.dense_out.weight`, [H, F], { scale: 1 / Math.sqrt(F) });
      add(`${p}.ffn.dense_out.bias`, [H], { scale: 0.1 });
    }
  }
  norm('encoder.final_norm');
  return t;
}

/** The TensorSource of lib/bert/types.ts over crammedTensors(cfg); readF32 generates the tensor. */
export function randomTensorSource(cfg, seed = 1) {
  const tensors = crammedTensors(cfg);
  const readF32 = (name) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`no tensor ${name}`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.fill.value !== undefined) return Float32Array.of(t.fill.value);
    const a = fillRandom(new Float32Array(n), name, t.fill.scale, seed);
    if (t.fill.offset) for (let i = 0; i < n; i++) a[i] += t.fill.offset;
    return a;
  };
  return {
    names: () => [...tensors.keys()],
    info: (name) => {
      const t = tensors.get(name);
      return t && { name: t.name, dtype: t.dtype, shape: t.shape };
    },
    readF32,
  };
}

/** Seeded token ids [batch, seq]; mask all ones, or with `padding` trailing pads on odd rows (for checks). */
export function crammedInputs(cfg, batch, seq, { padding = 0 } = {}) {
  const u = randomF32(batch * seq, `ids.${batch}x${seq}`, 1);
  const inputIds = new Int32Array(batch * seq);
  for (let i = 0; i < inputIds.length; i++)
    inputIds[i] = Math.min(cfg.vocabSize - 1, Math.floor(((u[i] + 2.45) / 4.9) * cfg.vocabSize));
  const attentionMask = new Int32Array(batch * seq).fill(1);
  for (let b = 1; b < batch; b += 2) for (let s = seq - padding; s < seq; s++) attentionMask[b * seq + s] = 0;
  return { batch, seq, inputIds, attentionMask };
}
