/**
 * Checks of a parsed tokenizer.json made before @huggingface/tokenizers sees it, so that a small file cannot
 * decide unbounded work: vocabulary and added-token ids are bounded (the library indexes arrays by id), entries
 * have the types the library assumes, and every regular expression can run in bounded time. The library runs
 * `Regex` patterns with JavaScript's RegExp (V8 irregexp, a backtracking engine that cannot be interrupted), so a
 * pattern with nested quantifiers such as `(a+)+$` would hang encode() on a short text: such patterns are refused
 * at load (catastrophicRegex).
 */
import { ErrorCode, FffError } from './errors';

type Json = Record<string, unknown>;

/** Bound on token ids when the model's vocabulary size is not given (the largest real vocabularies: ~1M). */
export const MAX_VOCAB = 1 << 21;
/** Nesting depth of the normalizer, pre-tokenizer, post-processor and decoder sections. */
const MAX_DEPTH = 64;

function invalid(what: string): FffError {
  return new FffError(ErrorCode.INVALID_MODEL, `Invalid tokenizer.json: ${what}`);
}

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function checkId(id: unknown, limit: number, where: string): void {
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || id >= limit) {
    throw invalid(`${where} is ${JSON.stringify(id) ?? typeof id}; expected a token id in [0, ${limit - 1}]`);
  }
}

function checkVocab(model: Json, limit: number): void {
  const vocab = model.vocab;
  if (vocab === undefined || vocab === null) return;
  if (Array.isArray(vocab)) {
    // Unigram: [token, score] pairs, the id is the index
    if (vocab.length > limit) throw invalid(`model.vocab has ${vocab.length} entries; at most ${limit}`);
    vocab.forEach((e: unknown, i) => {
      if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number')
        throw invalid(`model.vocab[${i}] is not a [token, score] pair`);
    });
    return;
  }
  if (!isObject(vocab)) throw invalid('model.vocab is neither an object nor an array');
  for (const [token, id] of Object.entries(vocab))
    checkId(id, limit, `model.vocab[${JSON.stringify(token).slice(0, 40)}]`);
}

function checkAddedTokens(added: unknown, limit: number): void {
  if (added === undefined || added === null) return;
  if (!Array.isArray(added)) throw invalid('added_tokens is not an array');
  added.forEach((a: unknown, i) => {
    if (!isObject(a)) throw invalid(`added_tokens[${i}] is not an object`);
    checkId(a.id, limit, `added_tokens[${i}].id`);
    if (typeof a.content !== 'string' || a.content.length === 0)
      throw invalid(`added_tokens[${i}].content is not a non-empty string`);
    for (const flag of ['single_word', 'lstrip', 'rstrip', 'normalized', 'special']) {
      if (a[flag] !== undefined && typeof a[flag] !== 'boolean')
        throw invalid(`added_tokens[${i}].${flag} is not a boolean`);
    }
  });
}

/** Walks a section for `{ Regex: string }` patterns (bounded depth); `where` names the path in errors. */
function checkPatterns(value: unknown, where: string, depth: number): void {
  if (depth > MAX_DEPTH) throw invalid(`${where} is nested more than ${MAX_DEPTH} levels deep`);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkPatterns(value[i], `${where}[${i}]`, depth + 1);
    return;
  }
  if (!isObject(value)) return;
  for (const [key, v] of Object.entries(value)) {
    if (key === 'Regex') {
      if (typeof v !== 'string') throw invalid(`${where}.Regex is not a string`);
      const reason = catastrophicRegex(v);
      if (reason !== null)
        throw invalid(
          `${where}.Regex ${JSON.stringify(v).slice(0, 80)} can take exponential time (${reason}); refused`,
        );
    } else {
      checkPatterns(v, `${where}.${key}`, depth + 1);
    }
  }
}

/**
 * Checks a parsed tokenizer.json before it is built: ids below `vocabLimit` (the model's vocabulary size, else
 * MAX_VOCAB), well-typed vocabulary and added tokens, and regular expressions that run in bounded time.
 */
export function checkTokenizerJson(json: Json, vocabLimit = MAX_VOCAB): void {
  const model = json.model;
  if (!isObject(model)) throw new FffError(ErrorCode.INVALID_MODEL, 'tokenizer.json has no model section');
  checkVocab(model, vocabLimit);
  checkAddedTokens(json.added_tokens, vocabLimit);
  for (const section of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'])
    checkPatterns(json[section], section, 0);
}

interface Group {
  /** The body holds a quantifier with no upper bound (*, +, {n,}), at any depth. */
  unbounded: boolean;
  /** The body holds an alternation, at any depth. */
  alternation: boolean;
}

const QUANTIFIER = /^\{(\d+)(,(\d*))?\}/;

/**
 * Why a JavaScript regular expression can backtrack exponentially, or null. Refused, conservatively: a group
 * repeated more than once (*, +, {n,m} with m > 1) whose body has an unbounded quantifier (`(a+)+`, `(\w+\s?)*`),
 * or repeated without bound whose body has an alternation (`(a|aa)*`). Polynomial cases (`\s*\s*$`) pass:
 * their cost is bounded by a power of the text length.
 */
export function catastrophicRegex(source: string): string | null {
  const root: Group = { unbounded: false, alternation: false };
  const stack: Group[] = []; // the open groups, innermost last
  let last: Group | 'atom' | null = null;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    const top = stack.at(-1) ?? root;
    if (c === '\\') {
      const next = source[i + 1];
      i++;
      if ((next === 'p' || next === 'P' || next === 'u' || next === 'x') && source[i + 1] === '{') {
        const close = source.indexOf('}', i);
        if (close >= 0) i = close;
      }
      last = 'atom';
    } else if (c === '[') {
      for (i++; i < source.length && source[i] !== ']'; i++) if (source[i] === '\\') i++;
      last = 'atom';
    } else if (c === '(') {
      if (source[i + 1] === '?') {
        i++;
        if (source[i + 1] === '<' && (source[i + 2] === '=' || source[i + 2] === '!')) i += 2;
        else if (source[i + 1] === '<') i = Math.max(i, source.indexOf('>', i));
        else while (i + 1 < source.length && !':=!'.includes(source.charAt(i))) i++;
      }
      stack.push({ unbounded: false, alternation: false });
      last = null;
    } else if (c === ')') {
      const group = stack.pop() ?? root; // an unmatched ) closes nothing
      const parent = stack.at(-1) ?? root;
      parent.unbounded ||= group.unbounded;
      parent.alternation ||= group.alternation;
      last = group;
    } else if (c === '|') {
      top.alternation = true;
      last = null;
    } else if (c === '*' || c === '+' || c === '?' || (c === '{' && QUANTIFIER.test(source.slice(i, i + 24)))) {
      let max = c === '?' ? 1 : Infinity;
      if (c === '{') {
        const m = QUANTIFIER.exec(source.slice(i, i + 24))!;
        max = m[2] === undefined ? Number(m[1]) : m[3] === '' ? Infinity : Number(m[3]);
        i += m[0].length - 1;
      }
      if (source[i + 1] === '?') i++; // lazy: the same search space
      if (last !== null && last !== 'atom' && max > 1) {
        if (last.unbounded) return 'a repeated group holds an unbounded quantifier';
        if (max === Infinity && last.alternation) return 'an unboundedly repeated group holds an alternation';
      }
      if (max === Infinity) top.unbounded = true;
      last = null;
    } else {
      last = 'atom';
    }
  }
  return null;
}
