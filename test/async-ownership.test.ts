/**
 * Async calls own what they read and write (issue 9, classes 1, 2, 5 and 6): inputs are copied when forward()
 * starts, so writing, transferring or shrinking them afterwards changes nothing; results go to memory only the
 * call reaches and are copied into a caller's `out` at the end only if it is still attached and of its length,
 * else the call rejects with a code. Native errors are FffErrors, with the stack of the call that started them.
 */
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Model } from '../lib/index';
import { DenseFeedforward, ErrorCode, type FastFeedforward, FffError, Linear, loadModel } from '../lib/index';
import { native } from '../lib/native';
import { buildFff } from './helpers/layers';
import { loadWithNative } from './helpers/native-model';
import { firstBitDifference, randomArray, randomFff, rng } from './helpers/reference';

const ROWS = 256;
const WIDTH = 96;
const OUT = 80;

interface Layer {
  forward(x: Float32Array, rows: number, options?: { out?: Float32Array }): Promise<Float32Array>;
  forwardSync(x: Float32Array, rows: number, options?: { out?: Float32Array }): Float32Array;
  dispose(): void;
}

const layers: Array<[string, () => Layer]> = [
  ['FastFeedforward', () => buildFff(randomFff(WIDTH, OUT, 4, 2, 901)) as FastFeedforward],
  [
    'Linear',
    () => Linear.fromTorch({ weight: randomArray(OUT * WIDTH, 0.2, rng(902)), bias: randomArray(OUT, 0.1, rng(903)) }),
  ],
  [
    'DenseFeedforward',
    () =>
      DenseFeedforward.fromTorch({
        inWeight: randomArray(64 * WIDTH, 0.2, rng(904)),
        inBias: randomArray(64, 0.1, rng(905)),
        outWeight: randomArray(OUT * 64, 0.2, rng(906)),
        outBias: randomArray(OUT, 0.1, rng(907)),
      }),
  ],
];

/** A resizable ArrayBuffer (ES2024: the TypeScript lib target predates it). */
function resizableBuffer(bytes: number): ArrayBuffer {
  const Resizable = ArrayBuffer as unknown as new (n: number, options: { maxByteLength: number }) => ArrayBuffer;
  return new Resizable(bytes, { maxByteLength: bytes });
}
function shrink(buffer: ArrayBufferLike, bytes: number): void {
  (buffer as unknown as { resize(n: number): void }).resize(bytes);
}

/** x in a fresh buffer of the given kind. */
function input(kind: 'plain' | 'shared' | 'resizable'): Float32Array {
  const data = randomArray(ROWS * WIDTH, 1, rng(908));
  const bytes = data.byteLength;
  const buffer =
    kind === 'shared'
      ? new SharedArrayBuffer(bytes)
      : kind === 'resizable'
        ? resizableBuffer(bytes)
        : new ArrayBuffer(bytes);
  const x = new Float32Array(buffer, 0, data.length);
  x.set(data);
  return x;
}

async function expectCode(p: Promise<unknown>, code: string): Promise<FffError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FffError);
  expect((err as FffError).code).toBe(code);
  return err as FffError;
}

describe.each(layers)('%s.forward owns its inputs and outputs', (_name, make) => {
  let layer: Layer;
  let expected: Float32Array;
  beforeAll(() => {
    layer = make();
    expected = layer.forwardSync(input('plain'), ROWS);
  });
  afterAll(() => layer.dispose());

  it.each(['plain', 'shared'] as const)(
    'x (%s ArrayBuffer) written right after the call: the result is that of the values at the call',
    async (kind) => {
      const x = input(kind);
      const pending = layer.forward(x, ROWS);
      x.fill(Number.NaN);
      expect(firstBitDifference(await pending, expected)).toBe(-1);
    },
  );

  it('x transferred away right after the call (structuredClone with transfer)', async () => {
    const x = input('plain');
    const pending = layer.forward(x, ROWS);
    const moved = structuredClone(x.buffer, { transfer: [x.buffer as ArrayBuffer] });
    expect(x.length).toBe(0);
    new Float32Array(moved).fill(Number.NaN);
    expect(firstBitDifference(await pending, expected)).toBe(-1);
  });

  it('x in a resizable ArrayBuffer shrunk right after the call', async () => {
    const x = input('resizable');
    const pending = layer.forward(x, ROWS);
    shrink(x.buffer, 4);
    expect(firstBitDifference(await pending, expected)).toBe(-1);
  });

  it('out given: filled at the end and returned; written meanwhile: still the result', async () => {
    const out = new Float32Array(ROWS * OUT);
    const pending = layer.forward(input('plain'), ROWS, { out });
    out.fill(7);
    const y = await pending;
    expect(y).toBe(out);
    expect(firstBitDifference(out, expected)).toBe(-1);
  });

  it('out transferred away during the call: rejects with ERR_FFF_INVALID_ARGUMENT, the moved buffer untouched', async () => {
    const out = new Float32Array(ROWS * OUT);
    const pending = layer.forward(input('plain'), ROWS, { out });
    const moved = new Float32Array(structuredClone(out.buffer, { transfer: [out.buffer as ArrayBuffer] }));
    const err = await expectCode(pending, ErrorCode.INVALID_ARGUMENT);
    expect(err.message).toMatch(/out .*detached or resized/);
    expect(moved.every((v) => v === 0)).toBe(true);
  });

  it('out in a resizable ArrayBuffer shrunk during the call: rejects with ERR_FFF_INVALID_ARGUMENT', async () => {
    const buffer = resizableBuffer(ROWS * OUT * 4);
    const out = new Float32Array(buffer, 0, ROWS * OUT);
    const pending = layer.forward(input('plain'), ROWS, { out });
    shrink(buffer, 8);
    await expectCode(pending, ErrorCode.INVALID_ARGUMENT);
  });

  it('out in a SharedArrayBuffer: filled at the end', async () => {
    const out = new Float32Array(new SharedArrayBuffer(ROWS * OUT * 4));
    expect(firstBitDifference(await layer.forward(input('plain'), ROWS, { out }), expected)).toBe(-1);
  });

  it('many calls on one input buffer rewritten between them: each gets the values at its call', async () => {
    const x = input('plain');
    const sources = [0, 1, 2, 3].map((i) => randomArray(ROWS * WIDTH, 1, rng(920 + i)));
    const pending = sources.map((s) => {
      x.set(s);
      return layer.forward(x, ROWS);
    });
    const got = await Promise.all(pending);
    for (const [i, s] of sources.entries()) expect(firstBitDifference(got[i], layer.forwardSync(s, ROWS))).toBe(-1);
  });
});

describe('Linear with out: x (in place)', () => {
  const x0 = randomArray(33 * 40, 1, rng(930));
  const linear = Linear.fromTorch({
    weight: randomArray(40 * 40, 0.2, rng(931)),
    bias: randomArray(40, 0.1, rng(932)),
  });
  const expected = linear.forwardSync(x0, 33);
  afterAll(() => linear.dispose());

  it('forwardSync computes apart, then stores into x', () => {
    const x = x0.slice();
    expect(linear.forwardSync(x, 33, { out: x })).toBe(x);
    expect(firstBitDifference(x, expected)).toBe(-1);
  });

  it('forward computes apart, then stores into x', async () => {
    const x = x0.slice();
    expect(await linear.forward(x, 33, { out: x })).toBe(x);
    expect(firstBitDifference(x, expected)).toBe(-1);
  });

  it('out: x with a residual and an activation, sync and async alike', async () => {
    const residual = randomArray(33 * 40, 1, rng(933));
    const want = linear.forwardSync(x0, 33, { activation: 'gelu', residual });
    const a = x0.slice();
    linear.forwardSync(a, 33, { out: a, activation: 'gelu', residual });
    const b = x0.slice();
    await linear.forward(b, 33, { out: b, activation: 'gelu', residual });
    expect(firstBitDifference(a, want)).toBe(-1);
    expect(firstBitDifference(b, want)).toBe(-1);
  });

  it('out: residual (accumulates in place) gives the same bits in forward as in forwardSync', async () => {
    const r0 = randomArray(33 * 40, 1, rng(934));
    const a = r0.slice();
    linear.forwardSync(x0, 33, { out: a, residual: a });
    const b = r0.slice();
    const pending = linear.forward(x0, 33, { out: b, residual: b });
    b.fill(0);
    await pending;
    expect(firstBitDifference(b, a)).toBe(-1);
  });
});

describe('model.forward owns its ids', () => {
  let model: Model;
  const fixture = path.join(__dirname, 'fixtures', 'ufb-tiny');
  beforeAll(async () => {
    model = await loadModel(fixture);
  });
  afterAll(() => model.dispose());

  it.each(['plain', 'shared'] as const)(
    'ids (%s buffer) set to the vocabulary size right after the call: the result of the ids at the call',
    async (kind) => {
      const batch = 4;
      const seq = 32;
      const ids0 = Int32Array.from({ length: batch * seq }, (_, i) => (i * 37) % 512);
      const expected = await model.forward({ inputIds: { data: ids0.slice(), shape: [batch, seq] } });
      const data = new Int32Array(
        kind === 'shared' ? new SharedArrayBuffer(ids0.byteLength) : new ArrayBuffer(ids0.byteLength),
      );
      data.set(ids0);
      const mask = new Int32Array(batch * seq).fill(1);
      const pending = model.forward({
        inputIds: { data, shape: [batch, seq] },
        attentionMask: { data: mask, shape: [batch, seq] },
      });
      data.fill(512);
      mask.fill(7);
      const got = await pending;
      expect(firstBitDifference(got.lastHiddenState, expected.lastHiddenState)).toBe(-1);
      expect(firstBitDifference(got.logits!, expected.logits!)).toBe(-1);
    },
  );

  it('ids transferred away right after the call', async () => {
    const ids0 = Int32Array.from({ length: 32 }, (_, i) => (i * 11) % 512);
    const expected = await model.forward({ inputIds: { data: ids0.slice(), shape: [1, 32] } });
    const data = ids0.slice();
    const pending = model.forward({ inputIds: { data, shape: [1, 32] } });
    structuredClone(data.buffer, { transfer: [data.buffer as ArrayBuffer] });
    expect(firstBitDifference((await pending).lastHiddenState, expected.lastHiddenState)).toBe(-1);
  });

  it('the native forward checks the ids it copied: an id equal to the vocabulary size is ERR_FFF_TOKEN_OUT_OF_RANGE', async () => {
    // Below the TypeScript checks: the addon's own model, made the way the loader makes it.
    const { model: second, handle } = await loadWithNative(fixture);
    const ids = new Int32Array(16).fill(3);
    ids[5] = 512;
    const mask = new Int32Array(16).fill(1);
    let thrown: unknown;
    try {
      void handle.forward({ inputIds: ids, attentionMask: mask, batch: 1, seq: 16, outLogits: true });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(FffError);
    expect((thrown as FffError).code).toBe(ErrorCode.TOKEN_OUT_OF_RANGE);
    expect((thrown as FffError).message).toContain('512');
    second.dispose();
  });
});

describe('native errors are FffErrors with a stable code', () => {
  it('thrown synchronously by the addon (below the TypeScript checks)', () => {
    let thrown: unknown;
    try {
      new native.NativeLinear(2, 3, new Float32Array(5), null);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(FffError);
    expect((thrown as FffError).code).toBe(ErrorCode.INVALID_LENGTH);
    expect((thrown as FffError).name).toBe('FffError');
  });

  it('an async rejection carries the JavaScript stack of the call that started it', async () => {
    const linear = Linear.fromTorch({ weight: randomArray(8 * 8, 0.2, rng(940)), outFeatures: 8 });
    const out = new Float32Array(64 * 8);
    function startForwardFromHere(): Promise<Float32Array> {
      return linear.forward(randomArray(64 * 8, 1, rng(941)), 64, { out });
    }
    const pending = startForwardFromHere();
    structuredClone(out.buffer, { transfer: [out.buffer as ArrayBuffer] });
    const err = await expectCode(pending, ErrorCode.INVALID_ARGUMENT);
    expect(err.stack).toContain('startForwardFromHere');
    expect(err.stack).toContain('async-ownership.test');
    expect(err.stack!.split('\n')[0]).toBe(`FffError: ${err.message}`);
    linear.dispose();
  });

  it('thrown by the model object (an invalid configuration)', () => {
    let thrown: unknown;
    try {
      new native.NativeBertModel({ family: 'crammed' } as never);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(FffError);
    expect((thrown as FffError).code).toBe(ErrorCode.INVALID_MODEL);
  });
});
