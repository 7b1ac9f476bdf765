/**
 * The one check of token values against a model: ids in the vocabulary, mask values 0/1, token types, the
 * sequence length. Each entry point a user calls runs it once (Model.forward through normalizeInputs, a
 * NativeEncoder's forward through checkEncoderInputs); the native core keeps only the checks memory safety
 * needs (ids, token types, sequence length, on its own copy), with the same messages.
 */
import { ErrorCode, expectInteger, FffError, invalidArgument } from '../errors';
import { checkBatchTokens } from '../limits';
import type { BertConfig, EncoderInputs } from './types';

/** Refuses rows longer than the model's positions (ERR_FFF_SEQUENCE_TOO_LONG). */
export function checkSequenceLength(config: BertConfig, seq: number): void {
  if (seq > config.maxPositions) {
    throw new FffError(
      ErrorCode.SEQUENCE_TOO_LONG,
      `Expected inputIds rows of at most ${config.maxPositions} tokens (the model's maximum) but received ${seq}`,
    );
  }
}

/** Every value of `data` ([.., seq] row-major) in [0, limit), else `code` naming `name[b][s]`. */
export function checkRange(
  name: string,
  data: Int32Array,
  seq: number,
  limit: number,
  what: string,
  code: FffError['code'],
): void {
  const i = data.findIndex((v) => v < 0 || v >= limit);
  if (i >= 0) {
    throw new FffError(
      code,
      `Expected ${name}[${Math.floor(i / seq)}][${i % seq}] to be ${what} in [0, ${limit - 1}] but received ${data[i]}`,
    );
  }
}

/** Token ids, mask and token types against the model (the arrays already [batch, seq]). */
export function checkTokenValues(config: BertConfig, inputs: EncoderInputs): void {
  const { seq } = inputs;
  checkRange('inputIds', inputs.inputIds, seq, config.vocabSize, 'a token id', ErrorCode.TOKEN_OUT_OF_RANGE);
  checkRange('attentionMask', inputs.attentionMask, seq, 2, '0 or 1, i.e.', ErrorCode.INVALID_ARGUMENT);
  if (inputs.tokenTypeIds !== undefined) {
    const what = config.typeVocabSize === 0 ? 'a token type (this model has none: only 0)' : 'a token type';
    checkRange(
      'tokenTypeIds',
      inputs.tokenTypeIds,
      seq,
      Math.max(1, config.typeVocabSize),
      what,
      ErrorCode.INVALID_ARGUMENT,
    );
  }
}

/** Checks a NativeEncoder's inputs: [batch, seq] Int32Arrays of the right lengths and values. */
export function checkEncoderInputs(config: BertConfig, inputs: unknown): EncoderInputs {
  if (inputs === null || typeof inputs !== 'object' || Array.isArray(inputs))
    throw invalidArgument('inputs', 'an object { batch, seq, inputIds, attentionMask, tokenTypeIds? }', inputs);
  const o = inputs as Record<string, unknown>;
  const batch = expectInteger('inputs.batch', o.batch, 1, 2 ** 31);
  const seq = expectInteger('inputs.seq', o.seq, 1, 2 ** 31);
  checkSequenceLength(config, seq);
  checkBatchTokens('inputs', batch, seq);
  const n = batch * seq;
  const ints = (field: string, value: unknown): Int32Array => {
    if (!(value instanceof Int32Array))
      throw invalidArgument(`inputs.${field}`, 'an Int32Array', value, ErrorCode.INVALID_TYPE);
    if (value.length !== n) {
      throw new FffError(
        ErrorCode.INVALID_LENGTH,
        `Expected inputs.${field} to have length ${n} (batch ${batch} x seq ${seq}) but received length ${value.length}`,
      );
    }
    return value;
  };
  const checked: EncoderInputs = {
    batch,
    seq,
    inputIds: ints('inputIds', o.inputIds),
    attentionMask: ints('attentionMask', o.attentionMask),
  };
  if (o.tokenTypeIds !== undefined) checked.tokenTypeIds = ints('tokenTypeIds', o.tokenTypeIds);
  checkTokenValues(config, checked);
  return checked;
}
