/**
 * One file of a repository into the cache's blobs/, verified before it becomes visible: the bytes stream into a
 * temporary file of this process (blobs/<etag>.<pid>-<random>.incomplete) while they are hashed; the count must
 * be the hub's size and the hash its etag (sha256 of the contents for LFS files, the git blob sha1 for the
 * others); only then the file is synced and renamed to blobs/<etag>. A broken, short, long or corrupted
 * download is deleted and leaves nothing a later load would take; two processes downloading the same blob
 * each write their own temporary file and the renames of identical verified contents replace one another.
 * A temporary file left by a process that died (untouched for an hour; a live download writes every few
 * seconds or gives up after HF_HUB_DOWNLOAD_TIMEOUT) is removed by the next download of that blob.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, FffError } from '../errors';
import { tempName } from './cache';
import type { HubProgress } from './settings';

export interface RemoteFile {
  path: string;
  size: number;
  /** sha256 hex of the contents (LFS) or git blob sha1 hex (regular files): the blob's name in the cache. */
  etag: string;
  lfs: boolean;
}

const STALE_MS = 3600_000;

function removeStaleTemps(blobsDir: string, etag: string): void {
  for (const name of fs.readdirSync(blobsDir)) {
    if (!name.startsWith(`${etag}.`) || !name.endsWith('.incomplete')) continue;
    const p = path.join(blobsDir, name);
    try {
      if (Date.now() - fs.statSync(p).mtimeMs > STALE_MS) fs.rmSync(p, { force: true });
    } catch {
      // removed by another process meanwhile
    }
  }
}

export async function writeVerifiedBlob(
  id: string,
  file: RemoteFile,
  /** Starts the transfer; called once the temporary file is open, so a cache that cannot be written starts none. */
  body: () => ReadableStream<Uint8Array>,
  repoDir: string,
  onProgress: ((p: HubProgress) => void) | undefined,
): Promise<string> {
  const blob = path.join(repoDir, 'blobs', file.etag);
  fs.mkdirSync(path.dirname(blob), { recursive: true });
  removeStaleTemps(path.dirname(blob), file.etag);
  const tmp = tempName(blob, 'incomplete');
  const hash = crypto.createHash(file.lfs ? 'sha256' : 'sha1');
  if (!file.lfs) hash.update(`blob ${file.size}\0`);
  const out = await fs.promises.open(tmp, 'wx');
  let reader: ReturnType<ReadableStream<Uint8Array>['getReader']> | undefined;
  let loaded = 0;
  try {
    reader = body().getReader();
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new FffError(
          ErrorCode.HUB_DOWNLOAD_FAILED,
          `Downloading ${file.path} of ${id} broke off after ${loaded} of ${file.size} bytes (${reason}): nothing was kept; run again`,
        );
      }
      if (chunk.done) break;
      loaded += chunk.value.byteLength;
      if (loaded > file.size) break; // more than the hub's size: refused below without writing the excess
      hash.update(chunk.value);
      await out.write(chunk.value);
      onProgress?.({ file: file.path, loaded, total: file.size });
    }
    if (loaded !== file.size) {
      throw new FffError(
        ErrorCode.HUB_INTEGRITY,
        `Downloading ${file.path} of ${id} gave ${loaded > file.size ? 'more than' : loaded} bytes where the hub lists ${file.size}: the file was refused and nothing was kept; run again (or check the mirror HF_ENDPOINT points at)`,
      );
    }
    const digest = hash.digest('hex');
    if (digest !== file.etag) {
      const kind = file.lfs ? 'sha256' : 'git sha1';
      throw new FffError(
        ErrorCode.HUB_INTEGRITY,
        `Downloading ${file.path} of ${id} gave contents whose ${kind} is ${digest} where the hub lists ${file.etag}: the file was refused and nothing was kept; run again (or check the mirror HF_ENDPOINT points at)`,
      );
    }
    await out.sync();
    await out.close();
    await fs.promises.rename(tmp, blob);
    return blob;
  } catch (err) {
    await reader?.cancel().catch(() => undefined);
    await out.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
}
