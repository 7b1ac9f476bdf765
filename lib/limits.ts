/** Bounds on the work one call may ask for, checked before anything is allocated (README: Limits). */
import { ErrorCode, FffError } from './errors';

/**
 * Most tokens (batch x seq) in one forward: 2^18 = 262144, e.g. 4096 rows of 64 or 512 of 512 (bert-base's
 * activations alone: 768 MB). The pipelines split their texts into batches (batchSize, default 32) far below it;
 * larger inputs are refused with ERR_FFF_BATCH_TOO_LARGE, outputs that cannot be allocated with
 * ERR_FFF_OUT_OF_MEMORY.
 */
export const MAX_BATCH_TOKENS = 1 << 18;

/**
 * The deepest FFF tree (D) accepted: the native core's kFffMaxDepth (fff.h), which owns it; test/limits.test.ts
 * checks the two agree. A tree of depth 24 holds 2^25 - 1 = 33.5M nodes.
 */
export const FFF_MAX_DEPTH = 24;

/** Throws ERR_FFF_BATCH_TOO_LARGE when `batch` x `seq` exceeds MAX_BATCH_TOKENS (`name` names the argument). */
export function checkBatchTokens(name: string, batch: number, seq: number): void {
  if (batch * seq > MAX_BATCH_TOKENS) {
    throw new FffError(
      ErrorCode.BATCH_TOO_LARGE,
      `Expected ${name} to hold at most ${MAX_BATCH_TOKENS} tokens (batch x seq) but received [${batch}, ${seq}] = ${batch * seq}; split it into smaller batches`,
    );
  }
}

/** A Float32Array of `length`, or ERR_FFF_OUT_OF_MEMORY instead of V8's RangeError when it cannot be allocated. */
export function allocFloat32(length: number, what: string): Float32Array {
  try {
    return new Float32Array(length);
  } catch (err) {
    throw new FffError(
      ErrorCode.OUT_OF_MEMORY,
      `Cannot allocate ${what} (${length} floats): ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
