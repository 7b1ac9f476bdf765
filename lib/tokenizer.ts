/**
 * The tokenizer of a model folder: `tokenizer.json` (+ `tokenizer_config.json` when present) run by
 * @huggingface/tokenizers (pure JS), with what that library leaves out: truncation (Hugging Face's
 * `longest_first` for pairs) or refusal of long inputs, padded batches with attention masks and token types, and
 * the special tokens the pipelines need (mask, pad, cls, sep).
 */
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { describe, ErrorCode, expectInteger, FffError, invalidArgument } from './errors';
import { MAX_CONFIG_BYTES, MAX_TOKENIZER_BYTES, pathExists, readJsonObject } from './formats/files';
import { checkTokenizerJson } from './tokenizer-json';

type Json = Record<string, unknown>;

export interface TokenizerOptions {
  /** Longest encoding in tokens, special tokens included (default: no limit). */
  maxLength?: number;
  /** Longer inputs are truncated (true) or refused with ERR_FFF_SEQUENCE_TOO_LONG (false, the default). */
  truncation?: boolean;
  /** Every token id of the file must be below it (the model's vocabulary size; default MAX_VOCAB, 2^21). */
  vocabSize?: number;
}

/**
 * Runs a call into @huggingface/tokenizers: what it throws on a malformed file (TypeError, RangeError, ...)
 * becomes ERR_FFF_INVALID_MODEL naming `what`.
 */
function library<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof FffError) throw err;
    throw new FffError(
      ErrorCode.INVALID_MODEL,
      `tokenizer.json ${what}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

export interface Encoding {
  ids: number[];
  /** Token type per id (0 for the first sequence; the second's comes from the post-processor template). */
  typeIds: number[];
  tokens: string[];
}

/** A padded batch, laid out as the encoder takes it (EncoderInputs of lib/bert/types.ts). */
export interface TokenizedBatch {
  batch: number;
  /** Longest encoding of the batch. */
  seq: number;
  /** [batch, seq] row-major; rows shorter than seq are padded at the end with padId. */
  inputIds: Int32Array;
  /** [batch, seq]: 1 on tokens, 0 on padding. */
  attentionMask: Int32Array;
  /** [batch, seq]: the encodings' type ids, 0 on padding. */
  tokenTypeIds: Int32Array;
  /** Tokens of each row before padding. */
  lengths: number[];
}

/** A single text or a pair (text, text_pair). */
export type TokenizerInput = string | readonly [string, string];

const CANDIDATES = {
  mask: ['[MASK]', '<mask>'],
  pad: ['[PAD]', '<pad>'],
  cls: ['[CLS]', '<cls>', '<s>'],
  sep: ['[SEP]', '<sep>', '</s>'],
} as const;

/** A special token named by tokenizer_config.json (a string or `{ content }`). */
function configToken(config: Json, key: string): string | undefined {
  const v = config[key];
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as Json).content === 'string')
    return (v as Json).content as string;
  return undefined;
}

export class BertTokenizer {
  readonly maxLength: number;
  readonly truncation: boolean;
  /** Every id the model can receive is < vocabSize (added tokens included). */
  readonly vocabSize: number;
  readonly maskToken: string | undefined;
  readonly maskId: number | undefined;
  readonly padId: number;
  readonly clsId: number | undefined;
  readonly sepId: number | undefined;
  readonly unkId: number | undefined;
  /** Special tokens added by the template to a single text and to a pair. */
  readonly specialTokensSingle: number;
  readonly specialTokensPair: number;
  readonly #tok: Tokenizer;
  readonly #specialIds: Set<number>;

  /**
   * `tokenizerJson`: the parsed tokenizer.json; `tokenizerConfig`: tokenizer_config.json or {}. `padTokenId`:
   * the model's own pad id, used when the tokenizer names no pad token.
   */
  constructor(
    tokenizerJson: Json,
    tokenizerConfig: Json = {},
    options: TokenizerOptions & { padTokenId?: number } = {},
  ) {
    const maxLength = options.maxLength ?? Infinity;
    if (maxLength !== Infinity && (!Number.isSafeInteger(maxLength) || maxLength < 1))
      throw invalidArgument('maxLength', 'a positive integer', maxLength);
    if (options.truncation !== undefined && typeof options.truncation !== 'boolean')
      throw invalidArgument('truncation', 'a boolean', options.truncation);
    this.maxLength = maxLength;
    this.truncation = options.truncation ?? false;

    if (options.vocabSize !== undefined) expectInteger('vocabSize', options.vocabSize, 1, 2 ** 31 - 1);
    checkTokenizerJson(tokenizerJson, options.vocabSize);
    const model = tokenizerJson.model as Json;
    const json: Json = {
      ...tokenizerJson,
      added_tokens: Array.isArray(tokenizerJson.added_tokens) ? [...(tokenizerJson.added_tokens as Json[])] : [],
    };
    const vocab = (model.vocab ?? {}) as Record<string, number>;
    const added = json.added_tokens as Json[];
    const inVocab = (t: string): boolean => Object.hasOwn(vocab, t) || added.some((a) => a.content === t);
    const pick = (key: string, candidates: readonly string[]): string | undefined => {
      const named = configToken(tokenizerConfig, key);
      if (named !== undefined && inVocab(named)) return named;
      return candidates.find(inVocab);
    };
    this.maskToken = pick('mask_token', CANDIDATES.mask);
    // A mask token that only sits in the vocab (crammedBERT's tokenizer.json) is made an added special token, so
    // that "<mask>" in a text is one token, as fill-mask needs.
    if (this.maskToken !== undefined && !added.some((a) => a.content === this.maskToken)) {
      added.push({
        id: vocab[this.maskToken],
        content: this.maskToken,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      });
    }
    // WordPiece files without a decoder: join "##" continuations when decoding
    if (json.decoder === null || json.decoder === undefined) {
      if (model.type === 'WordPiece')
        json.decoder = { type: 'WordPiece', prefix: model.continuing_subword_prefix ?? '##', cleanup: true };
    }
    this.#tok = library('cannot be loaded', () => new Tokenizer(json, tokenizerConfig));
    const id = (t: string | undefined): number | undefined =>
      t === undefined ? undefined : library('cannot be loaded', () => this.#tok.token_to_id(t));
    this.maskId = id(this.maskToken);
    this.clsId = id(pick('cls_token', CANDIDATES.cls));
    this.sepId = id(pick('sep_token', CANDIDATES.sep));
    this.unkId = id(
      configToken(tokenizerConfig, 'unk_token') ?? (typeof model.unk_token === 'string' ? model.unk_token : undefined),
    );
    this.padId = id(pick('pad_token', CANDIDATES.pad)) ?? options.padTokenId ?? 0;
    let size = 0;
    for (const v of library('cannot be loaded', () => this.#tok.get_vocab(true).values())) size = Math.max(size, v + 1);
    this.vocabSize = size;
    this.#specialIds = new Set(
      [
        this.maskId,
        this.clsId,
        this.sepId,
        this.padId,
        ...added.filter((a) => a.special).map((a) => a.id as number),
      ].filter((x): x is number => x !== undefined),
    );
    this.specialTokensSingle = this.#postProcess([], null).tokens.length;
    this.specialTokensPair = this.#postProcess([], []).tokens.length;
  }

  /** Reads `dir`/tokenizer.json and, when present, `dir`/tokenizer_config.json (its model_max_length caps maxLength). */
  static fromDir(dir: string, options: TokenizerOptions & { padTokenId?: number } = {}): BertTokenizer {
    const json = readJsonObject(path.join(dir, 'tokenizer.json'), MAX_TOKENIZER_BYTES, 'tokenizer file');
    const configPath = path.join(dir, 'tokenizer_config.json');
    const config = pathExists(configPath, 'tokenizer config')
      ? readJsonObject(configPath, MAX_CONFIG_BYTES, 'tokenizer config')
      : {};
    let maxLength = options.maxLength;
    const declared = config.model_max_length;
    if (typeof declared === 'number' && Number.isSafeInteger(declared) && declared > 0 && declared < 1e9) {
      maxLength = Math.min(maxLength ?? declared, declared);
    }
    return new BertTokenizer(json, config, { ...options, maxLength });
  }

  /**
   * Encodes a text, or a pair, with the template's special tokens. Longer than maxLength: truncated
   * (`longest_first` for pairs, from the end) when truncation is on, else ERR_FFF_SEQUENCE_TOO_LONG.
   */
  encode(text: string, pair?: string, options: { truncation?: boolean } = {}): Encoding {
    if (typeof text !== 'string') throw invalidArgument('text', 'a string', text);
    if (pair !== undefined && typeof pair !== 'string') throw invalidArgument('pair', 'a string', pair);
    const truncation = options.truncation ?? this.truncation;
    let a = library('cannot encode this text', () => this.#tok.tokenize(text));
    let b = pair === undefined ? null : library('cannot encode this text', () => this.#tok.tokenize(pair));
    const special = b === null ? this.specialTokensSingle : this.specialTokensPair;
    const total = a.length + (b?.length ?? 0) + special;
    if (total > this.maxLength) {
      if (!truncation) {
        throw new FffError(
          ErrorCode.SEQUENCE_TOO_LONG,
          `The input is ${total} tokens long but the model accepts at most ${this.maxLength}; shorten it or pass truncation: true`,
        );
      }
      const budget = this.maxLength - special;
      if (budget < 0)
        throw new FffError(
          ErrorCode.SEQUENCE_TOO_LONG,
          `maxLength ${this.maxLength} leaves no room beside the ${special} special tokens`,
        );
      if (b === null) {
        a = a.slice(0, budget);
      } else {
        const [na, nb] = longestFirst(a.length, b.length, budget);
        a = a.slice(0, na);
        b = b.slice(0, nb);
      }
    }
    const out = this.#postProcess(a, b);
    const ids = out.tokens.map((t) => this.#idOf(t));
    const typeIds = out.token_type_ids ?? new Array<number>(ids.length).fill(0);
    if (
      !Array.isArray(typeIds) ||
      typeIds.length !== ids.length ||
      !typeIds.every((t) => Number.isSafeInteger(t) && t >= 0 && t < 2 ** 31)
    ) {
      throw new FffError(
        ErrorCode.INVALID_MODEL,
        'tokenizer.json post_processor gave token type ids that are not one non-negative integer per token',
      );
    }
    return { ids, typeIds, tokens: out.tokens };
  }

  /** Encodes texts (or pairs) and pads them to the longest, with attention masks and token types. */
  encodeBatch(inputs: readonly TokenizerInput[], options: { truncation?: boolean } = {}): TokenizedBatch {
    if (!Array.isArray(inputs) || inputs.length === 0)
      throw invalidArgument('texts', 'a non-empty array of strings or [text, pair] arrays', inputs);
    const encodings = inputs.map((input, i) => {
      if (typeof input === 'string') return this.#encodeAt(i, input, undefined, options);
      if (Array.isArray(input) && input.length === 2 && typeof input[0] === 'string' && typeof input[1] === 'string') {
        return this.#encodeAt(i, input[0], input[1], options);
      }
      throw invalidArgument(`texts[${i}]`, 'a string or a [text, pair] array of two strings', input);
    });
    return padBatch(encodings, this.padId);
  }

  /** Text of ids; special tokens dropped unless skipSpecialTokens is false. */
  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    const kept = options.skipSpecialTokens === false ? ids : ids.filter((i) => !this.#specialIds.has(i));
    if (kept.length === 0) return '';
    return library('cannot decode these ids', () => this.#tok.decode([...kept], { skip_special_tokens: false }));
  }

  tokenToId(token: string): number | undefined {
    return library('cannot look up a token', () => this.#tok.token_to_id(token));
  }

  idToToken(id: number): string | undefined {
    return library('cannot look up an id', () => this.#tok.id_to_token(id));
  }

  isSpecialId(id: number): boolean {
    return this.#specialIds.has(id);
  }

  #encodeAt(index: number, text: string, pair: string | undefined, options: { truncation?: boolean }): Encoding {
    try {
      return this.encode(text, pair, options);
    } catch (err) {
      if (err instanceof FffError && err.code === ErrorCode.SEQUENCE_TOO_LONG)
        throw new FffError(err.code, `texts[${index}]: ${err.message}`);
      throw err;
    }
  }

  #postProcess(a: string[], b: string[] | null): { tokens: string[]; token_type_ids?: number[] } {
    const pp = this.#tok.post_processor;
    if (pp === null)
      return { tokens: b === null ? a : [...a, ...b], token_type_ids: [...a.map(() => 0), ...(b ?? []).map(() => 1)] };
    const out = library('post_processor failed', () => pp(a, b, true));
    if (!Array.isArray(out?.tokens) || !out.tokens.every((t) => typeof t === 'string')) {
      throw new FffError(ErrorCode.INVALID_MODEL, 'tokenizer.json post_processor did not produce a list of tokens');
    }
    return out;
  }

  #idOf(token: string): number {
    const id = library('cannot encode this text', () => this.#tok.token_to_id(token)) ?? this.unkId;
    if (id === undefined)
      throw new FffError(
        ErrorCode.INVALID_MODEL,
        `Token ${describe(token)} is not in the vocabulary and the tokenizer has no unknown token`,
      );
    return id;
  }
}

/**
 * Hugging Face's `longest_first` for a pair of lengths (n1, n2) and a budget: the shorter keeps its length when it
 * fits in half the budget and the longer gets the rest; else both get half (the longer the odd one).
 */
export function longestFirst(n1: number, n2: number, budget: number): [number, number] {
  if (n1 + n2 <= budget) return [n1, n2];
  const swap = n1 > n2;
  let short = swap ? n2 : n1;
  let long: number;
  if (short > budget) long = short;
  else long = Math.max(short, budget - short);
  if (short + long > budget) {
    short = Math.floor(budget / 2);
    long = short + (budget % 2);
  }
  return swap ? [long, short] : [short, long];
}

/** Pads encodings to the longest: ids with padId, mask 0 and type 0 after each row's end. */
export function padBatch(encodings: readonly Encoding[], padId: number): TokenizedBatch {
  const batch = encodings.length;
  const seq = Math.max(...encodings.map((e) => e.ids.length));
  const inputIds = new Int32Array(batch * seq).fill(padId);
  const attentionMask = new Int32Array(batch * seq);
  const tokenTypeIds = new Int32Array(batch * seq);
  encodings.forEach((e, b) => {
    inputIds.set(e.ids, b * seq);
    attentionMask.fill(1, b * seq, b * seq + e.ids.length);
    tokenTypeIds.set(e.typeIds, b * seq);
  });
  return { batch, seq, inputIds, attentionMask, tokenTypeIds, lengths: encodings.map((e) => e.ids.length) };
}
