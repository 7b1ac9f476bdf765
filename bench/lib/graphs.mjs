// The dense baselines as ONNX graphs, built from the same seeded weights as every other side.
import { DType, Graph, gelu, linear, linearInt8 } from './onnx.mjs';
import { transpose } from './rng.mjs';

/**
 * Dense feedforward y = W2 GELU(W1 x + b1) + b2 on x [tokens, I] (tokens fixed: one graph per configuration).
 * w: { inWeight [W, I], inBias [W], outWeight [O, W], outBias [O] } in PyTorch layout.
 */
export function denseFeedforwardModel(w, I, W, O, tokens) {
  const g = new Graph('dense_ff');
  const x = g.input('x', DType.FLOAT, [tokens, I]);
  const h = gelu(g, linear(g, x, 'ff.in', transpose(w.inWeight, W, I), I, W, w.inBias));
  const y = linear(g, h, 'ff.out', transpose(w.outWeight, O, W), W, O, w.outBias);
  g.node('Identity', [y], { name: 'y' });
  g.output('y', DType.FLOAT, [tokens, O]);
  return g.toModel({ opset: 17 });
}

/** LayerNormalization (opset 17) over the last axis with weight and bias tensors of `name`. */
function layerNorm(g, x, name, src, H, eps) {
  const w = g.init(`${name}.weight`, src(`${name}.weight`), [H]);
  const b = g.init(`${name}.bias`, src(`${name}.bias`), [H]);
  return g.node('LayerNormalization', [x, w, b], { attrs: { axis: -1, epsilon: { float: eps } } });
}

/**
 * The crammedBERT / UltraFastBERT encoder (docs/FFF-SPEC.md section 2) with a dense feedforward of width `F`, for fixed
 * [batch, seq]: embeddings + scale * sinusoidal PE, embedding norm, pre-LN layers (interleaved QKV
 * [heads, 3*head_dim] without bias, additive mask (1-m)*-10000, dense without bias, FF with bias and exact
 * GELU), final norm; output last_hidden_state [batch, seq, H].
 *
 * src(name) returns the PyTorch-layout tensor of that checkpoint name (the same names the engine reads).
 * names: { ffIn, ffOut } prefixes of the dense FF's two Linear layers inside `layers.{i}.ffn.`.
 * int8: null (fp32) or 'per-tensor' / 'per-channel': the four weight MatMuls of each layer (QKV, attention
 * output, FF in and out) in quantize_dynamic's int8 form (onnx.mjs linearInt8); attention's activation-by-
 * activation MatMuls, the embedding Gather, norms and softmax stay fp32.
 */
export function crammedEncoderModel(
  cfg,
  src,
  batch,
  seq,
  names = { ffIn: 'linear_in', ffOut: 'linear_out' },
  { int8 = null } = {},
) {
  const dense = int8 ? (gr, x, name, w, inF, outF, bias) => linearInt8(gr, x, name, w, inF, outF, bias, int8) : linear;
  const { hiddenSize: H, numLayers: L, numHeads: nh, headDim: hd, vocabSize: V, normEps: eps } = cfg;
  const F = cfg.ffn.intermediateSize;
  const g = new Graph('crammed_encoder');
  const ids = g.input('input_ids', DType.INT64, [batch, seq]);
  const mask = g.input('attention_mask', DType.INT64, [batch, seq]);

  // Embeddings: word[ids] + scale * PE[:S], then the embedding norm.
  const word = g.init('encoder.embedding.word_embedding.weight', src('encoder.embedding.word_embedding.weight'), [
    V,
    H,
  ]);
  const scale = src('encoder.embedding.pos_embedding.scale_factor')[0];
  const pe = new Float32Array(seq * H);
  for (let p = 0; p < seq; p++) {
    for (let i = 0; i < H / 2; i++) {
      const a = p * Math.exp((-2 * i * Math.log(10000)) / H);
      pe[p * H + 2 * i] = scale * Math.sin(a);
      pe[p * H + 2 * i + 1] = scale * Math.cos(a);
    }
  }
  let h = g.node('Add', [g.node('Gather', [word, ids], { attrs: { axis: 0 } }), g.init('pe_scaled', pe, [seq, H])]);
  h = layerNorm(g, h, 'encoder.embedding.norm', src, H, eps);
  // Tokens as rows of a 2-D [B*S, H] matrix between the attention blocks: ORT then fuses each MatMul + bias Add
  // into one Gemm (its fusion wants 2-D inputs), as our engine fuses the bias into its GEMM.
  h = g.node('Reshape', [h, g.ints([batch * seq, H])]);

  // Additive mask term (1 - m) * -10000 on the key axis: [B, 1, 1, S].
  const m = g.node('Cast', [mask], { attrs: { to: DType.FLOAT } });
  const maskTerm = g.node('Reshape', [
    g.node('Mul', [g.node('Sub', [g.scalar(1), m]), g.scalar(-10000)]),
    g.ints([batch, 1, 1, seq]),
  ]);

  for (let l = 0; l < L; l++) {
    const p = `encoder.layers.${l}`;
    const a = layerNorm(g, h, `${p}.norm1`, src, H, eps);
    const qkvName = `${p}.attn.self_attention.query_key_value`;
    const qkv = dense(g, a, qkvName, transpose(src(`${qkvName}.weight`), 3 * H, H), H, 3 * H, null);
    // [B,S,3H] -> [B,S,heads,3hd] -> [B,heads,S,3hd] -> Q | K | V along the last axis.
    const heads = g.node('Transpose', [g.node('Reshape', [qkv, g.ints([batch, seq, nh, 3 * hd])])], {
      attrs: { perm: [0, 2, 1, 3] },
    });
    const [q, k, v] = g.node('Split', [heads], { attrs: { axis: -1 }, outputs: 3 });
    const normFactor = src(`${p}.attn.self_attention.norm_factor`)[0];
    let scores = g.node('MatMul', [q, g.node('Transpose', [k], { attrs: { perm: [0, 1, 3, 2] } })]);
    scores = g.node('Add', [g.node('Mul', [scores, g.scalar(normFactor)]), maskTerm]);
    const probs = g.node('Softmax', [scores], { attrs: { axis: -1 } });
    const ctx = g.node('Reshape', [
      g.node('Transpose', [g.node('MatMul', [probs, v])], { attrs: { perm: [0, 2, 1, 3] } }),
      g.ints([batch * seq, H]),
    ]);
    const out = dense(g, ctx, `${p}.attn.dense`, transpose(src(`${p}.attn.dense.weight`), H, H), H, H, null);
    h = g.node('Add', [h, out]);

    const b = layerNorm(g, h, `${p}.norm2`, src, H, eps);
    const fin = `${p}.ffn.${names.ffIn}`;
    const fout = `${p}.ffn.${names.ffOut}`;
    const f1 = gelu(g, dense(g, b, fin, transpose(src(`${fin}.weight`), F, H), H, F, src(`${fin}.bias`)));
    const f2 = dense(g, f1, fout, transpose(src(`${fout}.weight`), H, F), F, H, src(`${fout}.bias`));
    h = g.node('Add', [h, f2]);
  }
  h = layerNorm(g, h, 'encoder.final_norm', src, H, eps);
  g.node('Reshape', [h, g.ints([batch, seq, H])], { name: 'last_hidden_state' });
  g.output('last_hidden_state', DType.FLOAT, [batch, seq, H]);
  return g.toModel({ opset: 17 });
}
