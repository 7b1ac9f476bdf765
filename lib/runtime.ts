/** Instruction-set and thread controls of the native core. */
import { ErrorCode, expectInteger, FffError } from './errors';
import { native } from './native';
import type { IsaName, NativeIsaInfo } from './native-types';
import { expectOneOf } from './util/options';

export type { IsaName };
/** Every instruction set's name, as the core names them (native isa_name()). */
export const ISA_NAMES: readonly IsaName[] = native.enumNames.isa;

if (!native.isaEnvOk) {
  process.emitWarning(
    `FFFBERT_ISA=${process.env.FFFBERT_ISA} names an instruction set that is unknown or not supported on this CPU; using ${native.isa().active}`,
    { code: 'FFFBERT_ISA_IGNORED' },
  );
}

/** Whether FFFBERT_THREADS, when set, is what the native pool accepts (pool.cpp: a whole integer in [1, 1024]). */
export function threadsEnvOk(value: string | undefined): boolean {
  if (value === undefined || value === '') return true;
  if (!/^\s*[+-]?\d+$/.test(value)) return false;
  const n = Number(value);
  return n >= 1 && n <= 1024;
}

if (!threadsEnvOk(process.env.FFFBERT_THREADS)) {
  process.emitWarning(
    `FFFBERT_THREADS=${process.env.FFFBERT_THREADS} is not an integer in [1, 1024]; using ${native.threads()} threads (the available cores)`,
    { code: 'FFFBERT_THREADS_IGNORED' },
  );
}

/**
 * `{ active, best, supported, int8, bf16, features }`: the set in use, the best this CPU and OS allow, all usable
 * ones, and the kernels of int8 / bf16 dense layers under the active set.
 */
export function isa(): NativeIsaInfo {
  return native.isa();
}

/** Forces the instruction set for every layer and model of this process (FFFBERT_ISA does it at load). */
export function setIsa(name: IsaName): void {
  expectOneOf('isa', name, ISA_NAMES);
  if (!native.isa().supported.includes(name)) {
    throw new FffError(
      ErrorCode.UNSUPPORTED_ISA,
      `Instruction set ${name} is not supported on this CPU (supported: ${native.isa().supported.join(', ')})`,
    );
  }
  native.setIsa(name);
}

/** Sets the size of the compute pool (default: FFFBERT_THREADS, else the available cores). */
export function setThreads(n: number): void {
  native.setThreads(expectInteger('threads', n, 1, 1024));
}

/** The size of the compute pool. */
export function threads(): number {
  return native.threads();
}

/** The alignment of alignedFloat32Array's data, in bytes: a cache line (the native core's kCacheLine, 64). */
export const DATA_ALIGNMENT: number = native.cacheLine;

/**
 * A zeroed Float32Array of `length` whose data starts on a 64-byte boundary (a cache line), for inputs and outputs
 * of the layers' forward calls: the kernels' vector loads and stores then never straddle two cache lines. An
 * ordinary large Float32Array is 16-byte aligned, and each 64-byte load of a token's row then touches two lines:
 * the FFF layer at 2048 tokens runs ~8-14% slower so (Zen 4, 2 threads). The array is a view into an ArrayBuffer
 * of up to 60 bytes more: use its `byteOffset` and `byteLength` with `.buffer`. The layers' outputs (when no
 * `out` is given) are allocated so. Throws ERR_FFF_INVALID_ARGUMENT for a length that is not an integer in
 * [0, 2^32], ERR_FFF_OUT_OF_MEMORY when the memory cannot be had.
 */
export function alignedFloat32Array(length: number): Float32Array {
  const n = expectInteger('length', length, 0, 2 ** 32);
  let buffer: ArrayBuffer;
  try {
    buffer = new ArrayBuffer(n * 4 + DATA_ALIGNMENT - 4);
  } catch (err) {
    throw new FffError(
      ErrorCode.OUT_OF_MEMORY,
      `Cannot allocate ${n} floats: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  return new Float32Array(buffer, native.alignmentOffset(buffer), n);
}
