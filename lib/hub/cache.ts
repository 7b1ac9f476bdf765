/**
 * The Hugging Face cache layout, exactly as Python's huggingface_hub writes it, so either side reuses the other's
 * downloads:
 *   <cacheDir>/models--<org>--<name>/
 *     blobs/<etag>                  file contents, named by sha256 (LFS files) or git blob sha1 (other files)
 *     snapshots/<commit>/<file>     relative symlinks to ../../blobs/<etag> (copies where symlinks fail)
 *     refs/<revision>               the commit a branch or tag pointed to when last resolved
 *     .no_exist/<commit>/<file>     empty markers: the file does not exist at that commit
 * Every write is a write to a unique temporary name in the destination folder and a rename, so a reader (or a
 * second process writing the same thing) never sees a partial file.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The files a model folder is read from (lib/bert/config.ts, lib/model.ts, lib/tokenizer.ts). */
export const MODEL_FILES = [
  'config.json',
  'model_config.json',
  'model.safetensors',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
] as const;

export const COMMIT_RE = /^[0-9a-f]{40}$/;

export function repoFolder(cacheDir: string, id: string): string {
  return path.join(cacheDir, `models--${id.split('/').join('--')}`);
}

export function snapshotFolder(repoDir: string, commit: string): string {
  return path.join(repoDir, 'snapshots', commit);
}

/** The commit refs/<revision> records, or undefined. */
export function readRef(repoDir: string, revision: string): string | undefined {
  try {
    const commit = fs.readFileSync(path.join(repoDir, 'refs', revision), 'utf8').trim();
    return COMMIT_RE.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

export interface SnapshotState {
  /** Model files the snapshot holds (a regular file or a symlink to one). */
  present: Set<string>;
  /** Model files known not to exist at that commit (.no_exist markers). */
  absent: Set<string>;
}

export function snapshotState(repoDir: string, commit: string): SnapshotState {
  const state: SnapshotState = { present: new Set(), absent: new Set() };
  for (const file of MODEL_FILES) {
    if (isFile(path.join(snapshotFolder(repoDir, commit), file))) state.present.add(file);
    else if (fs.existsSync(path.join(repoDir, '.no_exist', commit, file))) state.absent.add(file);
  }
  return state;
}

/** The snapshot holds what loadModel needs: the checkpoint and a config. */
export function isUsable(s: SnapshotState): boolean {
  return s.present.has('model.safetensors') && (s.present.has('config.json') || s.present.has('model_config.json'));
}

/** Usable, and every other model file is either there or known not to exist: nothing to ask the hub. */
export function isComplete(s: SnapshotState): boolean {
  return isUsable(s) && MODEL_FILES.every((f) => s.present.has(f) || s.absent.has(f));
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** A name next to `target` that no other writer (process or call) uses. */
export function tempName(target: string, suffix: string): string {
  return `${target}.${process.pid}-${crypto.randomBytes(6).toString('hex')}.${suffix}`;
}

function writeFileAtomic(target: string, data: string): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const tmp = tempName(target, 'tmp');
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** refs/<revision> = commit (as Python: the bare hash, no newline); unchanged refs are not rewritten (a read-only cache). */
export function writeRef(repoDir: string, revision: string, commit: string): void {
  if (revision !== commit && readRef(repoDir, revision) !== commit)
    writeFileAtomic(path.join(repoDir, 'refs', revision), commit);
}

export function markAbsent(repoDir: string, commit: string, file: string): void {
  const marker = path.join(repoDir, '.no_exist', commit, file);
  fs.mkdirSync(path.dirname(marker), { recursive: true });
  fs.closeSync(fs.openSync(marker, 'a'));
}

/** snapshots/<commit>/<file> -> ../../blobs/<etag>, replacing whatever was there in one rename. */
export function linkBlob(repoDir: string, commit: string, file: string, blobPath: string): void {
  const pointer = path.join(snapshotFolder(repoDir, commit), file);
  fs.mkdirSync(path.dirname(pointer), { recursive: true });
  const tmp = tempName(pointer, 'tmp');
  try {
    try {
      fs.symlinkSync(path.relative(path.dirname(pointer), blobPath), tmp);
    } catch {
      // No symlinks (Windows without developer mode): a copy, as Python does.
      fs.copyFileSync(blobPath, tmp);
    }
    fs.renameSync(tmp, pointer);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** blobs/<etag> when it exists with the expected size (blobs only ever appear complete and verified). */
export function existingBlob(repoDir: string, etag: string, size: number): string | undefined {
  const blob = path.join(repoDir, 'blobs', etag);
  try {
    return fs.statSync(blob).size === size ? blob : undefined;
  } catch {
    return undefined;
  }
}
