/**
 * The header of a safetensors file, validated before anything in it is trusted (docs/FFF-SPEC.md section 4).
 *
 * Layout: [u64 LE N][N bytes of UTF-8 JSON][data section]. The JSON maps tensor names to
 * `{ dtype, shape, data_offsets: [begin, end] }` (byte offsets relative to the start of the data section) and
 * may hold `__metadata__`: `{ [key]: string }`.
 */

import { ErrorCode, FffError } from '../errors';
import type { TensorDtype, TensorInfo } from './tensors';

/** Bytes per element of every dtype this reader knows. */
export const DTYPE_BYTES: Readonly<Record<TensorDtype, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** A header larger than this is refused as hostile (the 1x11 checkpoint's header is ~20 KB). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorEntry extends TensorInfo {
  /** Elements: product of shape (1 for a scalar of shape []). */
  numel: number;
  /** Byte offsets relative to the start of the data section, end exclusive. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** N: the JSON length. */
  headerBytes: number;
  /** Absolute file offset of the data section: 8 + N. */
  dataStart: number;
  /** Bytes from dataStart to the end of the file. */
  dataBytes: number;
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

function invalid(source: string, what: string): FffError {
  return new FffError(ErrorCode.INVALID_CHECKPOINT, `Invalid safetensors file ${source}: ${what}`);
}

function isDtype(value: unknown): value is TensorDtype {
  return typeof value === 'string' && Object.hasOwn(DTYPE_BYTES, value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Reads N from the first 8 bytes and checks it against the file size and MAX_HEADER_BYTES.
 * `prefix` holds the first min(8, fileSize) bytes of the file.
 */
export function parseHeaderLength(prefix: Buffer, fileSize: number, source: string): number {
  if (fileSize < 8 || prefix.length < 8) {
    throw invalid(source, `the file is ${fileSize} bytes long, shorter than the 8-byte header length`);
  }
  const n = prefix.readBigUInt64LE(0);
  if (n < 2n) throw invalid(source, `header length ${n} is too small for a JSON object`);
  if (n > BigInt(MAX_HEADER_BYTES))
    throw invalid(source, `header length ${n} exceeds the maximum of ${MAX_HEADER_BYTES} bytes`);
  if (n > BigInt(fileSize - 8)) {
    throw invalid(source, `header length ${n} exceeds the ${fileSize - 8} bytes that follow it (file truncated?)`);
  }
  return Number(n);
}

function parseEntry(source: string, name: string, raw: unknown, dataBytes: number): TensorEntry {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalid(source, `entry "${name}" is not an object`);
  }
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (!isDtype(dtype)) {
    throw invalid(
      source,
      `tensor "${name}" has dtype ${JSON.stringify(dtype)}; expected one of ${Object.keys(DTYPE_BYTES).join(', ')}`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw invalid(
      source,
      `tensor "${name}" has shape ${JSON.stringify(shape)}; expected an array of non-negative integers`,
    );
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw invalid(
      source,
      `tensor "${name}" has data_offsets ${JSON.stringify(offsets)}; expected [begin, end], non-negative integers`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw invalid(source, `tensor "${name}" has data_offsets [${begin}, ${end}] with begin > end`);
  if (end > dataBytes) {
    throw invalid(
      source,
      `tensor "${name}" has data_offsets [${begin}, ${end}] beyond the ${dataBytes}-byte data section (file truncated?)`,
    );
  }
  let numel = 1;
  for (const d of shape as number[]) {
    numel *= d;
    if (!Number.isSafeInteger(numel))
      throw invalid(source, `tensor "${name}" has shape ${JSON.stringify(shape)} with too many elements`);
  }
  const bytes = numel * DTYPE_BYTES[dtype];
  if (end - begin !== bytes) {
    throw invalid(
      source,
      `tensor "${name}" (${dtype} ${JSON.stringify(shape)}) needs ${bytes} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
    );
  }
  return { name, dtype, shape: shape.slice() as number[], numel, begin, end };
}

function parseMetadata(source: string, raw: unknown): Record<string, string> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw invalid(source, '__metadata__ is not an object');
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof value !== 'string') throw invalid(source, `__metadata__.${key} is ${typeof value}; expected a string`);
    metadata[key] = value;
  }
  return metadata;
}

/** Parses and validates the JSON header (`json`: the N header bytes) of a file of `fileSize` bytes. */
export function parseHeader(json: Buffer, fileSize: number, source: string): SafetensorsHeader {
  const headerBytes = json.length;
  const dataStart = 8 + headerBytes;
  const dataBytes = fileSize - dataStart;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    throw invalid(source, 'the header is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw invalid(source, `the header is not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw invalid(source, 'the header is not a JSON object');
  }
  const tensors = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') metadata = parseMetadata(source, raw);
    else tensors.set(name, parseEntry(source, name, raw, dataBytes));
  }
  // Sorted by begin (then end), each tensor must start at or after the end of the previous one. Empty tensors
  // (begin == end) occupy no bytes and cannot overlap.
  const sorted = [...tensors.values()]
    .filter((t) => t.end > t.begin)
    .sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (const [i, cur] of sorted.entries()) {
    const prev = sorted[i - 1];
    if (prev !== undefined && cur.begin < prev.end) {
      throw invalid(
        source,
        `tensors "${prev.name}" [${prev.begin}, ${prev.end}] and "${cur.name}" [${cur.begin}, ${cur.end}] overlap`,
      );
    }
  }
  return { headerBytes, dataStart, dataBytes, tensors, metadata };
}
