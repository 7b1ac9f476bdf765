/**
 * The contract between the model loader (config parsing, tokenizer, pipelines) and the native encoder: a
 * normalised configuration and the encoder's inputs and outputs. Tensors come from a TensorSource
 * (lib/formats/tensors.ts).
 */

/** The sizes of a BERT encoder: shared by BertConfig and the native configuration (NativeBertConfig). */
export interface BertSizes {
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  /** hiddenSize / numHeads */
  headDim: number;
  vocabSize: number;
  /** Longest sequence the model accepts (HF: max_position_embeddings; crammed: arch.embedding.max_seq_length). */
  maxPositions: number;
  /** HF token types (0 when the model has none, as crammedBERT). */
  typeVocabSize: number;
  /** LayerNorm eps (crammed: norm_eps; HF: layer_norm_eps). */
  normEps: number;
}

/** A model configuration, normalised from crammedBERT's `arch` or Hugging Face's config.json. */
export interface BertConfig extends BertSizes {
  /**
   * 'crammed': pre-LN crammedBERT/UltraFastBERT (docs/FFF-SPEC.md section 2); 'hf': post-LN Hugging Face BERT
   * (docs/FFF-SPEC.md section 3).
   */
  family: 'crammed' | 'hf';
  ffn: { kind: 'fff'; depth: number; trees: number } | { kind: 'dense'; intermediateSize: number };
  /** What sits on top of the encoder in the checkpoint. */
  head: 'none' | 'mlm' | 'classification';
  /** Classification: number of labels and their names (id2label), index order. */
  numLabels: number;
  labels: string[];
  /** crammedBERT classification head: pooler kind and width of its dense layer. */
  crammedPooler?: { kind: 'avg' | 'zero_index'; headDim: number };
  /** HF models with a pooler (bert.pooler.dense.*). */
  hasPooler: boolean;
  /** Token ids the tokenizer pipelines need (may be absent from the config; the tokenizer fills them). */
  padTokenId?: number;
  /** The raw config.json, for reference. */
  raw: Record<string, unknown>;
}

/** A batch of token ids as the encoder takes it: [batch, seq] row-major int32. */
export interface EncoderInputs {
  batch: number;
  seq: number;
  inputIds: Int32Array;
  /** 1 = attend, 0 = padding. */
  attentionMask: Int32Array;
  /** HF only; zeros when absent. */
  tokenTypeIds?: Int32Array;
}

export interface EncoderOutputs {
  /** [batch, seq, hidden] (crammed: after final_norm). */
  lastHiddenState: Float32Array;
  /** MLM: [batch, seq, vocab]; classification: [batch, numLabels]. */
  logits?: Float32Array;
  /** [batch, hidden] where the model has a pooler. */
  poolerOutput?: Float32Array;
}

export interface EncoderForwardOptions {
  /** Compute the MLM logits (default true for MLM models); false skips the decoder's cost. */
  logits?: boolean;
}
