/**
 * Every export of the native addon (native/binding/), typed in one place. Arguments are validated in the
 * TypeScript wrappers first; the addon checks them again and throws Errors with the codes of errors.ts.
 */

import type { BertConfig, BertSizes, EncoderInputs } from './bert/types';

export type IsaName = 'scalar' | 'avx2' | 'avx512' | 'neon';

export interface NativeIsaInfo {
  active: IsaName;
  best: IsaName;
  supported: IsaName[];
  /** The kernels int8 / bf16 dense layers run on with the active set, e.g. 'avx512-vnni', 'avx512-bf16'. */
  int8: NativeInt8Kernel;
  bf16: NativeBf16Kernel;
  features: Record<string, boolean>;
}
export type NativeInt8Kernel = 'amx-int8' | 'avx512-vnni' | 'avx-vnni' | 'avx2' | 'neon-i8mm' | 'neon-sdot' | 'scalar';
export type NativeBf16Kernel = 'amx-bf16' | 'avx512-bf16' | 'widen-avx2' | 'neon-bf16' | 'widen-neon' | 'scalar';

/** fff.h FffStrategy: automatic, per-token walk, batched (depth first, tokens grouped by node). */
export type NativeStrategy = 'auto' | 'per-token' | 'batched';
/** dense.h Activation: none, exact (erf) GELU, tanh. */
export type NativeActivation = 'none' | 'gelu' | 'tanh';
/** fff.h FffProbe. */
export type NativeProbeKind = 'dot' | 'gather' | 'read';
/** Storage of packed FFF weights (fff.h FffWeights). */
export type NativeWeightDtype = 'f32' | 'bf16' | 'bf16-dot';

export interface NativeFastFeedforward {
  /**
   * x [rows*I] -> out [rows*O]; paths [rows*K*(D+1)] or null (the default); strategy 'auto' when undefined. An
   * own property of each object (no prototype lookup or unwrap per call), like the other layers' forwardSync.
   */
  forwardSync(
    x: Float32Array,
    rows: number,
    out: Float32Array,
    paths?: Int32Array | null,
    strategy?: NativeStrategy,
  ): void;
  /** x is copied at the call; resolves with `out` (filled at the end) or, when it is null, a new array. */
  forward(
    x: Float32Array,
    rows: number,
    out: Float32Array | null,
    paths: null,
    strategy: NativeStrategy,
  ): Promise<Float32Array>;
  dispose(): void;
  weightBytes(): number;
  weightDtype(): NativeWeightDtype;
}

export interface NativeLinear {
  forwardSync(
    x: Float32Array,
    rows: number,
    out: Float32Array,
    activation: NativeActivation,
    residual: Float32Array | null,
  ): void;
  /** x and residual are copied at the call; resolves with `out` (filled at the end) or a new array. */
  forward(
    x: Float32Array,
    rows: number,
    out: Float32Array | null,
    activation: NativeActivation,
    residual: Float32Array | null,
  ): Promise<Float32Array>;
  dispose(): void;
  weightBytes(): number;
}

export interface NativeDenseFeedforward {
  forwardSync(x: Float32Array, rows: number, out: Float32Array): void;
  /** x is copied at the call; resolves with `out` (filled at the end) or a new array. */
  forward(x: Float32Array, rows: number, out: Float32Array | null): Promise<Float32Array>;
  dispose(): void;
  weightBytes(): number;
}

/**
 * The configuration NativeBertModel reads (native/binding/model.cpp parse_config). Its keys are the addon's
 * bertConfigKeys, and NativeBertModel.config() returns it as parsed (normEps as a float32);
 * test/native-config.test.ts checks both.
 */
export interface NativeBertConfig extends BertSizes {
  family: BertConfig['family'];
  ffn: BertConfig['ffn'];
  head: BertConfig['head'];
  /** Read for a classification head only (config() gives 0 otherwise). */
  numLabels: number;
  /** Read for a crammed classification head only. */
  crammedPooler?: BertConfig['crammedPooler'];
  /** Read for hf only (config() gives false for crammed). */
  hasPooler: boolean;
  /** Arithmetic of the dense linear layers (QKV, attention output, pooler, heads, dense FF); absent = 'fp32'. */
  denseDtype?: NativeDenseDtype;
}

/** fp32 as in the checkpoint; int8 dynamic quantization (weights per output channel, activations per row); bf16. */
export type NativeDenseDtype = 'fp32' | 'int8' | 'bf16';

/** layernorm includes the FFF's residual add (fused into the next norm), attnOut its residual (in the epilogue). */
export type NativeBertStage = 'embedding' | 'layernorm' | 'qkv' | 'attention' | 'attnOut' | 'ffn' | 'head';

/** Wall seconds per stage, accumulated over forwards: `stages` over whole forwards, `layers[i]` inside layer i. */
export interface NativeBertProfile {
  forwards: number;
  tokens: number;
  wallSeconds: number;
  stages: Record<NativeBertStage, number>;
  layers: Array<Record<NativeBertStage, number>>;
}

/** The one argument of NativeBertModel.forward: the inputs and where the outputs go. */
export interface NativeBertForwardArgs extends EncoderInputs {
  outHidden?: Float32Array | null;
  outLogits?: Float32Array | boolean | null;
  outPooler?: Float32Array | boolean | null;
}

/** The one argument of NativeBertModel.forwardSync. */
export interface NativeBertForwardSyncArgs extends EncoderInputs {
  outHidden: Float32Array;
  outLogits?: Float32Array | null;
  outPooler?: Float32Array | null;
}

export interface NativeBertResult {
  hidden: Float32Array;
  logits: Float32Array | null;
  pooler: Float32Array | null;
}

/** The native BERT encoder (native/include/fffbert/bert.h); tensor names are the core's own, listed by tensorNames(). */
export interface NativeBertModel {
  /** The configuration as parsed natively, every key present (unused ones 0, false or undefined). */
  config(): Required<Omit<NativeBertConfig, 'crammedPooler'>> & Pick<NativeBertConfig, 'crammedPooler'>;
  /** Columns of one poolerOutput row: hidden (hf pooler), the pooler's head dim (crammed classification), 0. */
  poolerWidth(): number;
  tensorNames(): Array<{ name: string; required: boolean; shape: number[] }>;
  /** Copies (and packs) data, PyTorch layout, before returning: the array can be reused afterwards. */
  setTensor(name: string, data: Float32Array, shape: number[]): void;
  /** Throws ERR_FFF_INVALID_MODEL listing the missing tensors. */
  finalize(): void;
  /**
   * One forward: inputIds/attentionMask/tokenTypeIds [batch*seq], copied at the call and checked on the copy;
   * outHidden [batch*seq*H] or absent (a new array); outLogits MLM [batch*seq*V] / classification [batch*L],
   * true (a new array) or absent (none); outPooler [batch*poolerWidth], true or absent. Caller arrays are filled
   * when the work is done.
   */
  forward(args: NativeBertForwardArgs): Promise<NativeBertResult>;
  /** The same on the calling thread, into the caller's arrays (outHidden required). */
  forwardSync(args: NativeBertForwardSyncArgs): void;
  profile(): NativeBertProfile;
  resetProfile(): void;
  dispose(): void;
  weightBytes(): number;
  /** Bytes of scratch held between forwards: freed after a forward above 32 MiB and 2x the recent median. */
  workspaceBytes(): number;
}

/**
 * Each enum's names, written once in the binding (native/binding/common.h Named: one table per enum) and read
 * from there by lib/; test/native-enums.test.ts checks these unions against the tables.
 */
export interface NativeEnumNames {
  family: readonly BertConfig['family'][];
  ffn: readonly BertConfig['ffn']['kind'][];
  head: readonly BertConfig['head'][];
  crammedPooler: readonly NonNullable<BertConfig['crammedPooler']>['kind'][];
  denseDtype: readonly NativeDenseDtype[];
  fffWeights: readonly NativeWeightDtype[];
  fffStrategy: readonly NativeStrategy[];
  activation: readonly NativeActivation[];
  fffProbe: readonly NativeProbeKind[];
  /** fffbert::Isa in order, by isa_name() (native/src/isa.cpp). */
  isa: readonly IsaName[];
}

export interface NativeAddon {
  isaEnvOk: boolean;
  /** The deepest FFF tree the core accepts (fff.h kFffMaxDepth; lib/limits.ts FFF_MAX_DEPTH must equal it). */
  fffMaxDepth: number;
  isa(): NativeIsaInfo;
  setIsa(name: string): void;
  setThreads(n: number): void;
  threads(): number;
  /** Every code the addon's errors carry (native/binding/common.h code::kAll); each is one of ErrorCode. */
  errorCodes: string[];
  /** Native errors are constructed with this class (FffError) from the call on. */
  setErrorClass(errorClass: new (code: never, message: string) => Error): void;
  /** Async forwards queued or running on the addon's dispatcher threads, every context of the process. */
  jobsInFlight(): number;
  /** Bytes from the buffer's data to the next cache line (0 to cacheLine - 1). */
  alignmentOffset(buffer: ArrayBuffer): number;
  /** The core's cache line, in bytes (fffbert/memory.h kCacheLine: 64): what aligned native buffers start on. */
  cacheLine: number;
  /** Benchmark-only machine probe (fff.h fff_probe): dots/s, rows/s or bytes/s; blocks for `milliseconds`. */
  fffProbe(kind: NativeProbeKind, weights: NativeWeightDtype, bytes: number, milliseconds: number): number;
  /** Benchmark-only: whether such a call's output (on cache lines) is written past the caches (fff.h). */
  fffStreamsOutput(
    weightBytes: number,
    rows: number,
    inputWidth: number,
    outputWidth: number,
    threads: number,
  ): boolean;
  NativeFastFeedforward: new (
    inputWidth: number,
    outputWidth: number,
    depth: number,
    trees: number,
    linearInWeight: Float32Array,
    linearInBias: Float32Array,
    linearOutWeight: Float32Array,
    weights?: NativeWeightDtype,
  ) => NativeFastFeedforward;
  NativeLinear: new (
    outFeatures: number,
    inFeatures: number,
    weight: Float32Array,
    bias: Float32Array | null,
  ) => NativeLinear;
  NativeDenseFeedforward: new (
    inputWidth: number,
    hiddenWidth: number,
    outputWidth: number,
    inWeight: Float32Array,
    inBias: Float32Array | null,
    outWeight: Float32Array,
    outBias: Float32Array | null,
  ) => NativeDenseFeedforward;
  NativeBertModel: new (config: NativeBertConfig) => NativeBertModel;
  /** The keys NativeBertModel's configuration has (the fields of NativeBertConfig). */
  bertConfigKeys: string[];
  /** The names of every enum that crosses the boundary, as the binding's tables list them. */
  enumNames: NativeEnumNames;
}
