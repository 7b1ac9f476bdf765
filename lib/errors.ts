/**
 * Errors thrown by fffbert carry a stable `code`, as Node's own errors do. The native addon throws plain
 * Errors with the same codes (native/binding/common.h); the checks in TypeScript come first and name the
 * argument, what was expected and what was received.
 */
export const ErrorCode = {
  INVALID_ARGUMENT: 'ERR_FFF_INVALID_ARGUMENT',
  INVALID_TYPE: 'ERR_FFF_INVALID_TYPE',
  INVALID_SHAPE: 'ERR_FFF_INVALID_SHAPE',
  INVALID_LENGTH: 'ERR_FFF_INVALID_LENGTH',
  DISPOSED: 'ERR_FFF_DISPOSED',
  UNSUPPORTED_ISA: 'ERR_FFF_UNSUPPORTED_ISA',
  OUT_OF_MEMORY: 'ERR_FFF_OUT_OF_MEMORY',
  TOKEN_OUT_OF_RANGE: 'ERR_FFF_TOKEN_OUT_OF_RANGE',
  SEQUENCE_TOO_LONG: 'ERR_FFF_SEQUENCE_TOO_LONG',
  INVALID_MODEL: 'ERR_FFF_INVALID_MODEL',
  UNSUPPORTED_MODEL: 'ERR_FFF_UNSUPPORTED_MODEL',
  INVALID_CHECKPOINT: 'ERR_FFF_INVALID_CHECKPOINT',
  FILE_NOT_FOUND: 'ERR_FFF_FILE_NOT_FOUND',
  ACCESS_DENIED: 'ERR_FFF_ACCESS_DENIED',
  IO: 'ERR_FFF_IO',
  BATCH_TOO_LARGE: 'ERR_FFF_BATCH_TOO_LARGE',
  NATIVE_LOAD: 'ERR_FFF_NATIVE_LOAD',
  INTERNAL: 'ERR_FFF_INTERNAL',
  QUEUE_FULL: 'ERR_FFF_QUEUE_FULL',
  ABORTED: 'ERR_FFF_ABORTED',
  // Models by hub id (lib/hub/): each message names the id and what to do.
  HUB_REPO_NOT_FOUND: 'ERR_FFF_HUB_REPO_NOT_FOUND',
  HUB_REVISION_NOT_FOUND: 'ERR_FFF_HUB_REVISION_NOT_FOUND',
  HUB_ACCESS_DENIED: 'ERR_FFF_HUB_ACCESS_DENIED',
  HUB_NO_SAFETENSORS: 'ERR_FFF_HUB_NO_SAFETENSORS',
  HUB_UNREACHABLE: 'ERR_FFF_HUB_UNREACHABLE',
  HUB_NOT_CACHED: 'ERR_FFF_HUB_NOT_CACHED',
  HUB_DOWNLOAD_FAILED: 'ERR_FFF_HUB_DOWNLOAD_FAILED',
  HUB_INTEGRITY: 'ERR_FFF_HUB_INTEGRITY',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class FffError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'FffError';
    this.code = code;
  }
}

/** Describes a received value for an error message: its type, and the value itself when short. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (ArrayBuffer.isView(value))
    return `${value.constructor.name}(${(value as { length?: number }).length ?? value.byteLength})`;
  if (Array.isArray(value)) return `Array(${value.length})`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return `${typeof value} ${String(value)}`;
  if (typeof value === 'string') return value.length <= 40 ? `string "${value}"` : `string of length ${value.length}`;
  return typeof value;
}

/** `Expected <name> to be <expected> but received <actual>` (the shape of sharp's invalidParameterError). */
export function invalidArgument(
  name: string,
  expected: string,
  actual: unknown,
  code: ErrorCode = ErrorCode.INVALID_ARGUMENT,
): FffError {
  return new FffError(code, `Expected ${name} to be ${expected} but received ${describe(actual)}`);
}

export function expectInteger(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw invalidArgument(name, `an integer ${range}`, value);
  }
  return value;
}

export function expectFloat32Array(name: string, value: unknown, length?: number): Float32Array {
  if (!(value instanceof Float32Array)) throw invalidArgument(name, 'a Float32Array', value, ErrorCode.INVALID_TYPE);
  if (length !== undefined && value.length !== length) {
    throw new FffError(
      ErrorCode.INVALID_LENGTH,
      `Expected ${name} to have length ${length} but received length ${value.length}`,
    );
  }
  return value;
}
