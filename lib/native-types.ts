/**
 * Every export of the native addon (native/binding/), typed in one place. Arguments are validated in the
 * TypeScript wrappers first; the addon checks them again and throws Errors with the codes of errors.ts.
 */

export type IsaName = 'scalar' | 'avx2' | 'avx512' | 'neon';

export interface NativeIsaInfo {
  active: IsaName;
  best: IsaName;
  supported: IsaName[];
  features: Record<string, boolean>;
}

/** 0 = automatic, 1 = per-token walk, 2 = batched level by level. */
export type NativeStrategy = 0 | 1 | 2;
/** 0 = none, 1 = exact GELU, 2 = tanh. */
export type NativeActivation = 0 | 1 | 2;

export interface NativeFastFeedforward {
  /** x [rows*I] -> out [rows*O]; paths [rows*K*(D+1)] or null. */
  forwardSync(x: Float32Array, rows: number, out: Float32Array, paths: Int32Array | null, strategy: NativeStrategy): void;
  forward(x: Float32Array, rows: number, out: Float32Array, paths: Int32Array | null, strategy: NativeStrategy): Promise<void>;
  dispose(): void;
  weightBytes(): number;
}

export interface NativeLinear {
  forwardSync(x: Float32Array, rows: number, out: Float32Array, activation: NativeActivation, residual: Float32Array | null): void;
  forward(x: Float32Array, rows: number, out: Float32Array, activation: NativeActivation, residual: Float32Array | null): Promise<void>;
  dispose(): void;
}

export interface NativeDenseFeedforward {
  forwardSync(x: Float32Array, rows: number, out: Float32Array): void;
  forward(x: Float32Array, rows: number, out: Float32Array): Promise<void>;
  dispose(): void;
}

export interface NativeAddon {
  isaEnvOk: boolean;
  isa(): NativeIsaInfo;
  setIsa(name: string): void;
  setThreads(n: number): void;
  threads(): number;
  NativeFastFeedforward: new (
    inputWidth: number,
    outputWidth: number,
    depth: number,
    trees: number,
    linearInWeight: Float32Array,
    linearInBias: Float32Array,
    linearOutWeight: Float32Array,
  ) => NativeFastFeedforward;
  NativeLinear: new (outFeatures: number, inFeatures: number, weight: Float32Array, bias: Float32Array | null) => NativeLinear;
  NativeDenseFeedforward: new (
    inputWidth: number,
    hiddenWidth: number,
    outputWidth: number,
    inWeight: Float32Array,
    inBias: Float32Array | null,
    outWeight: Float32Array,
    outBias: Float32Array | null,
  ) => NativeDenseFeedforward;
}
