/**
 * Issue 9, classes 4, 5 and 9 (the input half): small files must not decide unbounded work, only regular files
 * are read (bounded), and every error a user can receive is an FffError with a stable code.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_CRAMMED_POSITIONS, MAX_LABELS, parseConfig, parseConfigJson } from '../lib/bert/config';
import { FffError } from '../lib/errors';
import { fsError, MAX_CONFIG_BYTES, pathExists, readJsonObject } from '../lib/formats/files';
import { SafetensorsFile } from '../lib/formats/safetensors';
import { allocFloat32, MAX_BATCH_TOKENS } from '../lib/limits';
import { loadModel } from '../lib/model';
import { BertTokenizer } from '../lib/tokenizer';
import { catastrophicRegex, MAX_VOCAB } from '../lib/tokenizer-json';

// biome-ignore lint/suspicious/noExplicitAny: config and tokenizer JSON edited freely by the tests
type Json = Record<string, any>;

const fixtures = path.join(__dirname, 'fixtures');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fffbert-untrusted-'));
afterAll(() => {
  for (const d of fs.readdirSync(tmp)) fs.chmodSync(path.join(tmp, d), 0o755);
  fs.rmSync(tmp, { recursive: true, force: true });
});

let dirs = 0;
/** A copy of a fixture folder (model.safetensors linked, not copied) with `edit` applied to config.json. */
function modelDir(fixture: string, edit?: (config: Json) => void): string {
  const dir = path.join(tmp, `${fixture}-${dirs++}`);
  fs.mkdirSync(dir);
  for (const f of fs.readdirSync(path.join(fixtures, fixture))) {
    if (f === 'model.safetensors') fs.symlinkSync(path.join(fixtures, fixture, f), path.join(dir, f));
    else if (!f.startsWith('reference')) fs.copyFileSync(path.join(fixtures, fixture, f), path.join(dir, f));
  }
  if (edit) {
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Json;
    edit(config);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  }
  return dir;
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

async function caughtAsync(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

function expectFff(err: unknown, code: string, message?: RegExp): void {
  expect(err).toBeInstanceOf(FffError);
  expect((err as FffError).code).toBe(code);
  if (message) expect((err as Error).message).toMatch(message);
}

const bertTokenizer = JSON.parse(
  fs.readFileSync(path.join(fixtures, 'bert-tiny-mlm', 'tokenizer.json'), 'utf8'),
) as Json;

describe('sizes in a config or tokenizer are bounded before anything is allocated', () => {
  it('crammedBERT max_seq_length 16,777,216 with a 414 KB checkpoint is refused', async () => {
    const dir = modelDir('ufb-tiny', (c) => {
      c.arch.embedding.max_seq_length = 16_777_216;
    });
    expectFff(
      await caughtAsync(loadModel(dir)),
      'ERR_FFF_INVALID_MODEL',
      new RegExp(`max_seq_length to be at most ${MAX_CRAMMED_POSITIONS}`),
    );
    const ok = modelDir('ufb-tiny', (c) => {
      c.arch.embedding.max_seq_length = MAX_CRAMMED_POSITIONS;
    });
    const model = await loadModel(ok);
    expect(model.config.maxPositions).toBe(MAX_CRAMMED_POSITIONS);
    model.dispose();
  });

  it.each([30_000_000, 100_000_000])('num_labels %d without id2label is refused before any label is made', (n) => {
    const config = JSON.parse(fs.readFileSync(path.join(fixtures, 'bert-tiny-cls', 'config.json'), 'utf8')) as Json;
    delete config.id2label;
    delete config.label2id;
    config.num_labels = n;
    expectFff(
      caught(() => parseConfigJson(config)),
      'ERR_FFF_INVALID_MODEL',
      new RegExp(`num_labels to be at most ${MAX_LABELS} but it is ${n}`),
    );
    config.num_labels = 3;
    expect(parseConfigJson(config).labels).toEqual(['LABEL_0', 'LABEL_1', 'LABEL_2']);
  });

  it('num_labels that disagrees with the classifier tensor is refused at load', async () => {
    const dir = modelDir('bert-tiny-cls', (c) => {
      delete c.id2label;
      delete c.label2id;
      c.num_labels = 1000;
    });
    expectFff(await caughtAsync(loadModel(dir)), 'ERR_FFF_INVALID_MODEL', /classifier\.weight has shape \[3, 32\]/);
  });

  it('a layer count or width that differs from the checkpoint is refused before the native model is built (fuzz: 1e9 layers)', async () => {
    const hf = modelDir('bert-tiny-mlm', (c) => {
      c.num_hidden_layers = 1_000_000_000;
    });
    expectFff(
      await caughtAsync(loadModel(hf)),
      'ERR_FFF_INVALID_MODEL',
      /num_hidden_layers is 1000000000 but the checkpoint has 2 layers/,
    );
    const wide = modelDir('bert-tiny-mlm', (c) => {
      c.intermediate_size = 30_000_000;
    });
    expectFff(
      await caughtAsync(loadModel(wide)),
      'ERR_FFF_INVALID_MODEL',
      /intermediate_size is 30000000 but the checkpoint's bert.encoder.layer.0.intermediate.dense.weight has 128 rows/,
    );
    const types = modelDir('bert-tiny-mlm', (c) => {
      c.type_vocab_size = 2 ** 32;
    });
    expectFff(
      await caughtAsync(loadModel(types)),
      'ERR_FFF_INVALID_MODEL',
      /type_vocab_size is 4294967296 but the checkpoint's .* has 2 rows/,
    );
    for (const eps of [1e300, 5e-324, 0]) {
      const d = modelDir('bert-tiny-mlm', (c) => {
        c.layer_norm_eps = eps;
      });
      expectFff(
        await caughtAsync(loadModel(d)),
        'ERR_FFF_INVALID_MODEL',
        /layer_norm_eps to be a positive number within float32 range/,
      );
    }
    const crammed = modelDir('ufb-tiny', (c) => {
      c.arch.num_transformer_layers = 3;
    });
    expectFff(
      await caughtAsync(loadModel(crammed)),
      'ERR_FFF_INVALID_MODEL',
      /num_transformer_layers is 3 but the checkpoint has 2 layers/,
    );
  });

  it('a vocabulary id of 30,000,000 in tokenizer.json is refused (standalone bound and the model vocabulary)', async () => {
    const json = structuredClone(bertTokenizer);
    json.model.vocab.hello = 30_000_000;
    expectFff(
      caught(() => new BertTokenizer(json)),
      'ERR_FFF_INVALID_MODEL',
      new RegExp(`model.vocab\\["hello"\\] is 30000000; expected a token id in \\[0, ${MAX_VOCAB - 1}\\]`),
    );
    json.model.vocab.hello = 30522;
    expect(new BertTokenizer(json).vocabSize).toBe(30523);
    expectFff(
      caught(() => new BertTokenizer(json, {}, { vocabSize: 30522 })),
      'ERR_FFF_INVALID_MODEL',
      /expected a token id in \[0, 30521\]/,
    );
    const dir = modelDir('bert-tiny-mlm');
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(json));
    expectFff(await caughtAsync(loadModel(dir)), 'ERR_FFF_INVALID_MODEL', /\[0, 30521\]/);
  });

  it('[20000, 64] batches are refused with ERR_FFF_BATCH_TOO_LARGE, tensor or nested rows', async () => {
    const model = await loadModel(path.join(fixtures, 'bert-tiny-mlm'));
    try {
      const data = new Int32Array(20000 * 64);
      expectFff(
        await caughtAsync(model.forward({ inputIds: { data, shape: [20000, 64] } })),
        'ERR_FFF_BATCH_TOO_LARGE',
        /at most 262144 tokens/,
      );
      const rows = Array.from({ length: 20000 }, () => new Array<number>(64).fill(1));
      expectFff(await caughtAsync(model.forward({ inputIds: rows })), 'ERR_FFF_BATCH_TOO_LARGE');
      expect(MAX_BATCH_TOKENS).toBe(262144);
      // the largest batch allowed is not refused by the bound (4096 x 64: refused only for its 32 GB of logits)
      const edge = await caughtAsync(
        model.forward({ inputIds: { data: new Int32Array(MAX_BATCH_TOKENS), shape: [4096, 64] } }),
      );
      expectFff(edge, 'ERR_FFF_OUT_OF_MEMORY', /MLM logits/);
      const out = await model.forward(
        { inputIds: { data: new Int32Array(MAX_BATCH_TOKENS), shape: [4096, 64] } },
        { logits: false },
      );
      expect(out.lastHiddenState.length).toBe(MAX_BATCH_TOKENS * 32);
    } finally {
      model.dispose();
    }
  });

  it('an output that cannot be allocated is ERR_FFF_OUT_OF_MEMORY, not a RangeError', () => {
    expectFff(
      caught(() => allocFloat32(2 ** 40, 'a test array')),
      'ERR_FFF_OUT_OF_MEMORY',
      /a test array/,
    );
  });
});

describe('only regular files are read, JSON files with a size bound', () => {
  it('a FIFO named config.json or model.safetensors does not block', () => {
    const dir = modelDir('ufb-tiny');
    fs.rmSync(path.join(dir, 'config.json'));
    execFileSync('mkfifo', [path.join(dir, 'config.json')]);
    expectFff(
      caught(() => parseConfig(dir)),
      'ERR_FFF_INVALID_MODEL',
      /config\.json is a FIFO; expected a regular file/,
    );
    fs.rmSync(path.join(dir, 'model.safetensors'));
    execFileSync('mkfifo', [path.join(dir, 'model.safetensors')]);
    expectFff(
      caught(() => SafetensorsFile.open(path.join(dir, 'model.safetensors'))),
      'ERR_FFF_INVALID_CHECKPOINT',
      /is a FIFO/,
    );
  });

  it('a link to /dev/zero is refused before a byte is read', () => {
    const dir = modelDir('bert-tiny-mlm');
    fs.rmSync(path.join(dir, 'tokenizer_config.json'));
    fs.symlinkSync('/dev/zero', path.join(dir, 'tokenizer_config.json'));
    expectFff(
      caught(() => BertTokenizer.fromDir(dir)),
      'ERR_FFF_INVALID_MODEL',
      /tokenizer_config\.json is a device/,
    );
    fs.rmSync(path.join(dir, 'config.json'));
    fs.symlinkSync('/dev/zero', path.join(dir, 'config.json'));
    expectFff(
      caught(() => parseConfig(dir)),
      'ERR_FFF_INVALID_MODEL',
      /is a device/,
    );
  });

  it('a directory named tokenizer.json gives a coded error, not EISDIR', async () => {
    const dir = modelDir('bert-tiny-mlm');
    fs.rmSync(path.join(dir, 'tokenizer.json'));
    fs.mkdirSync(path.join(dir, 'tokenizer.json'));
    expectFff(await caughtAsync(loadModel(dir)), 'ERR_FFF_INVALID_MODEL', /tokenizer\.json is a directory/);
  });

  it('JSON files larger than their bound are refused without being read', () => {
    const file = path.join(tmp, 'big.json');
    fs.writeFileSync(file, '{}');
    fs.truncateSync(file, MAX_CONFIG_BYTES + 1); // sparse: costs no disk
    expectFff(
      caught(() => readJsonObject(file, MAX_CONFIG_BYTES, 'model config')),
      'ERR_FFF_INVALID_MODEL',
      new RegExp(`at most ${MAX_CONFIG_BYTES} are read`),
    );
    fs.writeFileSync(file, `{"a": "${'x'.repeat(100)}"}`);
    expectFff(
      caught(() => readJsonObject(file, 50, 'model config')),
      'ERR_FFF_INVALID_MODEL',
      /at most 50/,
    );
    expect(readJsonObject(file, 200, 'model config')).toEqual({ a: 'x'.repeat(100) });
    fs.writeFileSync(file, '[1, 2');
    expectFff(
      caught(() => readJsonObject(file, 200, 'model config')),
      'ERR_FFF_INVALID_MODEL',
      /is not valid JSON/,
    );
  });

  it('fs errors map to stable codes: EACCES/EPERM -> ERR_FFF_ACCESS_DENIED, ENOENT -> FILE_NOT_FOUND, others -> IO', () => {
    const err = (code: string) => Object.assign(new Error(`${code}: something`), { code });
    expectFff(
      fsError(err('EACCES'), '/m/config.json', 'model config'),
      'ERR_FFF_ACCESS_DENIED',
      /Permission denied reading the model config \/m\/config.json/,
    );
    expectFff(fsError(err('EPERM'), '/m/x'), 'ERR_FFF_ACCESS_DENIED');
    expectFff(fsError(err('ENOENT'), '/m/x'), 'ERR_FFF_FILE_NOT_FOUND');
    expectFff(fsError(err('EISDIR'), '/m/x'), 'ERR_FFF_INVALID_MODEL', /is a directory/);
    expectFff(fsError(err('EIO'), '/m/x'), 'ERR_FFF_IO', /EIO/);
    expect(pathExists(path.join(tmp, 'absent', 'deeper'))).toBe(false);
    expect(pathExists(path.join(fixtures, 'bert-tiny-mlm', 'config.json', 'not-a-dir'))).toBe(false);
  });

  const root = process.getuid?.() === 0;
  if (root)
    console.log(
      'skipped: unreadable folder and file (runs as root, which reads them anyway); the mapping is tested above',
    );
  it.skipIf(root)('an unreadable folder or file is reported as such, not as "No model.safetensors"', async () => {
    const dir = modelDir('ufb-tiny');
    fs.chmodSync(path.join(dir, 'config.json'), 0);
    expectFff(await caughtAsync(loadModel(dir)), 'ERR_FFF_ACCESS_DENIED', /config\.json/);
    fs.chmodSync(dir, 0);
    expectFff(await caughtAsync(loadModel(dir)), 'ERR_FFF_ACCESS_DENIED', /Permission denied/);
  });
});

describe('tokenizer regular expressions that cannot run in bounded time are refused', () => {
  const split = (pattern: string) => ({
    type: 'Split',
    pattern: { Regex: pattern },
    behavior: 'Isolated',
    invert: false,
  });

  it('a Split pre-tokenizer with catastrophic backtracking is refused at load (it hung embed)', () => {
    const json = { ...bertTokenizer, pre_tokenizer: { type: 'Sequence', pretokenizers: [split('(\\w+\\s?)*$')] } };
    expectFff(
      caught(() => new BertTokenizer(json)),
      'ERR_FFF_INVALID_MODEL',
      /pre_tokenizer\.pretokenizers\[0\]\.pattern\.Regex .* exponential time/,
    );
    const normalizer = {
      ...bertTokenizer,
      normalizer: { type: 'Replace', pattern: { Regex: '(a|aa)+b' }, content: '' },
    };
    expectFff(
      caught(() => new BertTokenizer(normalizer)),
      'ERR_FFF_INVALID_MODEL',
      /normalizer\.pattern\.Regex/,
    );
    // a harmless pattern still loads and splits
    const ok = new BertTokenizer({ ...bertTokenizer, pre_tokenizer: split('[^\\s\\w]+') });
    expect(ok.encode('hello,world').tokens).toEqual(['[CLS]', 'hello', ',', 'world', '[SEP]']);
  });

  it.each([
    '(a+)+$',
    '(a*)*b',
    '(\\w+\\s?)*$',
    '(?:x+y?)+z',
    '((ab)*c)*d',
    '(a|aa)+$',
    '(.*a){20}',
    '(?<n>a+)+',
    '([a-z]+\\d*)+!',
  ])('refuses %s', (p) => {
    expect(catastrophicRegex(p)).not.toBeNull();
  });

  // GPT-2, Llama 3 / cl100k, BLOOM and common normalizers: no nested unbounded repetition
  it.each([
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    ' ?[^(\\s|[.,!?…。，、।۔،])]+',
    ' {2,}',
    '(?:ab)+',
    '(a+)?b',
    '\\(+\\)+',
    '[(a+)+]',
    '(?<=\\d)(?=(\\d{3})+$)',
  ])('accepts %s', (p) => {
    expect(catastrophicRegex(p)).toBeNull();
  });
});

describe('every error from the tokenizer file is an FffError with a code', () => {
  it.each([
    ['single is not a list', { type: 'TemplateProcessing', single: 5, pair: [], special_tokens: {} }],
    ['a null item', { type: 'TemplateProcessing', single: [null], pair: [], special_tokens: {} }],
    [
      'a null SpecialToken',
      { type: 'TemplateProcessing', single: [{ SpecialToken: null }], pair: [], special_tokens: {} },
    ],
    ['BertProcessing without cls', { type: 'BertProcessing', sep: ['[SEP]', 102], cls: null }],
    ['Sequence of null', { type: 'Sequence', processors: [null] }],
    ['Sequence of a number', { type: 'Sequence', processors: 3 }],
    ['an unknown type', { type: 'Bogus' }],
  ])('post_processor: %s (a TypeError before)', (_, pp) => {
    expectFff(
      caught(() => new BertTokenizer({ ...bertTokenizer, post_processor: pp }).encode('hello', 'world')),
      'ERR_FFF_INVALID_MODEL',
      /tokenizer\.json/,
    );
  });

  it.each([
    ['null', [null]],
    ['an id that is a string', [{ id: 'x', content: 'a' }]],
    ['a content that is a number', [{ id: 1, content: 5 }]],
    ['a flag that is a string', [{ id: 1, content: 'a', special: 'yes' }]],
    ['not a list', { id: 1 }],
  ])('added_tokens: %s', (_, added) => {
    expectFff(
      caught(() => new BertTokenizer({ ...bertTokenizer, added_tokens: added })),
      'ERR_FFF_INVALID_MODEL',
      /added_tokens/,
    );
  });

  it('a pre-tokenizer nested too deep and a malformed vocabulary are coded', () => {
    let deep: Record<string, unknown> = { type: 'Whitespace' };
    for (let i = 0; i < 100; i++) deep = { type: 'Sequence', pretokenizers: [deep] };
    expectFff(
      caught(() => new BertTokenizer({ ...bertTokenizer, pre_tokenizer: deep })),
      'ERR_FFF_INVALID_MODEL',
      /nested more than 64 levels/,
    );
    expectFff(
      caught(() => new BertTokenizer({ ...bertTokenizer, model: { ...bertTokenizer.model, vocab: 'x' } })),
      'ERR_FFF_INVALID_MODEL',
      /model\.vocab/,
    );
    expectFff(
      caught(() => new BertTokenizer({ ...bertTokenizer, model: { type: 'Unigram', vocab: [['a', 0], 'b'] } })),
      'ERR_FFF_INVALID_MODEL',
      /model\.vocab\[1\]/,
    );
  });

  it('JSON that does not parse is coded', () => {
    const dir = modelDir('bert-tiny-mlm');
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{"model": ');
    expectFff(
      caught(() => BertTokenizer.fromDir(dir)),
      'ERR_FFF_INVALID_MODEL',
      /not valid JSON/,
    );
  });
});
