import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../lib/formats/safetensors';
import { ScratchBuffer } from '../lib/formats/scratch-buffer';

const fixtures = path.join(__dirname, 'fixtures');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fffbert-st-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

let counter = 0;
/** Writes [u64 LE header length][header][data] (header given as a string or an object) and returns the path. */
function writeRaw(header: string | object, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
  const file = path.join(tmp, `t${counter++}.safetensors`);
  fs.writeFileSync(file, Buffer.concat([prefix, json, data]));
  return file;
}

function expectInvalid(file: string, message: RegExp): void {
  let caught: unknown;
  try {
    SafetensorsFile.open(file).close();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(Error);
  expect((caught as { code?: string }).code).toBe('ERR_FFF_INVALID_CHECKPOINT');
  expect((caught as Error).message).toMatch(message);
}

describe('SafetensorsFile on the fixtures', () => {
  it('lists the tensors of ufb-tiny with dtype and shape', () => {
    const f = SafetensorsFile.open(path.join(fixtures, 'ufb-tiny/model.safetensors'));
    try {
      expect(f.names()).toContain('encoder.layers.1.ffn.linear_in.weight');
      expect(f.info('encoder.layers.0.ffn.linear_in.weight')).toEqual({
        name: 'encoder.layers.0.ffn.linear_in.weight',
        dtype: 'F32',
        shape: [15, 64],
      });
      expect(f.info('encoder.layers.0.attn.self_attention.norm_factor')?.shape).toEqual([]);
      expect(f.info('nope')).toBeUndefined();
      expect(f.metadata).toEqual({ format: 'pt' });
    } finally {
      f.close();
    }
  });

  it('reads float32 values at the right offsets (checked against numpy)', () => {
    const f = SafetensorsFile.open(path.join(fixtures, 'ufb-tiny/model.safetensors'));
    try {
      const bias = f.readF32('encoder.layers.1.ffn.linear_in.bias');
      expect(bias.length).toBe(15);
      expect(Array.from(bias.slice(0, 3))).toEqual([0.31152161955833435, 0.42942696809768677, -0.18152080476284027]);
      let sum = 0;
      for (const v of bias) sum += v;
      expect(sum).toBeCloseTo(-0.01985551416873932, 12);
      expect(Array.from(f.readF32('encoder.embedding.pos_embedding.scale_factor'))).toEqual([0.5]);
      expect(Array.from(f.readF32('encoder.layers.0.attn.self_attention.norm_factor'))).toEqual([0.25]);
    } finally {
      f.close();
    }
  });

  it('reuses one scratch buffer across readF32 calls, while readTensor returns fresh copies', () => {
    const f = SafetensorsFile.open(path.join(fixtures, 'ufb-tiny/model.safetensors'));
    try {
      const a = f.readF32('encoder.layers.0.ffn.linear_in.bias');
      const copy = a.slice();
      const b = f.readF32('encoder.layers.1.ffn.linear_in.bias');
      expect(b.buffer).toBe(a.buffer);
      // the first view now shows the second tensor: the documented contract
      expect(Array.from(a)).toEqual(Array.from(b));
      const t = f.readTensor('encoder.layers.0.ffn.linear_in.bias');
      expect(t.data).toBeInstanceOf(Float32Array);
      expect(Array.from(t.data as Float32Array)).toEqual(Array.from(copy));
      expect(t.data.buffer).not.toBe(a.buffer);
    } finally {
      f.close();
    }
  });

  it('reads I64 reference tensors as BigInt64Array', () => {
    const f = SafetensorsFile.open(path.join(fixtures, 'ufb-tiny/reference.safetensors'));
    try {
      const ids = f.readTensor('input_ids');
      expect(ids.dtype).toBe('I64');
      expect(ids.shape).toEqual([3, 32]);
      expect(ids.data).toBeInstanceOf(BigInt64Array);
      const mask = f.readTensor('attention_mask').data as BigInt64Array;
      expect(mask.every((v) => v === 0n || v === 1n)).toBe(true);
      expect(mask[0]).toBe(1n);
      expect(() => f.readF32('input_ids')).toThrow(/dtype I64; expected a float dtype/);
    } finally {
      f.close();
    }
  });

  it('refuses missing tensors, missing files and reads after close', () => {
    const f = SafetensorsFile.open(path.join(fixtures, 'ufb-tiny/model.safetensors'));
    expect(() => f.readF32('encoder.nope')).toThrow(/Tensor "encoder.nope" is missing/);
    f.close();
    f.close();
    expect(() => f.readF32('decoder.weight')).toThrow(expect.objectContaining({ code: 'ERR_FFF_DISPOSED' }));
    expect(() => SafetensorsFile.open(path.join(tmp, 'absent.safetensors'))).toThrow(
      expect.objectContaining({ code: 'ERR_FFF_FILE_NOT_FOUND' }),
    );
  });
});

describe('ScratchBuffer', () => {
  const MB = 1024 * 1024;
  it('grows on demand, shrinks when over 4x too large (never below 16 MB), and refuses more than its maximum', () => {
    const s = new ScratchBuffer(200 * MB);
    expect(s.get(100).byteLength).toBeGreaterThanOrEqual(100);
    expect(s.get(100 * MB).byteLength).toBe(100 * MB);
    // resizable ArrayBuffers (Node >= 20) shrink; older runtimes keep the large buffer
    const resizable = typeof (ArrayBuffer.prototype as { resize?: unknown }).resize === 'function';
    expect(s.get(1000).byteLength).toBe(resizable ? 16 * MB : 100 * MB);
    expect(s.get(20 * MB).byteLength).toBe(resizable ? 20 * MB : 100 * MB);
    expect(s.get(10).byteLength).toBe(resizable ? 20 * MB : 100 * MB);
    expect(() => s.get(201 * MB)).toThrow(RangeError);
    s.release();
    expect(s.get(8).byteLength).toBeGreaterThanOrEqual(8);
  });
});

describe('dtype conversion to float32', () => {
  // values exactly representable in every dtype below
  const values = [0, 1, -2, 0.5, -0.375, 65504, 2 ** -14, 2 ** -24];

  function fileWith(dtype: string, bytes: Uint8Array, n = values.length): string {
    return writeRaw({ x: { dtype, shape: [n], data_offsets: [0, bytes.length] } }, bytes);
  }

  it('F16 (normals, subnormals, largest finite, infinities, NaN)', () => {
    const bits = [0x0000, 0x3c00, 0xc000, 0x3800, 0xb600, 0x7bff, 0x0400, 0x0001, 0x7c00, 0xfc00, 0x7e00, 0x8000];
    const f = SafetensorsFile.open(fileWith('F16', new Uint8Array(new Uint16Array(bits).buffer), bits.length));
    const out = Array.from(f.readF32('x'));
    f.close();
    expect(out.slice(0, 8)).toEqual(values);
    expect(out[8]).toBe(Infinity);
    expect(out[9]).toBe(-Infinity);
    expect(out[10]).toBeNaN();
    expect(Object.is(out[11], -0)).toBe(true);
  });

  it('BF16', () => {
    const f32 = new Float32Array([0, 1, -2, 0.5, -0.375, 3.0e38, 1e-30]);
    const u32 = new Uint32Array(f32.buffer);
    const bf = new Uint16Array(f32.length);
    for (let i = 0; i < f32.length; i++) bf[i] = u32[i] >>> 16;
    const f = SafetensorsFile.open(fileWith('BF16', new Uint8Array(bf.buffer), f32.length));
    const out = Array.from(f.readF32('x'));
    const raw = f.readTensor('x');
    f.close();
    const expected = new Float32Array(new Uint32Array(Array.from(bf, (b) => b << 16)).buffer);
    expect(out).toEqual(Array.from(expected));
    expect(raw.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(raw.data as Uint16Array)).toEqual(Array.from(bf));
  });

  it('F64 and F32', () => {
    const f64 = new Float64Array([...values, 0.1]);
    const f = SafetensorsFile.open(fileWith('F64', new Uint8Array(f64.buffer), f64.length));
    expect(Array.from(f.readF32('x'))).toEqual(Array.from(new Float32Array(f64)));
    expect(Array.from(f.readTensor('x').data as Float64Array)).toEqual(Array.from(f64));
    f.close();
  });

  it('mixed dtypes in one file, read in any order', () => {
    const a = new Float32Array([1.5, -2.5, 3.25]);
    const b = new Uint16Array([0x3c00, 0x4000]); // F16 1, 2
    const c = new BigInt64Array([5n, -7n]);
    const bytes = new Uint8Array(12 + 4 + 16);
    bytes.set(new Uint8Array(a.buffer), 0);
    bytes.set(new Uint8Array(b.buffer), 12);
    bytes.set(new Uint8Array(c.buffer), 16);
    const file = writeRaw(
      {
        c: { dtype: 'I64', shape: [2], data_offsets: [16, 32] },
        a: { dtype: 'F32', shape: [3, 1], data_offsets: [0, 12] },
        b: { dtype: 'F16', shape: [2], data_offsets: [12, 16] },
        empty: { dtype: 'F32', shape: [0, 4], data_offsets: [12, 12] },
        __metadata__: { format: 'pt' },
      },
      bytes,
    );
    const f = SafetensorsFile.open(file);
    expect(Array.from(f.readF32('b'))).toEqual([1, 2]);
    expect(Array.from(f.readF32('a'))).toEqual([1.5, -2.5, 3.25]);
    expect(f.readF32('empty').length).toBe(0);
    expect(Array.from(f.readTensor('c').data as BigInt64Array)).toEqual([5n, -7n]);
    f.close();
  });
});

describe('hostile files', () => {
  const ok = { x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const data8 = new Uint8Array(8);

  it('files shorter than the 8-byte length', () => {
    const file = path.join(tmp, 'short.safetensors');
    fs.writeFileSync(file, Buffer.from([1, 2, 3]));
    expectInvalid(file, /3 bytes long, shorter than the 8-byte header length/);
    const empty = path.join(tmp, 'empty.safetensors');
    fs.writeFileSync(empty, '');
    expectInvalid(empty, /0 bytes long/);
  });

  it('a header length beyond the file or the 100 MB limit', () => {
    expectInvalid(writeRaw(ok, data8, 10_000n), /header length 10000 exceeds the \d+ bytes that follow it/);
    expectInvalid(writeRaw(ok, data8, 2n ** 63n), /exceeds the maximum of 104857600 bytes/);
    expectInvalid(writeRaw(ok, data8, 2n ** 64n - 1n), /exceeds the maximum/);
    expectInvalid(writeRaw(ok, data8, 0n), /too small/);
  });

  it('a data section truncated after the header', () => {
    expectInvalid(writeRaw(ok, new Uint8Array(4)), /"x" has data_offsets \[0, 8\] beyond the 4-byte data section/);
  });

  it('bad JSON, a non-object header, bad UTF-8', () => {
    expectInvalid(writeRaw('{"x": {"dtype": "F32",'), /not valid JSON/);
    expectInvalid(writeRaw('[1, 2, 3]'), /not a JSON object/);
    expectInvalid(writeRaw('null'), /not a JSON object/);
    const bad = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(4n);
    const file = path.join(tmp, 'utf8.safetensors');
    fs.writeFileSync(file, Buffer.concat([prefix, bad]));
    expectInvalid(file, /not valid UTF-8/);
  });

  it('unknown dtypes and bad shapes', () => {
    expectInvalid(
      writeRaw({ x: { dtype: 'F8_E4M3', shape: [8], data_offsets: [0, 8] } }, data8),
      /"x" has dtype "F8_E4M3"; expected one of F64, F32/,
    );
    expectInvalid(writeRaw({ x: { dtype: 'f32', shape: [2], data_offsets: [0, 8] } }, data8), /dtype "f32"/);
    expectInvalid(writeRaw({ x: { shape: [2], data_offsets: [0, 8] } }, data8), /dtype undefined/);
    expectInvalid(
      writeRaw({ x: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, data8),
      /shape \[-2\]; expected an array of non-negative integers/,
    );
    expectInvalid(writeRaw({ x: { dtype: 'F32', shape: [1.5], data_offsets: [0, 8] } }, data8), /shape \[1.5\]/);
    expectInvalid(writeRaw({ x: { dtype: 'F32', shape: '2', data_offsets: [0, 8] } }, data8), /shape "2"/);
    expectInvalid(
      writeRaw({ x: { dtype: 'F32', shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 8] } }, data8),
      /too many elements/,
    );
    expectInvalid(writeRaw({ x: 5 }, data8), /entry "x" is not an object/);
  });

  it('malformed or inconsistent data_offsets', () => {
    expectInvalid(
      writeRaw({ x: { dtype: 'F32', shape: [2], data_offsets: [0] } }, data8),
      /data_offsets \[0\]; expected \[begin, end\]/,
    );
    expectInvalid(writeRaw({ x: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } }, data8), /begin > end/);
    expectInvalid(writeRaw({ x: { dtype: 'F32', shape: [2], data_offsets: [-8, 0] } }, data8), /data_offsets \[-8,0\]/);
    expectInvalid(
      writeRaw({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, data8),
      /F32 \[3\]\) needs 12 bytes but data_offsets \[0, 8\] span 8/,
    );
    expectInvalid(writeRaw({ x: { dtype: 'F16', shape: [2], data_offsets: [0, 8] } }, data8), /needs 4 bytes/);
    expectInvalid(
      writeRaw({ x: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, data8),
      /beyond the 8-byte data section/,
    );
  });

  it('overlapping tensors', () => {
    const header = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    };
    expectInvalid(writeRaw(header, new Uint8Array(12)), /"a" \[0, 8\] and "b" \[4, 12\] overlap/);
    const same = {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'I32', shape: [2], data_offsets: [0, 8] },
    };
    expectInvalid(writeRaw(same, data8), /overlap/);
  });

  it('non-string metadata', () => {
    expectInvalid(
      writeRaw({ ...ok, __metadata__: { format: 1 } }, data8),
      /__metadata__.format is number; expected a string/,
    );
    expectInvalid(writeRaw({ ...ok, __metadata__: [] }, data8), /__metadata__ is not an object/);
  });

  it('a file that shrinks after opening fails on read, not with garbage', () => {
    const file = writeRaw(ok, data8);
    const f = SafetensorsFile.open(file);
    fs.truncateSync(file, 8 + JSON.stringify(ok).length + 4);
    expect(() => f.readF32('x')).toThrow(/unexpected end of file/);
    f.close();
  });
});
