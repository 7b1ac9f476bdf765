// The four fuzz targets. Each has generate(r) -> a JSON-encodable input (a pure function of the PRNG) and
// run(input, ctx) -> Promise that resolves when the library accepted or refused the input; the harness decides
// whether what it threw is acceptable (an FffError with a code). `api` is the package (dist/ or lib/ in tests).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BOUNDARY_INTS, mutateBytes, mutateJson, randomValue } from './mutate.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const fixtures = path.join(root, 'test', 'fixtures');
const readText = (...p) => fs.readFileSync(path.join(fixtures, ...p), 'utf8');

// ---- encoding of inputs for the corpus: typed arrays, bigints, Buffers, undefined and non-finite numbers ----

export function encode(value) {
  return JSON.stringify(value, function (key, v) {
    const raw = this[key];
    if (raw === undefined) return { $u: 1 };
    if (typeof raw === 'number' && !Number.isFinite(raw)) return { $n: String(raw) };
    if (typeof raw === 'bigint') return { $b: raw.toString() };
    if (Buffer.isBuffer(raw)) return { $buf: raw.toString('base64') };
    if (ArrayBuffer.isView(raw))
      return {
        $t: raw.constructor.name,
        v: Array.from(/** @type {ArrayLike<number | bigint>} */ (/** @type {unknown} */ (raw)), (x) =>
          typeof x === 'bigint' ? x.toString() : x,
        ),
      };
    return v;
  });
}

export function decode(text) {
  return JSON.parse(text, (_, v) => {
    if (v === null || typeof v !== 'object') return v;
    if (v.$u === 1) return undefined;
    if (typeof v.$n === 'string') return Number(v.$n);
    if (typeof v.$b === 'string') return BigInt(v.$b);
    if (typeof v.$buf === 'string') return Buffer.from(v.$buf, 'base64');
    if (typeof v.$t === 'string')
      return v.$t === 'BigInt64Array' ? BigInt64Array.from(v.v.map(BigInt)) : new globalThis[v.$t](v.v);
    return v;
  });
}

/** A scratch folder per process, removed at exit. */
let scratch;
function scratchDir(name) {
  if (scratch === undefined) {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'fffbert-fuzz-'));
    process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));
  }
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Runs a small forward on a model that loaded, then frees it. */
async function exercise(model) {
  try {
    const seq = Math.min(4, model.config.maxPositions);
    await model.forward({ inputIds: [Array.from({ length: seq }, (_, i) => i % model.config.vocabSize)] });
  } finally {
    model.dispose();
  }
}

// ---- safetensors: model.safetensors of the crammed fixtures, mutated in its header and bytes ----

const CHECKPOINTS = ['ufb-tiny-k2', 'ufb-tiny'];

const safetensors = {
  name: 'safetensors',
  setup() {
    const bases = {};
    for (const name of CHECKPOINTS) {
      const bytes = fs.readFileSync(path.join(fixtures, name, 'model.safetensors'));
      const n = Number(bytes.readBigUInt64LE(0));
      bases[name] = { bytes, headerEnd: 8 + n, header: JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) };
      const dir = scratchDir(`st-${name}`);
      fs.writeFileSync(path.join(dir, 'config.json'), readText(name, 'config.json'));
    }
    return { bases };
  },
  generate(r, ctx) {
    const base = r.pick(CHECKPOINTS);
    const { bytes, headerEnd, header } = ctx.bases[base];
    if (r.chance(0.5)) {
      // structure: mutate the header JSON, write it back with the right length (mostly) or a wrong one
      const json = Buffer.from(JSON.stringify(mutateJson(r, structuredClone(header))));
      const prefix = Buffer.alloc(8);
      prefix.writeBigUInt64LE(
        BigInt(r.chance(0.8) ? json.length : Math.max(0, json.length + r.pick([-1, 1, -8, 8, 1000]))),
      );
      return { base, bytes: Buffer.concat([prefix, json, bytes.subarray(headerEnd)]) };
    }
    return { base, bytes: mutateBytes(r, bytes, [0, headerEnd]) };
  },
  async run(input, api) {
    const dir = scratchDir(`st-${input.base}`);
    const file = path.join(dir, 'model.safetensors');
    fs.writeFileSync(file, input.bytes);
    const st = api.SafetensorsFile.open(file);
    try {
      for (const name of st.names()) {
        const info = st.info(name);
        if (['F32', 'F16', 'BF16', 'F64'].includes(info.dtype)) st.readF32(name);
        else st.readTensor(name);
      }
    } finally {
      st.close();
    }
    await exercise(await api.loadModel(dir, { threads: 1 }));
  },
};

// ---- config: config.json / model_config.json of every fixture, mutated as JSON and as bytes ----

const CONFIGS = [
  ['ufb-tiny', 'config.json'],
  ['ufb-tiny', 'model_config.json'],
  ['ufb-tiny-k2', 'config.json'],
  ['bert-tiny-mlm', 'config.json'],
  ['bert-tiny-cls', 'config.json'],
];

const config = {
  name: 'config',
  setup() {
    const bases = CONFIGS.map(([fixture, file]) => ({ fixture, file, text: readText(fixture, file) }));
    bases.forEach((b, i) => {
      const dir = scratchDir(`cfg-${i}`);
      const link = path.join(dir, 'model.safetensors');
      if (!fs.existsSync(link)) fs.symlinkSync(path.join(fixtures, b.fixture, 'model.safetensors'), link);
    });
    return { bases };
  },
  generate(r, ctx) {
    const base = r.int(ctx.bases.length);
    const { text } = ctx.bases[base];
    if (r.chance(0.75)) return { base, text: JSON.stringify(mutateJson(r, JSON.parse(text))) };
    return { base, text: mutateBytes(r, Buffer.from(text)) };
  },
  async run(input, api, ctx) {
    const dir = scratchDir(`cfg-${input.base}`);
    fs.writeFileSync(path.join(dir, ctx.bases[input.base].file), input.text);
    await exercise(await api.loadModel(dir, { threads: 1 }));
  },
};

// ---- tokenizer: tokenizer.json (a 2000-token cut of the fixtures' files) and tokenizer_config.json ----

/** The fixture's tokenizer.json with the vocabulary cut to ids < 2000 (every section kept): fast to parse. */
function smallTokenizer(fixture) {
  const json = JSON.parse(readText(fixture, 'tokenizer.json'));
  json.model.vocab = Object.fromEntries(Object.entries(json.model.vocab).filter(([, id]) => id < 2000));
  json.added_tokens = (json.added_tokens ?? []).filter((a) => a.id < 2000);
  return json;
}

const WORDS = [
  'hello',
  'world',
  'the',
  'cat',
  '[MASK]',
  '<mask>',
  '[SEP]',
  '[CLS]',
  '##ing',
  'über',
  '東京',
  '🙂',
  '\u0000',
  '\u200b',
  ' ',
  '\n',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!',
  ',',
  '.',
  "'s",
];

function randomText(r) {
  const n = r.pick([0, 1, 2, 3, 5, 8, 12, 20, 200, 1500]);
  const parts = [];
  for (let i = 0; i < n; i++) parts.push(r.chance(0.9) ? r.pick(WORDS) : String.fromCharCode(r.int(0x3000)));
  return parts.join(r.pick([' ', '', ' ']));
}

const tokenizer = {
  name: 'tokenizer',
  setup() {
    const bases = [smallTokenizer('bert-tiny-mlm'), JSON.parse(readText('crammed-tokenizer', 'tokenizer.json'))];
    bases[1].model.vocab = Object.fromEntries(Object.entries(bases[1].model.vocab).filter(([, id]) => id < 2000));
    return { bases, config: JSON.parse(readText('bert-tiny-mlm', 'tokenizer_config.json')) };
  },
  generate(r, ctx) {
    const base = ctx.bases[r.int(ctx.bases.length)];
    let text;
    if (r.chance(0.8)) {
      const json = structuredClone(base);
      const section = r.pick([
        'normalizer',
        'pre_tokenizer',
        'post_processor',
        'decoder',
        'added_tokens',
        'model',
        null,
      ]);
      if (section !== null && (json[section] === null || typeof json[section] !== 'object'))
        json[section] = randomValue(r);
      text = JSON.stringify(
        mutateJson(
          r,
          json,
          section === null || json[section] === null || typeof json[section] !== 'object' ? json : json[section],
        ),
      );
    } else {
      text = mutateBytes(r, Buffer.from(JSON.stringify(base)));
    }
    const configText = r.chance(0.15)
      ? JSON.stringify(mutateJson(r, structuredClone(ctx.config)))
      : JSON.stringify(ctx.config);
    const texts = Array.from({ length: 1 + r.int(3) }, () =>
      r.chance(0.3) ? [randomText(r), randomText(r)] : randomText(r),
    );
    return {
      text,
      configText,
      texts,
      options: {
        maxLength: r.pick([undefined, 1, 2, 3, 16, 64, 512]),
        truncation: r.pick([undefined, true, false]),
        vocabSize: r.pick([undefined, 2000, 30522]),
      },
      ids: Array.from({ length: r.int(6) }, () => (r.chance(0.7) ? r.int(2100) : r.pick(BOUNDARY_INTS))),
    };
  },
  async run(input, api) {
    const dir = scratchDir('tok');
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), input.text);
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), input.configText);
    const tok = api.BertTokenizer.fromDir(dir, input.options);
    for (const t of input.texts) {
      const e = Array.isArray(t) ? tok.encode(t[0], t[1]) : tok.encode(t);
      tok.decode(e.ids);
    }
    tok.encodeBatch(input.texts);
    tok.decode(input.ids, { skipSpecialTokens: input.ids.length % 2 === 0 });
    for (const id of input.ids) tok.idToToken(id);
    tok.tokenToId(String(input.ids[0]));
  },
};

// ---- forward: ids, masks, token types, shapes and array types given to Model.forward and the pipelines ----

const MODELS = ['bert-tiny-mlm', 'bert-tiny-cls', 'ufb-tiny'];
const ARRAYS = ['Int32Array', 'BigInt64Array', 'Float32Array', 'Uint8Array', 'Int16Array', 'Array'];

function randomDim(r) {
  return r.chance(0.93)
    ? 1 + r.int(r.chance(0.5) ? 4 : 40)
    : r.pick([0, -1, 1.5, NaN, 65, 2 ** 18, 2 ** 31, 2 ** 53, Infinity, '2', null]);
}

function randomId(r, vocab, bad) {
  return !bad || r.chance(0.9)
    ? r.int(vocab)
    : r.pick([vocab, vocab - 1, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, 1.5, NaN, '1', null]);
}

function randomMatrix(r, vocab, shape) {
  const kind = r.int(10);
  if (kind === 9) return randomValue(r);
  const [b, s] = shape;
  const n = Number.isSafeInteger(b) && Number.isSafeInteger(s) && b > 0 && s > 0 && b * s <= 4096 ? b * s : r.int(64);
  const bad = r.chance(0.2);
  const values = Array.from({ length: !bad || r.chance(0.5) ? n : r.int(n + 2) }, () => randomId(r, vocab, bad));
  if (kind < 4) {
    // nested rows, sometimes ragged
    const rows = [];
    const width = Number.isSafeInteger(s) && s > 0 ? s : 1;
    for (let i = 0; i < values.length; i += width) rows.push(values.slice(i, i + width));
    if (bad && r.chance(0.2) && rows.length > 0) rows[r.int(rows.length)].push(1);
    if (bad && r.chance(0.2)) rows.push(r.pick([null, 'x', 5, {}]));
    return rows.length === 0 && r.chance(0.5) ? [] : rows;
  }
  const type = bad ? r.pick(ARRAYS) : r.pick(['Int32Array', 'BigInt64Array']);
  const ints = values.map((v) => (typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : 0));
  const data =
    type === 'Array'
      ? values
      : type === 'BigInt64Array'
        ? BigInt64Array.from(ints.map((v) => BigInt(v) * (r.chance(0.02) ? 2n ** 40n : 1n)))
        : new globalThis[type](ints);
  const out = { data, shape: !bad || r.chance(0.7) ? shape : randomValue(r) };
  if (bad && r.chance(0.1)) delete out.data;
  return out;
}

const forward = {
  name: 'forward',
  async setup(api) {
    const models = [];
    for (const name of MODELS) models.push(await api.loadModel(path.join(fixtures, name), { threads: 1 }));
    return { models };
  },
  generate(r) {
    const model = r.int(MODELS.length);
    const vocab = MODELS[model] === 'ufb-tiny' ? 512 : 30522;
    const op = MODELS[model] === 'ufb-tiny' ? 0 : r.int(10); // ufb-tiny has no tokenizer
    if (op >= 7) {
      const pipeline =
        MODELS[model] === 'bert-tiny-cls'
          ? r.pick(['embed', 'classify', 'fillMask'])
          : r.pick(['embed', 'fillMask', 'fillMask', 'classify']);
      const texts = Array.from({ length: 1 + r.int(3) }, () => (r.chance(0.9) ? randomText(r) : randomValue(r)));
      const options = r.chance(0.7)
        ? undefined
        : r.chance(0.6)
          ? { batchSize: r.pick([1, 2, 32]), topK: r.pick([1, 5]) }
          : {
              batchSize: r.pick([0, -1, 1.5, 'x', 1e9]),
              topK: r.pick([0, 1e9, -3]),
              pooling: r.pick(['mean', 'cls', 'max', 1]),
              normalize: r.pick([true, false, 'yes']),
            };
      return { model, op: pipeline, texts: r.chance(0.9) ? texts : randomValue(r), options };
    }
    const shape = [randomDim(r), randomDim(r)];
    const inputs = { inputIds: randomMatrix(r, vocab, shape) };
    if (r.chance(0.4)) inputs.attentionMask = randomMatrix(r, 2, r.chance(0.9) ? shape : [randomDim(r), randomDim(r)]);
    if (r.chance(0.3)) inputs.tokenTypeIds = randomMatrix(r, 2, r.chance(0.9) ? shape : [randomDim(r), randomDim(r)]);
    if (r.chance(0.03)) return { model, op: 'forward', inputs: randomValue(r) };
    const options = r.chance(0.9)
      ? r.pick([undefined, { logits: false }, { logits: true }])
      : r.pick([{ logits: 'no' }, null, 5, { extra: 1 }]);
    return { model, op: 'forward', inputs, options };
  },
  async run(input, _api, ctx) {
    const model = ctx.models[input.model];
    if (input.op === 'forward') {
      const out = await model.forward(input.inputs, input.options);
      if (!(out.lastHiddenState instanceof Float32Array)) throw new Error('forward resolved without lastHiddenState');
      return;
    }
    const texts =
      typeof input.texts === 'string' || !Array.isArray(input.texts) || input.op !== 'fillMask'
        ? input.texts
        : input.texts[0];
    await model[input.op](texts, input.options);
  },
};

/** Removes the scratch folder now (a test runner's worker may never emit 'exit'). */
export function cleanup() {
  if (scratch !== undefined) fs.rmSync(scratch, { recursive: true, force: true });
  scratch = undefined;
}

export const TARGETS = { safetensors, config, tokenizer, forward };
