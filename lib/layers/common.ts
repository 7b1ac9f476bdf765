/** Pieces the layer wrappers share: the input checks of forward() and the shape of a PyTorch weight. */
import { ErrorCode, expectFloat32Array, expectInteger, FffError } from '../errors';
import { alignedFloat32Array } from '../runtime';

/**
 * Checks x [rows * width] and an optional caller-provided output [rows * outWidth]; returns the output (a new one
 * on a cache line, alignedFloat32Array, when none is given).
 */
export function checkForwardArgs(
  x: unknown,
  rows: unknown,
  width: number,
  outWidth: number,
  out: unknown,
): { rows: number; out: Float32Array } {
  const a = checkAsyncForwardArgs(x, rows, width, outWidth, out);
  return { rows: a.rows, out: a.out ?? alignedFloat32Array(a.rows * outWidth) };
}

/**
 * The same checks for forward(): without a caller `out` the output stays null, and the addon allocates a new
 * array that only the call can reach until it resolves with it.
 */
export function checkAsyncForwardArgs(
  x: unknown,
  rows: unknown,
  width: number,
  outWidth: number,
  out: unknown,
): { rows: number; out: Float32Array | null } {
  const r = expectInteger('rows', rows, 1, 2 ** 31);
  expectFloat32Array('x', x, r * width);
  return { rows: r, out: out === undefined ? null : expectFloat32Array('out', out, r * outWidth) };
}

/**
 * The [rows, cols] of a flat PyTorch weight from whichever side is known (rows wins when both are given, and
 * then both must agree with the length).
 */
export function matrixShape(name: string, weight: Float32Array, rows: unknown, cols: unknown): [number, number] {
  if (rows === undefined && cols === undefined) {
    throw new FffError(
      ErrorCode.INVALID_SHAPE,
      `The shape of ${name} is unknown: give its in or out width (or a bias)`,
    );
  }
  const known =
    rows !== undefined
      ? expectInteger(`${name} rows`, rows, 1, 2 ** 31)
      : expectInteger(`${name} columns`, cols, 1, 2 ** 31);
  if (weight.length === 0 || weight.length % known !== 0) {
    throw new FffError(
      ErrorCode.INVALID_LENGTH,
      `Expected ${name} length (${weight.length}) to be a non-zero multiple of ${known}`,
    );
  }
  const other = weight.length / known;
  const shape: [number, number] = rows !== undefined ? [known, other] : [other, known];
  if (rows !== undefined && cols !== undefined && expectInteger(`${name} columns`, cols, 1, 2 ** 31) !== shape[1]) {
    throw new FffError(
      ErrorCode.INVALID_LENGTH,
      `Expected ${name} to have length ${shape[0]} x ${String(cols)} but received length ${weight.length}`,
    );
  }
  return shape;
}
