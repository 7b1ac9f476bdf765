/**
 * Reading the files of a model folder without trusting them: only regular files are read (a FIFO, a device such
 * as /dev/zero behind a symlink, a directory or a socket is refused before a byte is read), JSON files are read
 * with a byte bound, and every fs error becomes an FffError with a stable code (fsError).
 */
import * as fs from 'node:fs';
import { ErrorCode, FffError } from '../errors';

/** Bound on config.json, model_config.json and tokenizer_config.json (real ones: < 100 KB). */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;
/** Bound on tokenizer.json (bert-base-uncased: 0.7 MB; the largest multilingual ones: ~20 MB). */
export const MAX_TOKENIZER_BYTES = 64 * 1024 * 1024;

/** Maps an fs error on `file` to an FffError: ENOENT/ENOTDIR -> FILE_NOT_FOUND, EACCES/EPERM -> ACCESS_DENIED, else IO. */
export function fsError(err: unknown, file: string, what = 'file'): FffError {
  if (err instanceof FffError) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const reason = err instanceof Error ? err.message : String(err);
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new FffError(ErrorCode.FILE_NOT_FOUND, `The ${what} ${file} does not exist`);
  if (code === 'EACCES' || code === 'EPERM')
    return new FffError(ErrorCode.ACCESS_DENIED, `Permission denied reading the ${what} ${file}`);
  if (code === 'EISDIR') return notRegular(file, what, 'a directory');
  return new FffError(ErrorCode.IO, `Cannot read the ${what} ${file}: ${reason}`);
}

function kindOf(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

function notRegular(file: string, what: string, kind: string): FffError {
  return new FffError(ErrorCode.INVALID_MODEL, `The ${what} ${file} is ${kind}; expected a regular file`);
}

/**
 * Whether `file` exists (following symlinks). ENOENT/ENOTDIR mean no; any other failure (EACCES on the folder,
 * ELOOP, ...) throws its FffError instead of reading as "absent".
 */
export function pathExists(file: string, what = 'file'): boolean {
  try {
    return fs.statSync(file, { throwIfNoEntry: false }) !== undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw fsError(err, file, what);
  }
}

/**
 * Opens `file` for reading, non-blocking (a FIFO does not block the open), and checks on the opened descriptor
 * that it is a regular file. Returns the fd and the size; the caller closes the fd.
 */
export function openRegularFile(file: string, what = 'file'): { fd: number; size: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw fsError(err, file, what);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw notRegular(file, what, kindOf(stat));
    return { fd, size: stat.size };
  } catch (err) {
    fs.closeSync(fd);
    throw fsError(err, file, what);
  }
}

/** Reads a regular file of at most `maxBytes` (a file that grows past the bound while read is refused too). */
export function readBoundedFile(file: string, maxBytes: number, what = 'file'): Buffer {
  const { fd, size } = openRegularFile(file, what);
  try {
    if (size > maxBytes)
      throw new FffError(ErrorCode.INVALID_MODEL, `The ${what} ${file} is ${size} bytes; at most ${maxBytes} are read`);
    // stat's size is a hint (/proc files say 0, a file may grow while read): the buffer grows, up to the bound
    let buf = Buffer.allocUnsafe(Math.min(maxBytes, size) + 1);
    let done = 0;
    for (;;) {
      if (done === buf.length) {
        if (done > maxBytes)
          throw new FffError(ErrorCode.INVALID_MODEL, `The ${what} ${file} is longer than ${maxBytes} bytes`);
        const grown = Buffer.allocUnsafe(Math.min(maxBytes + 1, buf.length * 2 + 4096));
        buf.copy(grown, 0, 0, done);
        buf = grown;
      }
      const n = fs.readSync(fd, buf, done, buf.length - done, done);
      if (n === 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  } catch (err) {
    throw fsError(err, file, what);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads and parses a JSON file bounded by `maxBytes`; anything but a JSON object is ERR_FFF_INVALID_MODEL. */
export function readJsonObject(file: string, maxBytes: number, what = 'file'): Record<string, unknown> {
  const text = readBoundedFile(file, maxBytes, what).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new FffError(
      ErrorCode.INVALID_MODEL,
      `The ${what} ${file} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new FffError(ErrorCode.INVALID_MODEL, `The ${what} ${file} is not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}
