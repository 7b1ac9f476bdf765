// Accuracy of a model's int8 or bf16 dense layers against its fp32 run (issue 12), on one model folder: used by
// scripts/accuracy.mjs (on dist/) and test/model-dtype-accuracy.test.ts (on lib/), which pass the fffbert API in.
//
// Inputs: the folder's reference.safetensors inputs when it has them, plus `sequences` seeded random rows of
// random lengths (padded, so padding is exercised). On each masked-LM input about 15% of the attended positions
// (not the first) are replaced by the mask token: the fill-mask sites.
//
// Measured, over attended tokens only:
// - hidden: max |d| and ||d|| / ||fp32|| of lastHiddenState, and the worst per-token relative error;
// - embedding: cosine of mean-pooled (embed's 'mean') vectors per row, and of model.embed(texts) where the folder
//   has a tokenizer; min and mean;
// - routing (FFF models): per layer, the FFF input of that layer in each dtype, from a truncated encoder (layers
//   0..l, layer l's feedforward output zeroed, the final norm replaced by layer l's norm2, so lastHiddenState
//   is exactly the FFF input), walked by FastFeedforward.paths() on layer l's weights stored as that dtype's
//   model stores them (FFF_WEIGHTS): the share of tokens whose path is identical, and of single decisions;
// - fill-mask: top-1 agreement of the MLM logits at the mask sites (and at every attended position);
// - classification: argmax agreement per row, max |d| of the probabilities.

import { randomF32 } from '../../bench/lib/rng.mjs';

const MASK_RATE = 0.15;
/** FFF weight storage per dense dtype, as the native model keeps it (native bert.h, BertConfig::dense_dtype). */
const FFF_WEIGHTS = { fp32: 'f32', int8: 'f32', bf16: 'bf16' };

/** Deterministic uniform draws in [0, 1): the benchmarks' seeded triangular variates through their CDF. */
function rng(seed) {
  const uniform = (x) => {
    const t = (x / Math.sqrt(6) + 1) / 2; // triangular on (0, 1), peak 1/2
    return Math.min(1 - 2 ** -20, t < 0.5 ? 2 * t * t : 1 - 2 * (1 - t) * (1 - t));
  };
  let block = [];
  let n = 0;
  return () => {
    if (block.length === 0) block = Array.from(randomF32(4096, `accuracy.${n++}`, 1, seed), uniform);
    return block.pop();
  };
}

/** { batch, seq, inputIds, attentionMask, tokenTypeIds? } (Int32Array) from the reference file and random rows. */
function buildInputs(api, dir, config, { sequences, seq, seed, maskId }) {
  const rows = [];
  const ref = `${dir}/reference.safetensors`;
  if (api.fs.existsSync(ref)) {
    const f = api.SafetensorsFile.open(ref);
    try {
      const [B, S] = f.info('input_ids').shape;
      const ids = f.readTensor('input_ids').data;
      const mask = f.readTensor('attention_mask').data;
      const types = f.names().includes('token_type_ids') ? f.readTensor('token_type_ids').data : null;
      for (let b = 0; b < B; b++) {
        const n = Array.from(mask.subarray(b * S, (b + 1) * S)).filter((m) => m === 1n).length;
        rows.push({
          ids: Array.from(ids.subarray(b * S, b * S + n), Number),
          types: types && Array.from(types.subarray(b * S, b * S + n), Number),
        });
      }
    } finally {
      f.close();
    }
  }
  const u = rng(seed);
  const S = Math.min(seq, config.maxPositions);
  for (let r = 0; r < sequences; r++) {
    const n = Math.max(2, Math.round(S * (0.5 + 0.5 * u())));
    rows.push({ ids: Array.from({ length: n }, () => 1 + Math.floor(u() * (config.vocabSize - 1))), types: null });
  }
  const width = Math.max(...rows.map((r) => r.ids.length));
  const batch = rows.length;
  const inputIds = new Int32Array(batch * width).fill(config.padTokenId ?? 0);
  const attentionMask = new Int32Array(batch * width);
  const tokenTypeIds = config.typeVocabSize > 0 ? new Int32Array(batch * width) : undefined;
  const maskSites = [];
  rows.forEach((r, b) => {
    r.ids.forEach((id, s) => {
      const t = b * width + s;
      const masked = maskId !== undefined && s > 0 && u() < MASK_RATE;
      inputIds[t] = masked ? maskId : id;
      if (masked) maskSites.push(t);
      attentionMask[t] = 1;
      if (tokenTypeIds && r.types) tokenTypeIds[t] = r.types[s];
    });
  });
  return { batch, seq: width, inputIds, attentionMask, tokenTypeIds, maskSites };
}

function cosine(a, b) {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa === 0 && bb === 0 ? 1 : ab / Math.sqrt(aa * bb);
}

function meanPool(hidden, mask, b, seq, H) {
  const v = new Float64Array(H);
  let n = 0;
  for (let s = 0; s < seq; s++) {
    if (mask[b * seq + s] !== 1) continue;
    n++;
    for (let h = 0; h < H; h++) v[h] += hidden[(b * seq + s) * H + h];
  }
  return v.map((x) => x / n);
}

function argmax(a, offset, n) {
  let best = offset;
  for (let i = offset + 1; i < offset + n; i++) if (a[i] > a[best]) best = i;
  return best - offset;
}

function hiddenError(ref, got, mask, H) {
  let maxAbs = 0;
  let dd = 0;
  let rr = 0;
  let worstToken = 0;
  for (let t = 0; t < mask.length; t++) {
    if (mask[t] !== 1) continue;
    let tdd = 0;
    let trr = 0;
    for (let h = t * H; h < (t + 1) * H; h++) {
      const d = got[h] - ref[h];
      maxAbs = Math.max(maxAbs, Math.abs(d));
      tdd += d * d;
      trr += ref[h] * ref[h];
    }
    dd += tdd;
    rr += trr;
    worstToken = Math.max(worstToken, Math.sqrt(tdd / trr));
  }
  return { maxAbs, relative: Math.sqrt(dd / rr), worstTokenRelative: worstToken };
}

/** A TensorSource for layers 0..l whose output (lastHiddenState) is layer l's FFF input (see the header). */
function truncatedSource(tensors, l) {
  const keep = (n) => {
    const m = n.match(/^encoder\.layers\.(\d+)\./);
    return m ? Number(m[1]) <= l : n.startsWith('encoder.');
  };
  const alias = (n) =>
    n.startsWith('encoder.final_norm.') ? n.replace('encoder.final_norm.', `encoder.layers.${l}.norm2.`) : n;
  const zeroed = `encoder.layers.${l}.ffn.linear_out.weight`;
  return {
    names: () => tensors.names().filter(keep),
    info: (n) => tensors.info(alias(n)),
    readF32: (n) => (n === zeroed ? new Float32Array(tensors.readF32(n).length) : tensors.readF32(alias(n))),
  };
}

/** Per layer: share of tokens with the same FFF path, and of single routing decisions, fp32 vs `dtype`. */
async function routing(api, dir, config, inputs, dtype, layers) {
  const tensors = api.SafetensorsFile.open(`${dir}/model.safetensors`);
  const { depth: D, trees: K } = config.ffn;
  const H = config.hiddenSize;
  const attended = [];
  for (let t = 0; t < inputs.attentionMask.length; t++) if (inputs.attentionMask[t] === 1) attended.push(t);
  const out = [];
  try {
    for (const l of layers) {
      const cfg = { ...config, numLayers: l + 1, head: 'none' };
      const x = {};
      for (const d of ['fp32', dtype]) {
        const enc = api.createEncoder(cfg, truncatedSource(tensors, l), { dtype: d });
        try {
          const h = (await enc.forward(inputs, { logits: false })).lastHiddenState;
          x[d] = new Float32Array(attended.length * H);
          attended.forEach((t, i) => x[d].set(h.subarray(t * H, (t + 1) * H), i * H));
        } finally {
          enc.dispose();
        }
      }
      const p = `encoder.layers.${l}.ffn.`;
      const walk = (d) => {
        const fff = api.FastFeedforward.fromTorch({
          inputWidth: H,
          outputWidth: H,
          depth: D,
          trees: K,
          linearInWeight: tensors.readF32(`${p}linear_in.weight`),
          linearInBias: tensors.readF32(`${p}linear_in.bias`),
          linearOutWeight: tensors.readF32(`${p}linear_out.weight`),
          weights: FFF_WEIGHTS[d],
        });
        try {
          return fff.paths(x[d], attended.length);
        } finally {
          fff.dispose();
        }
      };
      const a = walk('fp32');
      const b = walk(dtype);
      const per = K * (D + 1);
      let tokens = 0;
      let decisions = 0;
      for (let i = 0; i < attended.length; i++) {
        let same = true;
        for (let k = 0; k < K; k++) {
          // level j's node decides level j+1's: the walks agree on a decision while the next nodes match
          for (let j = 0; j < D; j++) {
            const o = i * per + k * (D + 1) + j;
            if (a[o] !== b[o]) break;
            if (a[o + 1] === b[o + 1]) decisions++;
          }
          for (let j = 0; j <= D; j++) same &&= a[i * per + k * (D + 1) + j] === b[i * per + k * (D + 1) + j];
        }
        if (same) tokens++;
      }
      out.push({
        layer: l,
        tokens: attended.length,
        pathAgreement: tokens / attended.length,
        decisionAgreement: D === 0 ? 1 : decisions / (attended.length * K * D),
      });
    }
  } finally {
    tensors.close();
  }
  return out;
}

/**
 * Measures `dtype` against fp32 on the model folder `dir`. api: { fs, loadModel, createEncoder, SafetensorsFile,
 * FastFeedforward }. options: sequences (random rows added, default 96), seq (their maximum length, default 32),
 * seed, routingLayers (layer indices, default all), texts (for embed where there is a tokenizer).
 */
export async function measureAccuracy(api, dir, dtype, options = {}) {
  const { sequences = 96, seq = 32, seed = 1, texts = DEFAULT_TEXTS } = options;
  const fp32 = await api.loadModel(dir);
  const low = await api.loadModel(dir, { dtype });
  try {
    const config = fp32.config;
    const H = config.hiddenSize;
    const mlm = config.head === 'mlm';
    const maskId = mlm ? (fp32.tokenizer?.maskId ?? options.maskId ?? 4) : undefined;
    const inputs = buildInputs(api, dir, config, { sequences, seq, seed, maskId });
    const encIn = {
      inputIds: { data: inputs.inputIds, shape: [inputs.batch, inputs.seq] },
      attentionMask: { data: inputs.attentionMask, shape: [inputs.batch, inputs.seq] },
    };
    if (inputs.tokenTypeIds) encIn.tokenTypeIds = { data: inputs.tokenTypeIds, shape: [inputs.batch, inputs.seq] };
    const a = await fp32.forward(encIn);
    const b = await low.forward(encIn);
    /** @type {Record<string, any>} */
    const result = {
      dir,
      dtype,
      model: { family: config.family, ffn: config.ffn.kind, hidden: H, layers: config.numLayers, head: config.head },
      rows: inputs.batch,
      tokens: inputs.attentionMask.reduce((s, m) => s + m, 0),
    };
    result.hidden = hiddenError(a.lastHiddenState, b.lastHiddenState, inputs.attentionMask, H);

    const cos = [];
    for (let r = 0; r < inputs.batch; r++)
      cos.push(
        cosine(
          meanPool(a.lastHiddenState, inputs.attentionMask, r, inputs.seq, H),
          meanPool(b.lastHiddenState, inputs.attentionMask, r, inputs.seq, H),
        ),
      );
    if (fp32.tokenizer) {
      const ea = await fp32.embed(texts);
      const eb = await low.embed(texts);
      ea.forEach((v, i) => cos.push(cosine(v, eb[i])));
    }
    result.embedding = {
      vectors: cos.length,
      minCosine: Math.min(...cos),
      meanCosine: cos.reduce((s, c) => s + c, 0) / cos.length,
    };

    if (mlm) {
      const V = config.vocabSize;
      const agree = (sites) => sites.filter((t) => argmax(a.logits, t * V, V) === argmax(b.logits, t * V, V)).length;
      const all = [];
      for (let t = 0; t < inputs.attentionMask.length; t++) if (inputs.attentionMask[t] === 1) all.push(t);
      result.fillMask = {
        maskId,
        sites: inputs.maskSites.length,
        top1Agreement: agree(inputs.maskSites) / inputs.maskSites.length,
        allPositions: all.length,
        top1AgreementAll: agree(all) / all.length,
      };
    }
    if (config.head === 'classification') {
      const L = config.numLabels;
      let same = 0;
      let maxProb = 0;
      const softmax = (x, o) => {
        const m = Math.max(...x.subarray(o, o + L));
        const e = Array.from(x.subarray(o, o + L), (v) => Math.exp(v - m));
        const z = e.reduce((s, v) => s + v, 0);
        return e.map((v) => v / z);
      };
      for (let r = 0; r < inputs.batch; r++) {
        if (argmax(a.logits, r * L, L) === argmax(b.logits, r * L, L)) same++;
        const pa = softmax(a.logits, r * L);
        const pb = softmax(b.logits, r * L);
        pa.forEach((p, i) => (maxProb = Math.max(maxProb, Math.abs(p - pb[i]))));
      }
      result.classification = { rows: inputs.batch, agreement: same / inputs.batch, maxProbDiff: maxProb };
    }
    if (config.ffn.kind === 'fff') {
      const layers = options.routingLayers ?? Array.from({ length: config.numLayers }, (_, l) => l);
      const per = await routing(api, dir, config, inputs, dtype, layers);
      const tokens = per.reduce((s, p) => s + p.tokens, 0);
      result.routing = {
        layers: per,
        pathAgreement: per.reduce((s, p) => s + p.pathAgreement * p.tokens, 0) / tokens,
        minLayerPathAgreement: Math.min(...per.map((p) => p.pathAgreement)),
        decisionAgreement: per.reduce((s, p) => s + p.decisionAgreement * p.tokens, 0) / tokens,
      };
    }
    return result;
  } finally {
    fp32.dispose();
    low.dispose();
  }
}

export const DEFAULT_TEXTS = [
  'the quick brown fox jumps over the lazy dog.',
  'fast feedforward networks evaluate one path of a tree per token.',
  'paris is the capital of france.',
  'a short one',
  'quantized dense layers keep the residual stream in fp32 while the matrix products run on integer units.',
  'hello world',
];
