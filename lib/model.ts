/**
 * A model folder loaded for inference: config.json / model_config.json, model.safetensors and, when present,
 * tokenizer.json (+ tokenizer_config.json). loadModel() reads the checkpoint one tensor at a time into the
 * native encoder (peak memory: the packed weights plus the largest tensor), then closes the file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { BatchingOptions } from './batching/batcher';
import { abortError, Batcher, checkBatchingOptions, expectSignal } from './batching/batcher';
import { parseConfig } from './bert/config';
import type { DenseDtype, NativeEncoder } from './bert/encoder';
import { createEncoder, expectDenseDtype } from './bert/encoder';
import type { BertConfig, EncoderForwardOptions, EncoderInputs, EncoderOutputs } from './bert/types';
import { ErrorCode, FffError, invalidArgument } from './errors';
import { pathExists } from './formats/files';
import { SafetensorsFile } from './formats/safetensors';
import type { HubOptions } from './hub';
import { HUB_OPTION_KEYS, resolveModelDir } from './hub';
import type { ForwardInputs } from './model-inputs';
import { normalizeInputs } from './model-inputs';
import type { ClassifyResult } from './pipelines/classify';
import { classify } from './pipelines/classify';
import type { EmbedOptions } from './pipelines/embed';
import { embed } from './pipelines/embed';
import type { FillMaskCandidate, FillMaskOptions } from './pipelines/fill-mask';
import { fillMask } from './pipelines/fill-mask';
import type { BatchOptions, PipelineHost } from './pipelines/host';
import type { IsaName } from './runtime';
import { setIsa, setThreads } from './runtime';
import type { TokenizerInput } from './tokenizer';
import { BertTokenizer } from './tokenizer';
import { expectOptions } from './util/options';

export interface LoadModelOptions extends HubOptions {
  /** Size of the compute pool (process-wide, as setThreads()). */
  threads?: number;
  /** Instruction set to force (process-wide, as setIsa()). */
  isa?: IsaName;
  /** Texts longer than the model's maximum are truncated (true) or refused with ERR_FFF_SEQUENCE_TOO_LONG (false, default). */
  truncation?: boolean;
  /**
   * Arithmetic of the dense linear layers (QKV, attention output, pooler, heads, dense feedforward): 'fp32'
   * (default), 'int8' (weights quantized per output channel at load, activations per row at run time) or 'bf16'.
   * LayerNorm, softmax, GELU, the residual stream and the FFF layers stay fp32.
   */
  dtype?: DenseDtype;
  /** Concurrent calls share forwards (lib/batching/batcher.ts): true for the defaults, or the batcher's options. */
  batching?: BatchingOptions | boolean;
  /** Called as the weights are copied in: `loaded` of `total` float32 bytes (synchronous; the CLI's progress line). */
  onLoadProgress?: (progress: { loaded: number; total: number }) => void;
}

export interface LoadStats {
  /** Wall time of loadModel. */
  seconds: number;
  /** Size of model.safetensors. */
  checkpointBytes: number;
  /** Bytes of weights the native encoder holds. */
  weightBytes: number;
}

export interface ModelForwardOptions {
  /** MLM or classification logits (default true when the model has a head); false skips the decoder's cost. */
  logits?: boolean;
  /** Aborting removes the call while it waits for a batch (ERR_FFF_ABORTED); a running forward completes. */
  signal?: AbortSignal;
}

export class Model implements PipelineHost {
  readonly dir: string;
  readonly config: BertConfig;
  readonly loadStats: LoadStats;
  readonly #tokenizer: BertTokenizer | undefined;
  readonly #dtype: DenseDtype;
  #encoder: NativeEncoder | null;
  #batcher: Batcher | null = null;

  private constructor(
    dir: string,
    config: BertConfig,
    tokenizer: BertTokenizer | undefined,
    encoder: NativeEncoder,
    stats: LoadStats,
  ) {
    this.dir = dir;
    this.config = config;
    this.#tokenizer = tokenizer;
    this.#encoder = encoder;
    this.#dtype = encoder.dtype;
    this.loadStats = stats;
  }

  /** @internal used by loadModel */
  static create(
    dir: string,
    config: BertConfig,
    tokenizer: BertTokenizer | undefined,
    encoder: NativeEncoder,
    stats: LoadStats,
  ): Model {
    return new Model(dir, config, tokenizer, encoder, stats);
  }

  /** The folder's tokenizer, or undefined when it has no tokenizer.json. */
  get tokenizer(): BertTokenizer | undefined {
    return this.#tokenizer;
  }

  get disposed(): boolean {
    return this.#encoder === null;
  }

  /** Arithmetic of the dense linear layers, as loadModel's options.dtype (default 'fp32'). */
  get dtype(): DenseDtype {
    return this.#dtype;
  }

  /** The batcher of loadModel's options.batching (its options and stats()), or undefined. */
  get batcher(): Batcher | undefined {
    return this.#batcher ?? undefined;
  }

  /** @internal used by loadModel */
  enableBatching(options: BatchingOptions): void {
    this.#batcher = new Batcher(this.config, (inputs, o) => this.#live().forwardChecked(inputs, o), options);
  }

  /**
   * Runs the encoder on token ids: `inputIds` (and optional `attentionMask`, default all ones, and
   * `tokenTypeIds`) as [batch, seq] nested arrays or `{ data: Int32Array | BigInt64Array, shape: [batch, seq] }`.
   * Returns flat row-major arrays: lastHiddenState [batch, seq, hidden], logits [batch, seq, vocab] (MLM) or
   * [batch, numLabels] (classification), poolerOutput [batch, width] where the model has a pooler.
   */
  async forward(inputs: ForwardInputs, options?: ModelForwardOptions): Promise<EncoderOutputs> {
    this.#live();
    const o = expectOptions('options', options);
    if (o.logits !== undefined && typeof o.logits !== 'boolean')
      throw invalidArgument('options.logits', 'a boolean', o.logits);
    return this.runEncoder(normalizeInputs(inputs, this.config), {
      logits: o.logits as boolean | undefined,
      signal: expectSignal('options.signal', o.signal),
    });
  }

  /** Sentence embeddings: one Float32Array of hidden size per text (mean over the attention mask, or cls). */
  embed(texts: string | readonly TokenizerInput[], options?: EmbedOptions): Promise<Float32Array[]> {
    this.#live();
    return embed(this, texts, options);
  }

  /** For every mask token of `text`, the topK candidates (softmax over the vocabulary), best first. */
  fillMask(text: string, options?: FillMaskOptions): Promise<FillMaskCandidate[][]> {
    this.#live();
    return fillMask(this, text, options);
  }

  /** Label, its probability and every label's probability (config.labels order) per text. */
  classify(texts: string | readonly TokenizerInput[], options?: BatchOptions): Promise<ClassifyResult[]> {
    this.#live();
    return classify(this, texts, options);
  }

  /** Frees the native weights; idempotent. Later calls throw ERR_FFF_DISPOSED; a running forward completes. */
  dispose(): void {
    this.#batcher?.dispose();
    this.#encoder?.dispose();
    this.#encoder = null;
  }

  requireTokenizer(): BertTokenizer {
    if (this.#tokenizer === undefined) {
      throw new FffError(
        ErrorCode.FILE_NOT_FOUND,
        `This model has no tokenizer: ${path.join(this.dir, 'tokenizer.json')} does not exist; use forward() with token ids`,
      );
    }
    return this.#tokenizer;
  }

  /** Inputs checked by normalizeInputs or made by the tokenizer: the encoder does not check them again. */
  runEncoder(
    inputs: EncoderInputs,
    options: EncoderForwardOptions & { signal?: AbortSignal },
  ): Promise<EncoderOutputs> {
    const { signal, ...forwardOptions } = options;
    if (this.#batcher) return this.#batcher.submit(inputs, forwardOptions, signal);
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return this.#live().forwardChecked(inputs, forwardOptions);
  }

  #live(): NativeEncoder {
    if (this.#encoder === null) throw new FffError(ErrorCode.DISPOSED, 'This model has been disposed');
    return this.#encoder;
  }
}

function checkOptions(options: unknown): LoadModelOptions {
  const o = expectOptions('options', options);
  for (const key of Object.keys(o)) {
    const known = ['threads', 'isa', 'truncation', 'dtype', 'batching', 'onLoadProgress', ...HUB_OPTION_KEYS];
    if (!known.includes(key))
      throw invalidArgument(`options.${key}`, `absent (known options: ${known.join(', ')})`, o[key]);
  }
  if (o.truncation !== undefined && typeof o.truncation !== 'boolean')
    throw invalidArgument('options.truncation', 'a boolean', o.truncation);
  expectDenseDtype('options.dtype', o.dtype);
  if (o.batching !== undefined && typeof o.batching !== 'boolean') checkBatchingOptions(o.batching);
  return o as LoadModelOptions;
}

/**
 * Loads a model folder, or a model by hub id through the Hugging Face cache (lib/hub, ERR_FFF_HUB_* errors). Throws ERR_FFF_FILE_NOT_FOUND for a missing folder or file, ERR_FFF_UNSUPPORTED_MODEL /
 * ERR_FFF_INVALID_MODEL for configurations it cannot run, ERR_FFF_INVALID_CHECKPOINT for a bad checkpoint.
 */
export async function loadModel(idOrDir: string, options?: LoadModelOptions): Promise<Model> {
  const start = performance.now();
  if (typeof idOrDir !== 'string' || idOrDir.length === 0)
    throw invalidArgument('dir', 'a path to a model folder or a hub id (org/name)', idOrDir);
  const o = checkOptions(options);
  // A hub id (org/name) that is no folder: its snapshot in the Hugging Face cache, downloaded when missing (lib/hub).
  const dir = await resolveModelDir(idOrDir, o);
  if (!pathExists(dir, 'model folder')) throw new FffError(ErrorCode.FILE_NOT_FOUND, `Model folder not found: ${dir}`);
  if (!fs.statSync(dir).isDirectory())
    throw new FffError(ErrorCode.FILE_NOT_FOUND, `Expected a model folder but ${dir} is not a directory`);
  const checkpoint = path.join(dir, 'model.safetensors');
  if (!pathExists(checkpoint, 'checkpoint')) {
    const bin = pathExists(path.join(dir, 'pytorch_model.bin'))
      ? ' (pytorch_model.bin is not read: unpickling can run code; convert it to safetensors)'
      : '';
    throw new FffError(ErrorCode.FILE_NOT_FOUND, `No model.safetensors in ${dir}${bin}`);
  }
  if (o.threads !== undefined) setThreads(o.threads);
  if (o.isa !== undefined) setIsa(o.isa);

  const tensors = SafetensorsFile.open(checkpoint);
  let encoder: NativeEncoder;
  let config: BertConfig;
  try {
    config = parseConfig(dir, tensors);
    // Let the event loop breathe before the long synchronous copy of the weights.
    await new Promise<void>((resolve) => setImmediate(resolve));
    encoder = createEncoder(config, tensors, { dtype: o.dtype, onProgress: o.onLoadProgress });
  } finally {
    // frees the read buffer before the tokenizer is built: peak memory is the weights plus one of the two
    tensors.close();
  }
  let tokenizer: BertTokenizer | undefined;
  try {
    if (pathExists(path.join(dir, 'tokenizer.json'), 'tokenizer file')) {
      tokenizer = BertTokenizer.fromDir(dir, {
        maxLength: config.maxPositions,
        truncation: o.truncation,
        padTokenId: config.padTokenId,
        vocabSize: config.vocabSize,
      });
      if (tokenizer.vocabSize > config.vocabSize) {
        throw new FffError(
          ErrorCode.INVALID_MODEL,
          `The tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary only ${config.vocabSize}`,
        );
      }
    }
  } catch (err) {
    encoder.dispose();
    throw err;
  }
  const stats: LoadStats = {
    seconds: (performance.now() - start) / 1000,
    checkpointBytes: tensors.fileSize,
    weightBytes: encoder.weightBytes,
  };
  const model = Model.create(dir, config, tokenizer, encoder, stats);
  if (o.batching) model.enableBatching(o.batching === true ? {} : o.batching);
  return model;
}
