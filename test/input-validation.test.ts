/**
 * Inputs are checked once, at the entry point a user calls (lib/bert/inputs.ts), and the native core checks
 * only what memory safety needs, with the same messages. Every bad input gets its stable code from every entry
 * point: NativeEncoder forward/forwardSync, Model.forward with and without batching, the native model itself
 * (ids, token types, sequence length), and the pipelines (a text too long).
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/bert/config';
import type { NativeEncoder } from '../lib/bert/encoder';
import { createEncoder } from '../lib/bert/encoder';
import type { EncoderInputs } from '../lib/bert/types';
import { FffError } from '../lib/errors';
import { SafetensorsFile } from '../lib/formats/safetensors';
import type { Model } from '../lib/model';
import { loadModel } from '../lib/model';
import type { NativeBertModel } from '../lib/native-types';
import { loadWithNative } from './helpers/native-model';

const dir = path.join(__dirname, 'fixtures', 'bert-tiny-cls'); // hf: token types, a tokenizer, a pooler
const config = parseConfig(dir, SafetensorsFile.open(path.join(dir, 'model.safetensors')));
const batch = 2;
const seq = 5;

function good(): EncoderInputs {
  const n = batch * seq;
  return {
    batch,
    seq,
    inputIds: Int32Array.from({ length: n }, (_, i) => 1 + i),
    attentionMask: new Int32Array(n).fill(1),
    tokenTypeIds: new Int32Array(n),
  };
}

/** Good inputs with one value replaced. */
function withValue(field: 'inputIds' | 'attentionMask' | 'tokenTypeIds', index: number, value: number) {
  return (): EncoderInputs => {
    const x = good();
    const data = x[field];
    if (data === undefined) throw new Error(`no ${field}`);
    data[index] = value;
    return x;
  };
}

/** Bad inputs in the encoder's layout, the code every entry point must give, and whether native checks it. */
const CASES: Array<{ what: string; code: string; native: boolean; make: () => EncoderInputs }> = [
  {
    what: 'an id equal to the vocabulary size',
    code: 'ERR_FFF_TOKEN_OUT_OF_RANGE',
    native: true,
    make: withValue('inputIds', seq + 3, config.vocabSize),
  },
  {
    what: 'a negative id',
    code: 'ERR_FFF_TOKEN_OUT_OF_RANGE',
    native: true,
    make: withValue('inputIds', 0, -1),
  },
  {
    what: 'a token type outside the type vocabulary',
    code: 'ERR_FFF_INVALID_ARGUMENT',
    native: true,
    make: withValue('tokenTypeIds', 4, config.typeVocabSize),
  },
  {
    what: 'a mask value of 2',
    code: 'ERR_FFF_INVALID_ARGUMENT',
    native: false,
    make: withValue('attentionMask', 7, 2),
  },
  {
    what: 'rows longer than the positions',
    code: 'ERR_FFF_SEQUENCE_TOO_LONG',
    native: true,
    make: () => {
      const s = config.maxPositions + 1;
      const ones = new Int32Array(s).fill(1);
      return { batch: 1, seq: s, inputIds: ones, attentionMask: ones };
    },
  },
];

/** The same inputs as Model.forward takes them: nested rows. */
function rows(data: Int32Array, s: number): number[][] {
  return Array.from({ length: data.length / s }, (_, b) => Array.from(data.subarray(b * s, (b + 1) * s)));
}

function codeOf(fn: () => unknown): Promise<{ code: string; message: string }> {
  return Promise.resolve()
    .then(fn)
    .then(
      () => ({ code: 'resolved', message: '' }),
      (e: unknown) => {
        expect(e).toBeInstanceOf(FffError);
        return { code: (e as FffError).code, message: (e as FffError).message };
      },
    );
}

describe('bad inputs: one check per entry point, one message style, stable codes', () => {
  let encoder: NativeEncoder;
  let model: Model;
  let batched: Model;
  let handle: NativeBertModel;
  let nativeOwner: Model;
  beforeAll(async () => {
    encoder = createEncoder(config, SafetensorsFile.open(path.join(dir, 'model.safetensors')));
    model = await loadModel(dir);
    batched = await loadModel(dir, { batching: { maxBatchSize: 4, maxWaitMs: 1 } });
    ({ model: nativeOwner, handle } = await loadWithNative(dir));
  });
  afterAll(() => {
    for (const m of [encoder, model, batched, nativeOwner]) m.dispose();
  });

  it('the good inputs pass every entry point', async () => {
    const x = good();
    expect(encoder.forwardSync(x).lastHiddenState.length).toBe(batch * seq * config.hiddenSize);
    await encoder.forward(x);
    const m = { inputIds: rows(x.inputIds, seq), tokenTypeIds: rows(x.tokenTypeIds!, seq) };
    await model.forward(m);
    await batched.forward(m);
  });

  for (const c of CASES) {
    it(`${c.what}: ${c.code} everywhere`, async () => {
      const x = c.make();
      const sync = await codeOf(() => encoder.forwardSync(x));
      expect(sync.code).toBe(c.code);
      expect(sync.message).toMatch(/^Expected /);
      expect(await codeOf(() => encoder.forward(x))).toEqual(sync);
      const m = {
        inputIds: rows(x.inputIds, x.seq),
        attentionMask: rows(x.attentionMask, x.seq),
        ...(x.tokenTypeIds ? { tokenTypeIds: rows(x.tokenTypeIds, x.seq) } : {}),
      };
      expect(await codeOf(() => model.forward(m))).toEqual(sync);
      expect(await codeOf(() => batched.forward(m))).toEqual(sync);
      // Below every TypeScript check: the native model's own copy check, in the same words.
      const outHidden = new Float32Array(x.batch * x.seq * config.hiddenSize);
      const below = await codeOf(() => handle.forwardSync({ ...x, outHidden }));
      if (c.native) expect(below).toEqual(sync);
      else expect(below.code).toBe('resolved');
    });
  }

  it('the pipelines: a text longer than the positions is ERR_FFF_SEQUENCE_TOO_LONG', async () => {
    const long = 'word '.repeat(config.maxPositions + 8);
    expect((await codeOf(() => model.embed(long, { truncation: false }))).code).toBe('ERR_FFF_SEQUENCE_TOO_LONG');
    expect((await codeOf(() => batched.classify(long, { truncation: false }))).code).toBe('ERR_FFF_SEQUENCE_TOO_LONG');
  });
});
