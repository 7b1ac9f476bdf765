/**
 * A safetensors checkpoint read one tensor at a time with positioned reads (fs.readSync at the tensor's offset):
 * the file is never held whole in memory, so loading a 755 MB checkpoint costs the packed weights plus one
 * scratch buffer the size of the tensor being read. Implements TensorSource (./tensors.ts).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { ErrorCode, FffError } from '../errors';
import { fsError, openRegularFile } from './files';
import type { SafetensorsHeader, TensorEntry } from './safetensors-header';
import { parseHeader, parseHeaderLength } from './safetensors-header';
import { ScratchBuffer } from './scratch-buffer';
import type { TensorDtype, TensorInfo, TensorSource } from './tensors';

/** A tensor in its own dtype. F16 and BF16 come as their raw bits (Uint16Array); BOOL as Uint8Array of 0/1. */
export type TensorData =
  | Float64Array
  | Float32Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

export interface TensorWithData extends TensorInfo {
  data: TensorData;
}

/** Positioned reads of at most 1 GiB each (Linux transfers at most 0x7ffff000 bytes per read call). */
const MAX_READ = 1 << 30;

function isFloat(dtype: TensorDtype): boolean {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16' || dtype === 'F64';
}

let halfTable: Float32Array | null = null;

/** IEEE binary16 bits -> float32 for all 65536 patterns (exact: every half is a float). */
function f16Table(): Float32Array {
  if (halfTable) return halfTable;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 31) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  halfTable = t;
  return t;
}

function typedArrayFor(dtype: TensorDtype, buffer: ArrayBuffer, numel: number): TensorData {
  switch (dtype) {
    case 'F64':
      return new Float64Array(buffer, 0, numel);
    case 'F32':
      return new Float32Array(buffer, 0, numel);
    case 'F16':
    case 'BF16':
      return new Uint16Array(buffer, 0, numel);
    case 'I64':
      return new BigInt64Array(buffer, 0, numel);
    case 'I32':
      return new Int32Array(buffer, 0, numel);
    case 'I16':
      return new Int16Array(buffer, 0, numel);
    case 'I8':
      return new Int8Array(buffer, 0, numel);
    case 'U8':
    case 'BOOL':
      return new Uint8Array(buffer, 0, numel);
  }
}

export class SafetensorsFile implements TensorSource {
  readonly path: string;
  readonly fileSize: number;
  readonly header: SafetensorsHeader;
  #fd: number | null;
  /** Raw bytes of the tensor being read (F32 tensors are returned as a view of it). */
  #raw: ScratchBuffer | null = null;
  /** float32 output of F16/BF16/F64 conversions. */
  #converted: ScratchBuffer | null = null;

  private constructor(path: string, fd: number, fileSize: number, header: SafetensorsHeader) {
    this.path = path;
    this.#fd = fd;
    this.fileSize = fileSize;
    this.header = header;
  }

  /** Opens and validates the header; throws ERR_FFF_FILE_NOT_FOUND or ERR_FFF_INVALID_CHECKPOINT. */
  static open(path: string): SafetensorsFile {
    if (os.endianness() !== 'LE') {
      throw new FffError(
        ErrorCode.UNSUPPORTED_MODEL,
        'safetensors data is little-endian; big-endian hosts are not supported',
      );
    }
    let fd: number;
    let size: number;
    try {
      ({ fd, size } = openRegularFile(path, 'checkpoint'));
    } catch (err) {
      if (err instanceof FffError && err.code === ErrorCode.INVALID_MODEL)
        throw new FffError(ErrorCode.INVALID_CHECKPOINT, err.message);
      throw err;
    }
    try {
      const prefix = Buffer.alloc(8);
      readFully(fd, prefix, 0, Math.min(8, size), path);
      const n = parseHeaderLength(prefix, size, path);
      const json = Buffer.alloc(n);
      readFully(fd, json, 8, n, path);
      return new SafetensorsFile(path, fd, size, parseHeader(json, size, path));
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  names(): string[] {
    return [...this.header.tensors.keys()];
  }

  info(name: string): TensorInfo | undefined {
    const e = this.header.tensors.get(name);
    return e && { name: e.name, dtype: e.dtype, shape: e.shape.slice() };
  }

  get metadata(): Record<string, string> {
    return this.header.metadata;
  }

  /**
   * The tensor as float32 (F32 as stored; F16, BF16, F64 converted). The result is a view of a scratch buffer
   * valid until the next readF32, releaseScratch() or close(): copy it or consume it first.
   */
  readF32(name: string): Float32Array {
    const e = this.#entry(name);
    if (!isFloat(e.dtype)) {
      throw new FffError(
        ErrorCode.INVALID_CHECKPOINT,
        `Tensor "${name}" in ${this.path} has dtype ${e.dtype}; expected a float dtype (F32, F16, BF16, F64)`,
      );
    }
    const raw = this.#readRaw(e);
    if (e.dtype === 'F32') return new Float32Array(raw, 0, e.numel);
    if (this.#converted === null) this.#converted = new ScratchBuffer(this.#maxBytes(4));
    const converted = this.#converted.get(e.numel * 4);
    const out = new Float32Array(converted, 0, e.numel);
    if (e.dtype === 'F64') {
      out.set(new Float64Array(raw, 0, e.numel)); // rounds each value to float32, as an assignment does
    } else if (e.dtype === 'F16') {
      const src = new Uint16Array(raw, 0, e.numel);
      const table = f16Table();
      // i < numel, the length of src and out; the table has an entry for each of the 65536 uint16 values.
      for (let i = 0; i < e.numel; i++) out[i] = table[src[i]!]!;
    } else {
      // bf16 is the upper half of a float32
      const src = new Uint16Array(raw, 0, e.numel);
      const bits = new Uint32Array(converted, 0, e.numel);
      for (let i = 0; i < e.numel; i++) bits[i] = src[i]! << 16; // i < numel, as above
    }
    return out;
  }

  /** A fresh copy of the tensor in its own dtype (I64 -> BigInt64Array, F16/BF16 -> raw Uint16Array bits). */
  readTensor(name: string): TensorWithData {
    const e = this.#entry(name);
    const buffer = new ArrayBuffer(e.end - e.begin);
    readFully(this.#handle(), new Uint8Array(buffer), this.header.dataStart + e.begin, e.end - e.begin, this.path);
    return { name: e.name, dtype: e.dtype, shape: e.shape.slice(), data: typedArrayFor(e.dtype, buffer, e.numel) };
  }

  /** Frees the scratch buffers (the next read allocates them again). */
  releaseScratch(): void {
    this.#raw?.release();
    this.#converted?.release();
    this.#raw = null;
    this.#converted = null;
  }

  /** Closes the file and frees the scratch buffers; idempotent. Later reads throw ERR_FFF_DISPOSED. */
  close(): void {
    if (this.#fd !== null) fs.closeSync(this.#fd);
    this.#fd = null;
    this.releaseScratch();
  }

  #handle(): number {
    if (this.#fd === null) throw new FffError(ErrorCode.DISPOSED, `Checkpoint ${this.path} has been closed`);
    return this.#fd;
  }

  #entry(name: string): TensorEntry {
    if (typeof name !== 'string')
      throw new FffError(ErrorCode.INVALID_ARGUMENT, `Expected name to be a string but received ${typeof name}`);
    const e = this.header.tensors.get(name);
    if (e === undefined)
      throw new FffError(ErrorCode.INVALID_CHECKPOINT, `Tensor "${name}" is missing from ${this.path}`);
    return e;
  }

  /** Size of the largest float tensor of the file: stored bytes, or at `bytesPerElement` (at least 8). */
  #maxBytes(bytesPerElement?: number): number {
    let max = 8;
    for (const e of this.header.tensors.values()) {
      if (!isFloat(e.dtype)) continue;
      max = Math.max(max, bytesPerElement === undefined ? e.end - e.begin : e.numel * bytesPerElement);
    }
    return max;
  }

  /** Reads the tensor's bytes into the raw scratch buffer (sized to this tensor: see ScratchBuffer). */
  #readRaw(e: TensorEntry): ArrayBuffer {
    const fd = this.#handle();
    if (this.#raw === null) this.#raw = new ScratchBuffer(this.#maxBytes());
    const raw = this.#raw.get(e.end - e.begin);
    readFully(fd, new Uint8Array(raw, 0, e.end - e.begin), this.header.dataStart + e.begin, e.end - e.begin, this.path);
    return raw;
  }
}

/** Reads exactly `length` bytes at `position` into the start of `into`; a short file is an invalid checkpoint. */
function readFully(fd: number, into: Uint8Array, position: number, length: number, path: string): void {
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = fs.readSync(fd, into, done, Math.min(MAX_READ, length - done), position + done);
    } catch (err) {
      throw fsError(err, path, 'checkpoint');
    }
    if (n === 0) {
      throw new FffError(
        ErrorCode.INVALID_CHECKPOINT,
        `Invalid safetensors file ${path}: unexpected end of file at byte ${position + done} (file truncated?)`,
      );
    }
    done += n;
  }
}
