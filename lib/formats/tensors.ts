/**
 * What a checkpoint reader hands its users: tensors described by name, dtype and shape, read one at a time.
 * The safetensors reader implements TensorSource; the model loader (lib/bert) consumes it.
 */

export type TensorDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export interface TensorInfo {
  name: string;
  dtype: TensorDtype;
  shape: number[];
}

/**
 * Tensors of a checkpoint, read one at a time so that loading never holds the whole file twice.
 * Names are the checkpoint's own (e.g. `encoder.layers.0.ffn.linear_in.weight`, `bert.embeddings...`).
 */
export interface TensorSource {
  names(): string[];
  info(name: string): TensorInfo | undefined;
  /**
   * The tensor converted to float32. The array may be a view of a scratch buffer that the next read reuses:
   * consume it (the native side copies and packs) before reading another.
   */
  readF32(name: string): Float32Array;
}
