/**
 * The native BERT encoder built from a normalised config and a checkpoint's tensors (docs/FFF-SPEC.md sections 2, 3).
 *
 * Checkpoint keys are mapped onto the core's own tensor names (listed by the native model; see
 * native/include/fffbert/bert.h), read one at a time and copied (or packed) natively, so loading never holds
 * two copies of the checkpoint. MLM models hold the word embedding once: an absent `decoder.weight` /
 * `cls.predictions.decoder.weight` is tied to it, a present one is compared natively and kept separately only
 * when it differs.
 */
import { describe, ErrorCode, expectInteger, FffError, invalidArgument } from '../errors';
import type { TensorSource } from '../formats/tensors';
import { allocFloat32 } from '../limits';
import { callSite, native, nativeResult } from '../native';
import type { NativeBertConfig, NativeBertModel, NativeBertProfile, NativeDenseDtype } from '../native-types';
import { Disposable } from '../util/disposable';
import { expectOneOf, expectOptions } from '../util/options';
import { bodyKeyPrefixes, checkpointKeys, hfPrefix } from './checkpoint-keys';
import { checkEncoderInputs } from './inputs';
import type { BertConfig, EncoderForwardOptions, EncoderInputs, EncoderOutputs } from './types';

export type EncoderProfile = NativeBertProfile;

/** Arithmetic of the dense linear layers: 'fp32' (default), 'int8' (dynamic quantization) or 'bf16'. */
export type DenseDtype = NativeDenseDtype;
export const DENSE_DTYPES: readonly DenseDtype[] = native.enumNames.denseDtype;

export interface CreateEncoderOptions {
  /** Arithmetic of the dense linear layers (default 'fp32'); LayerNorm, softmax, GELU, residuals stay fp32. */
  dtype?: DenseDtype;
  /** Called after each tensor is copied: `loaded` of `total` float32 bytes of the tensors the model reads. */
  onProgress?: (progress: { loaded: number; total: number }) => void;
}

/** Checks an options.dtype value (ERR_FFF_INVALID_ARGUMENT naming `name`); undefined gives 'fp32'. */
export function expectDenseDtype(name: string, value: unknown): DenseDtype {
  return expectOneOf(name, value, DENSE_DTYPES, 'fp32');
}

export interface NativeEncoder {
  readonly config: BertConfig;
  /** Arithmetic of the dense linear layers. */
  readonly dtype: DenseDtype;
  /** Bytes of weights held natively (packed and plain). */
  readonly weightBytes: number;
  /** Width of poolerOutput rows: hidden (hf pooler), the pooler's head dim (crammed classification), 0 if none. */
  readonly poolerWidth: number;
  /** Runs on the addon's thread pool, off the JavaScript thread. */
  forward(inputs: EncoderInputs, options?: EncoderForwardOptions): Promise<EncoderOutputs>;
  /** Same as forward(), on the calling thread. */
  forwardSync(inputs: EncoderInputs, options?: EncoderForwardOptions): EncoderOutputs;
  /**
   * @internal forward() without the check of `inputs`, for Model: its inputs were checked against this config
   * when the user's call came (normalizeInputs) or made by its tokenizer; the native core still checks what
   * memory safety needs.
   */
  forwardChecked(inputs: EncoderInputs, options?: EncoderForwardOptions): Promise<EncoderOutputs>;
  /** Wall time per stage (and per layer) accumulated since creation or resetProfile(). */
  profile(): EncoderProfile;
  resetProfile(): void;
  readonly disposed: boolean;
  /** Frees the weights; later calls throw ERR_FFF_DISPOSED, a forward already running completes. */
  dispose(): void;
}

/** Checkpoint buffers that are not weights, recomputed natively (norm_factor = 1/sqrt(head dim)). */
const IGNORED = [/\.norm_factor$/, /(^|\.)position_ids$/];

/**
 * The configuration the native model reads, in the form NativeBertModel.config() returns it (fields a head does
 * not use are 0, false or undefined). Checks what the native model cannot tell apart (family/head combinations)
 * with errors naming field and value.
 */
export function nativeConfig(config: BertConfig, dtype: DenseDtype): NativeBertConfig {
  const c = expectOptions('config', config) as unknown as BertConfig;
  if (config === undefined) throw invalidArgument('config', 'a BertConfig', config);
  const unsupported = (field: string, value: unknown, why: string) =>
    new FffError(ErrorCode.UNSUPPORTED_MODEL, `Unsupported config.${field} = ${describe(value)}: ${why}`);
  if (c.family !== 'crammed' && c.family !== 'hf') throw unsupported('family', c.family, "expected 'crammed' or 'hf'");
  const ffn = expectOptions('config.ffn', c.ffn) as BertConfig['ffn'];
  const kind: unknown = ffn.kind;
  if (kind !== 'fff' && kind !== 'dense') throw unsupported('ffn.kind', kind, "expected 'fff' or 'dense'");
  if (c.family === 'hf' && ffn.kind === 'fff')
    throw unsupported('ffn.kind', ffn.kind, 'hf models have a dense feedforward');
  if (!['none', 'mlm', 'classification'].includes(c.head))
    throw unsupported('head', c.head, "expected 'none', 'mlm' or 'classification'");
  if (c.head === 'classification') {
    expectInteger('config.numLabels', c.numLabels, 1);
    if (c.family === 'crammed' && c.crammedPooler === undefined) {
      throw unsupported(
        'crammedPooler',
        c.crammedPooler,
        'a crammed classification head needs its pooler (kind, headDim)',
      );
    }
    if (c.family === 'hf' && !c.hasPooler)
      throw unsupported('hasPooler', c.hasPooler, 'an hf classification head needs the pooler');
  }
  const classification = c.head === 'classification';
  return {
    family: c.family,
    hiddenSize: c.hiddenSize,
    numLayers: c.numLayers,
    numHeads: c.numHeads,
    headDim: c.headDim,
    vocabSize: c.vocabSize,
    maxPositions: c.maxPositions,
    typeVocabSize: c.typeVocabSize,
    normEps: c.normEps,
    ffn,
    head: c.head,
    numLabels: classification ? c.numLabels : 0,
    crammedPooler: classification && c.family === 'crammed' ? c.crammedPooler : undefined,
    hasPooler: c.family === 'hf' && c.hasPooler,
    denseDtype: dtype,
  };
}

/** Shapes equal up to dimensions of size 1 (a scalar `[]` checkpoint tensor for a native `[1]`). */
function sameShape(a: number[], b: number[]): boolean {
  const sa = a.filter((d) => d !== 1);
  const sb = b.filter((d) => d !== 1);
  return sa.length === sb.length && sa.every((d, i) => d === sb[i]);
}

function loadTensors(
  model: NativeBertModel,
  config: BertConfig,
  tensors: TensorSource,
  onProgress?: CreateEncoderOptions['onProgress'],
): void {
  const names = new Set(tensors.names());
  const prefix = hfPrefix(tensors);
  const used = new Set<string>();
  const plan: Array<{ name: string; key: string; shape: number[] }> = [];
  const missing: string[] = [];
  for (const t of model.tensorNames()) {
    const candidates = checkpointKeys(config.family, t.name, prefix);
    const key = candidates.find((k) => names.has(k));
    if (key === undefined) {
      if (t.required) missing.push(candidates.join(' or ') || t.name);
      continue;
    }
    used.add(key);
    plan.push({ name: t.name, key, shape: t.shape });
  }
  if (missing.length > 0) {
    const list = missing.slice(0, 10).join(', ') + (missing.length > 10 ? `, ... (${missing.length} in all)` : '');
    throw new FffError(
      ErrorCode.INVALID_CHECKPOINT,
      `The checkpoint lacks tensors this ${config.family} model needs: ${list}`,
    );
  }
  // Weights of the encoder body that nothing reads would mean an architecture we do not implement (biases where
  // crammedBERT has none, a head transform, ...): refuse rather than compute something else.
  const body = bodyKeyPrefixes(config.family, prefix);
  const unused = [...names].filter(
    (n) => body.some((b) => n.startsWith(b)) && !used.has(n) && !IGNORED.some((r) => r.test(n)),
  );
  if (unused.length > 0) {
    throw new FffError(
      ErrorCode.UNSUPPORTED_MODEL,
      `The checkpoint has encoder tensors this implementation does not use: ${unused.slice(0, 10).join(', ')}`,
    );
  }
  const bytes = (shape: number[]) => 4 * shape.reduce((n, d) => n * d, 1);
  const total = plan.reduce((n, p) => n + bytes(p.shape), 0);
  let loaded = 0;
  for (const { name, key, shape } of plan) {
    const info = tensors.info(key);
    if (info === undefined || !sameShape(info.shape, shape)) {
      throw new FffError(
        ErrorCode.INVALID_CHECKPOINT,
        `Expected checkpoint tensor ${key} to have shape [${shape.join(', ')}] but it has [${info?.shape.join(', ') ?? '?'}]`,
      );
    }
    model.setTensor(name, tensors.readF32(key), shape);
    loaded += bytes(shape);
    onProgress?.({ loaded, total });
  }
  if (config.family === 'crammed') checkNormFactors(config, tensors, names);
}

/** crammedBERT stores its attention scale as a buffer; the native side uses 1/sqrt(head dim): check they agree. */
function checkNormFactors(config: BertConfig, tensors: TensorSource, names: Set<string>): void {
  const expected = 1 / Math.sqrt(config.headDim);
  for (const n of names) {
    if (!n.endsWith('.self_attention.norm_factor')) continue;
    const [v] = tensors.readF32(n);
    if (v === undefined || !(Math.abs(v - expected) <= 1e-6 * expected)) {
      throw new FffError(
        ErrorCode.UNSUPPORTED_MODEL,
        `Unsupported ${n} = ${v}: expected 1/sqrt(headDim) = ${expected}`,
      );
    }
  }
}

class Encoder implements NativeEncoder {
  readonly config: BertConfig;
  readonly dtype: DenseDtype;
  readonly poolerWidth: number;
  readonly #native: Disposable<NativeBertModel>;

  constructor(config: BertConfig, model: NativeBertModel, dtype: DenseDtype) {
    this.config = config;
    this.dtype = dtype;
    this.poolerWidth = model.poolerWidth();
    this.#native = new Disposable(model, 'encoder');
  }

  get weightBytes(): number {
    return this.#native.handle.weightBytes();
  }

  get disposed(): boolean {
    return this.#native.disposed;
  }

  /** The ids, mask and types are copied when the call starts; the outputs are new arrays. */
  forward(inputs: EncoderInputs, options?: EncoderForwardOptions): Promise<EncoderOutputs> {
    try {
      return this.forwardChecked(checkEncoderInputs(this.config, inputs), options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async forwardChecked(inputs: EncoderInputs, options?: EncoderForwardOptions): Promise<EncoderOutputs> {
    const site = callSite();
    const { handle, args, logits, pooler } = this.#prepare(inputs, options);
    const r = await nativeResult(handle.forward({ ...args, outLogits: logits > 0, outPooler: pooler > 0 }), site);
    const outputs: EncoderOutputs = { lastHiddenState: r.hidden };
    if (r.logits) outputs.logits = r.logits;
    if (r.pooler) outputs.poolerOutput = r.pooler;
    return outputs;
  }

  forwardSync(inputs: EncoderInputs, options?: EncoderForwardOptions): EncoderOutputs {
    const { handle, args, hidden, logits, pooler } = this.#prepare(checkEncoderInputs(this.config, inputs), options);
    const outputs: EncoderOutputs = { lastHiddenState: allocFloat32(hidden, 'lastHiddenState') };
    if (logits > 0) outputs.logits = allocFloat32(logits, 'the logits');
    if (pooler > 0) outputs.poolerOutput = allocFloat32(pooler, 'poolerOutput');
    handle.forwardSync({
      ...args,
      outHidden: outputs.lastHiddenState,
      outLogits: outputs.logits,
      outPooler: outputs.poolerOutput,
    });
    return outputs;
  }

  profile(): EncoderProfile {
    return this.#native.handle.profile();
  }

  resetProfile(): void {
    this.#native.handle.resetProfile();
  }

  dispose(): void {
    this.#native.dispose();
  }

  /** The native inputs (checked), and the length of each output wanted (0: none). */
  #prepare(inputs: EncoderInputs, options: EncoderForwardOptions | undefined) {
    const handle = this.#native.handle;
    const o = expectOptions('options', options);
    if (o.logits !== undefined && typeof o.logits !== 'boolean')
      throw invalidArgument('options.logits', 'a boolean', o.logits);
    const c = this.config;
    const { batch, seq } = inputs;
    const wantLogits = o.logits !== false;
    const logits =
      c.head === 'mlm' && wantLogits
        ? batch * seq * c.vocabSize
        : c.head === 'classification' && wantLogits
          ? batch * c.numLabels
          : 0;
    const { inputIds, attentionMask, tokenTypeIds } = inputs;
    const args: EncoderInputs = { inputIds, attentionMask, tokenTypeIds, batch, seq };
    return { handle, args, hidden: batch * seq * c.hiddenSize, logits, pooler: batch * this.poolerWidth };
  }
}

/**
 * Builds the native encoder: checks the configuration, maps and copies every tensor it needs from `tensors`
 * (one at a time), and finalizes it; options.dtype picks the dense layers' arithmetic. Throws ERR_FFF_UNSUPPORTED_MODEL / ERR_FFF_INVALID_MODEL for
 * configurations it cannot run, ERR_FFF_INVALID_CHECKPOINT for missing or misshapen tensors.
 */
export function createEncoder(
  config: BertConfig,
  tensors: TensorSource,
  options?: CreateEncoderOptions,
): NativeEncoder {
  const o = expectOptions('options', options);
  const dtype = expectDenseDtype('options.dtype', o.dtype);
  const model = new native.NativeBertModel(nativeConfig(config, dtype));
  try {
    if (o.onProgress !== undefined && typeof o.onProgress !== 'function')
      throw invalidArgument('options.onProgress', 'a function', o.onProgress);
    loadTensors(model, config, tensors, o.onProgress as CreateEncoderOptions['onProgress']);
    model.finalize();
  } catch (err) {
    model.dispose();
    throw err;
  }
  return new Encoder(config, model, dtype);
}
