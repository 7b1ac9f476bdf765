/**
 * Checks and normalises Model.forward inputs into the encoder's layout (EncoderInputs: [batch, seq] row-major
 * Int32Array): nested arrays or `{ data, shape }` tensors, validated for shape, integer values, id ranges and
 * length, with every message naming the argument, what was expected and what came.
 */

import { checkSequenceLength, checkTokenValues } from './bert/inputs';
import type { BertConfig, EncoderInputs } from './bert/types';
import { describe, ErrorCode, FffError, invalidArgument } from './errors';
import { checkBatchTokens } from './limits';

/** `[batch, seq]` of integers: nested rows, or a flat tensor with its shape. */
export type IdMatrix =
  | readonly (readonly number[])[]
  | { data: Int32Array | BigInt64Array; shape: readonly [number, number] | readonly number[] };

export interface ForwardInputs {
  inputIds: IdMatrix;
  /** 1 = token, 0 = padding; default all ones. */
  attentionMask?: IdMatrix;
  /** HF token types; default all zeros. crammedBERT has none (only zeros are accepted). */
  tokenTypeIds?: IdMatrix;
}

interface Matrix {
  batch: number;
  seq: number;
  data: Int32Array;
}

const I32_MIN = -(2 ** 31);
const I32_MAX = 2 ** 31 - 1;

/** Reads one [batch, seq] argument into an Int32Array (zero-copy for an Int32Array of the right length). */
function toMatrix(name: string, value: unknown): Matrix {
  if (Array.isArray(value)) {
    const batch = value.length;
    if (batch === 0) throw invalidArgument(name, 'a non-empty array of rows', value, ErrorCode.INVALID_SHAPE);
    const first: unknown = value[0];
    if (!Array.isArray(first))
      throw invalidArgument(`${name}[0]`, 'an array of integers', first, ErrorCode.INVALID_TYPE);
    const seq = first.length;
    if (seq === 0) throw invalidArgument(`${name}[0]`, 'a non-empty array of integers', first, ErrorCode.INVALID_SHAPE);
    checkBatchTokens(name, batch, seq);
    const data = new Int32Array(batch * seq);
    for (let b = 0; b < batch; b++) {
      const row: unknown = value[b];
      if (!Array.isArray(row))
        throw invalidArgument(`${name}[${b}]`, 'an array of integers', row, ErrorCode.INVALID_TYPE);
      if (row.length !== seq) {
        throw new FffError(
          ErrorCode.INVALID_SHAPE,
          `Expected ${name} to be rectangular: ${name}[0] has ${seq} entries but ${name}[${b}] has ${row.length}`,
        );
      }
      for (let s = 0; s < seq; s++) {
        const v: unknown = row[s];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < I32_MIN || v > I32_MAX) {
          throw invalidArgument(`${name}[${b}][${s}]`, 'an integer', v, ErrorCode.INVALID_TYPE);
        }
        data[b * seq + s] = v;
      }
    }
    return { batch, seq, data };
  }
  if (value === null || typeof value !== 'object') {
    throw invalidArgument(
      name,
      'an array of rows or { data: Int32Array | BigInt64Array, shape: [batch, seq] }',
      value,
      ErrorCode.INVALID_TYPE,
    );
  }
  const { data, shape } = value as { data?: unknown; shape?: unknown };
  if (
    !Array.isArray(shape) ||
    shape.length !== 2 ||
    !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 1)
  ) {
    throw new FffError(
      ErrorCode.INVALID_SHAPE,
      `Expected ${name}.shape to be [batch, seq] of positive integers but received ${Array.isArray(shape) ? JSON.stringify(shape) : describe(shape)}`,
    );
  }
  const [batch, seq] = shape as [number, number];
  checkBatchTokens(name, batch, seq);
  if (!(data instanceof Int32Array) && !(data instanceof BigInt64Array)) {
    throw invalidArgument(`${name}.data`, 'an Int32Array or a BigInt64Array', data, ErrorCode.INVALID_TYPE);
  }
  if (data.length !== batch * seq) {
    throw new FffError(
      ErrorCode.INVALID_LENGTH,
      `Expected ${name}.data to have length ${batch} x ${seq} = ${batch * seq} but received length ${data.length}`,
    );
  }
  if (data instanceof Int32Array) return { batch, seq, data };
  const lo = BigInt(I32_MIN);
  const hi = BigInt(I32_MAX);
  const i = data.findIndex((v) => v < lo || v > hi);
  if (i >= 0) {
    throw invalidArgument(
      `${name}[${Math.floor(i / seq)}][${i % seq}]`,
      'a 32-bit integer',
      data[i],
      ErrorCode.TOKEN_OUT_OF_RANGE,
    );
  }
  return { batch, seq, data: Int32Array.from(data, Number) };
}

function sameShape(name: string, m: Matrix, ids: Matrix): void {
  if (m.batch !== ids.batch || m.seq !== ids.seq) {
    throw new FffError(
      ErrorCode.INVALID_SHAPE,
      `Expected ${name} to have the shape of inputIds [${ids.batch}, ${ids.seq}] but received [${m.batch}, ${m.seq}]`,
    );
  }
}

/** Validates Model.forward inputs against the model and lays them out for the encoder. */
export function normalizeInputs(inputs: unknown, config: BertConfig): EncoderInputs {
  if (inputs === null || typeof inputs !== 'object' || Array.isArray(inputs)) {
    throw invalidArgument('inputs', 'an object { inputIds, attentionMask?, tokenTypeIds? }', inputs);
  }
  const { inputIds, attentionMask, tokenTypeIds } = inputs as Record<string, unknown>;
  if (inputIds === undefined) throw invalidArgument('inputs.inputIds', 'a [batch, seq] matrix of token ids', inputIds);
  const ids = toMatrix('inputIds', inputIds);
  checkSequenceLength(config, ids.seq);
  let mask: Int32Array;
  if (attentionMask === undefined) {
    mask = new Int32Array(ids.data.length).fill(1);
  } else {
    const m = toMatrix('attentionMask', attentionMask);
    sameShape('attentionMask', m, ids);
    mask = m.data;
  }
  const out: EncoderInputs = { batch: ids.batch, seq: ids.seq, inputIds: ids.data, attentionMask: mask };
  if (tokenTypeIds !== undefined) {
    const t = toMatrix('tokenTypeIds', tokenTypeIds);
    sameShape('tokenTypeIds', t, ids);
    out.tokenTypeIds = t.data;
  }
  checkTokenValues(config, out);
  if (config.typeVocabSize === 0) delete out.tokenTypeIds; // only zeros, checked: the encoder takes none
  return out;
}
