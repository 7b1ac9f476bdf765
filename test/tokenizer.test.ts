import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BertTokenizer, longestFirst, padBatch } from '../lib/tokenizer';

const fixtures = path.join(__dirname, 'fixtures');

interface Case {
  text: string;
  ids: number[];
  pair_ids: number[];
  pair_type_ids?: number[];
}
const cases = JSON.parse(fs.readFileSync(path.join(fixtures, 'tokenizer-cases.json'), 'utf8')) as Record<
  'bert-uncased' | 'crammed-style',
  Case[]
>;
/** The second segment of every pair in tokenizer-cases.json (its ids decode to "second segment here"). */
const PAIR = 'Second segment here';

const bert = (truncation = true): BertTokenizer =>
  BertTokenizer.fromDir(path.join(fixtures, 'bert-tiny-mlm'), { maxLength: 64, truncation });
const crammed = (): BertTokenizer => BertTokenizer.fromDir(path.join(fixtures, 'crammed-tokenizer'));

describe('tokenizer-cases.json: BERT uncased (truncated to 64)', () => {
  const tok = bert();
  for (const [i, c] of cases['bert-uncased'].entries()) {
    it(`case ${i}: ${JSON.stringify(c.text.slice(0, 40))}`, () => {
      expect(tok.encode(c.text).ids).toEqual(c.ids);
      const pair = tok.encode(c.text, PAIR);
      expect(pair.ids).toEqual(c.pair_ids);
      expect(pair.typeIds).toEqual(c.pair_type_ids);
      expect(tok.encode(c.text).typeIds).toEqual(c.ids.map(() => 0));
    });
  }
  it('covers every case (13) and the truncated one reaches exactly 64', () => {
    expect(cases['bert-uncased'].length).toBe(13);
    expect(Math.max(...cases['bert-uncased'].map((c) => c.ids.length))).toBe(64);
  });
});

describe('tokenizer-cases.json: crammed-style (not truncated)', () => {
  const tok = crammed();
  for (const [i, c] of cases['crammed-style'].entries()) {
    it(`case ${i}: ${JSON.stringify(c.text.slice(0, 40))}`, () => {
      expect(tok.encode(c.text).ids).toEqual(c.ids);
      const pair = tok.encode(c.text, PAIR);
      expect(pair.ids).toEqual(c.pair_ids);
      expect(pair.typeIds).toEqual(c.pair_ids.map(() => 0));
    });
  }
  it('the long case is 302 tokens, over any limit we did not set', () => {
    expect(tok.maxLength).toBe(Infinity);
    expect(cases['crammed-style'][12].ids.length).toBe(302);
  });
});

describe('special tokens', () => {
  it('BERT: [MASK] 103, [PAD] 0, [CLS] 101, [SEP] 102, [UNK] 100; 2 special tokens per text, 3 per pair', () => {
    const tok = bert();
    expect([tok.maskToken, tok.maskId, tok.padId, tok.clsId, tok.sepId, tok.unkId]).toEqual([
      '[MASK]',
      103,
      0,
      101,
      102,
      100,
    ]);
    expect([tok.specialTokensSingle, tok.specialTokensPair]).toEqual([2, 3]);
    expect(tok.vocabSize).toBe(30522);
  });

  it('crammed: <mask> 4, <pad> 0, <cls> 2, <sep> 3, <unk> 1; "<mask>" in a text is one token', () => {
    const tok = crammed();
    expect([tok.maskToken, tok.maskId, tok.padId, tok.clsId, tok.sepId, tok.unkId]).toEqual(['<mask>', 4, 0, 2, 3, 1]);
    expect([tok.specialTokensSingle, tok.specialTokensPair]).toEqual([1, 3]);
    const e = tok.encode('The capital of France is <mask>.');
    expect(e.ids.filter((id) => id === 4).length).toBe(1);
    // the words around the mask tokenize as they do without it
    expect(e.ids.slice(0, 5)).toEqual(tok.encode('The capital of France is').ids.slice(0, 5));
    expect(e.ids.at(-1)).toBe(3);
  });

  it('decode joins word pieces and drops special tokens', () => {
    const tok = bert();
    const ids = tok.encode('supercalifragilisticexpialidocious, Hello!').ids;
    expect(tok.decode(ids)).toBe('supercalifragilisticexpialidocious, hello!');
    expect(tok.decode(ids, { skipSpecialTokens: false })).toMatch(/^\[CLS\] super.*\[SEP\]$/);
    expect(crammed().decode(crammed().encode("don't stop").ids)).toBe("don't stop");
  });
});

describe('truncation and refusal', () => {
  const long = 'word '.repeat(100);

  it('refuses a too-long text when truncation is off, naming lengths', () => {
    const tok = bert(false);
    expect(() => tok.encode(long)).toThrow(
      expect.objectContaining({
        code: 'ERR_FFF_SEQUENCE_TOO_LONG',
        message: expect.stringMatching(/102 tokens long but the model accepts at most 64.*truncation: true/),
      }),
    );
    expect(() => tok.encodeBatch(['short', long])).toThrow(/texts\[1\]: The input is 102 tokens/);
    expect(tok.encode(long, undefined, { truncation: true }).ids.length).toBe(64);
  });

  it('exactly maxLength is accepted', () => {
    const tok = bert(false);
    expect(tok.encode('word '.repeat(62)).ids.length).toBe(64);
    expect(() => tok.encode('word '.repeat(63))).toThrow(/65 tokens/);
  });

  it('longest_first as in Hugging Face tokenizers', () => {
    expect(longestFirst(3, 100, 61)).toEqual([3, 58]);
    expect(longestFirst(100, 3, 61)).toEqual([58, 3]);
    expect(longestFirst(40, 50, 61)).toEqual([30, 31]);
    expect(longestFirst(50, 40, 61)).toEqual([31, 30]);
    expect(longestFirst(40, 40, 60)).toEqual([30, 30]);
    expect(longestFirst(5, 5, 61)).toEqual([5, 5]);
    const tok = bert();
    const e = tok.encode(long, long);
    expect(e.ids.length).toBe(64);
    // equal lengths: the first keeps 30 words, the second 31 (+ its [SEP]), as in tokenizers' truncate_encodings
    expect(e.typeIds.filter((t) => t === 1).length).toBe(32);
  });

  it('maxLength is capped by tokenizer_config.json model_max_length', () => {
    const tok = BertTokenizer.fromDir(path.join(fixtures, 'bert-tiny-mlm'), { maxLength: 4096 });
    expect(tok.maxLength).toBe(512);
  });
});

describe('batches', () => {
  it('pads to the longest with the pad id, masks and token types', () => {
    const tok = bert();
    const texts = ['Hello, world!', 'The capital of France is [MASK].', ''];
    const b = tok.encodeBatch(texts);
    expect([b.batch, b.seq]).toEqual([3, 9]);
    expect(b.lengths).toEqual([6, 9, 2]);
    for (let r = 0; r < 3; r++) {
      const ids = tok.encode(texts[r]).ids;
      const row = Array.from(b.inputIds.subarray(r * 9, r * 9 + 9));
      expect(row).toEqual([...ids, ...new Array(9 - ids.length).fill(0)]);
      expect(Array.from(b.attentionMask.subarray(r * 9, r * 9 + 9))).toEqual([
        ...ids.map(() => 1),
        ...new Array(9 - ids.length).fill(0),
      ]);
    }
    expect(b.tokenTypeIds.every((t) => t === 0)).toBe(true);
  });

  it('pairs carry their token types; crammed pads with <pad>', () => {
    const b = bert().encodeBatch([['Hello', 'world'], 'x']);
    expect(Array.from(b.tokenTypeIds.subarray(0, b.seq))).toEqual([0, 0, 0, 1, 1]);
    const c = crammed().encodeBatch(['a b c d', 'a']);
    expect(c.inputIds[c.seq + c.lengths[1]]).toBe(0);
  });

  it('rejects bad inputs with the argument named', () => {
    const tok = bert();
    expect(() => tok.encodeBatch([])).toThrow(/Expected texts to be a non-empty array/);
    expect(() => tok.encodeBatch(['a', 5 as unknown as string])).toThrow(
      /Expected texts\[1\] to be a string or a \[text, pair\] array of two strings but received number 5/,
    );
    expect(() => tok.encode(undefined as unknown as string)).toThrow(
      /Expected text to be a string but received undefined/,
    );
  });

  it('padBatch on hand-made encodings', () => {
    const b = padBatch(
      [
        { ids: [5, 6, 7], typeIds: [0, 0, 1], tokens: [] },
        { ids: [8], typeIds: [0], tokens: [] },
      ],
      9,
    );
    expect(Array.from(b.inputIds)).toEqual([5, 6, 7, 8, 9, 9]);
    expect(Array.from(b.attentionMask)).toEqual([1, 1, 1, 1, 0, 0]);
    expect(Array.from(b.tokenTypeIds)).toEqual([0, 0, 1, 0, 0, 0]);
  });
});
