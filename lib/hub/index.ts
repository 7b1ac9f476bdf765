/**
 * loadModel's first step: an existing folder is used as it is; an `org/name` hub id becomes a snapshot folder of
 * the Hugging Face cache (./cache.ts), downloaded through @huggingface/hub when it is not there yet:
 *   1. a commit hash whose snapshot is complete: no network at all;
 *   2. offline (options.offline, HF_HUB_OFFLINE): the commit of refs/<revision> (or the hash), else an error;
 *   3. online: the revision's commit from the hub (GET /api/models/{id}/revision/{rev}); when the hub cannot be
 *      reached, a usable cached snapshot of refs/<revision> stands in, as Python does;
 *   4. the model files at that commit (POST /api/models/{id}/paths-info/{commit}: sizes, sha256 of LFS files,
 *      git oids), each one missing from the cache downloaded (GET /{id}/resolve/{commit}/{file}) and verified
 *      (./download.ts), files the repository lacks recorded in .no_exist/, then refs/<revision> written.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, FffError } from '../errors';
import {
  COMMIT_RE,
  existingBlob,
  isComplete,
  isUsable,
  linkBlob,
  MODEL_FILES,
  markAbsent,
  readRef,
  repoFolder,
  snapshotFolder,
  snapshotState,
  writeRef,
} from './cache';
import type { RemoteFile } from './download';
import { writeVerifiedBlob } from './download';
import type { FailureContext } from './http';
import { hubFailure, hubFetch, isNetworkFailure, networkReason } from './http';
import type { HubOptions, HubSettings } from './settings';
import { hubSettings, isHubId } from './settings';

export type { HubOptions, HubProgress } from './settings';
export { HUB_OPTION_KEYS, isHubId } from './settings';

/** The folder loadModel reads: `idOrDir` itself when it exists or is no hub id, else the id's cached snapshot. */
export async function resolveModelDir(idOrDir: string, options: HubOptions): Promise<string> {
  const settings = hubSettings(options);
  if (fs.existsSync(idOrDir) || !isHubId(idOrDir)) return idOrDir;
  return resolveHubModel(idOrDir, settings);
}

async function resolveHubModel(id: string, s: HubSettings): Promise<string> {
  const repoDir = repoFolder(s.cacheDir, id);
  const pinned = COMMIT_RE.test(s.revision) ? s.revision : undefined;
  const cachedCommit = pinned ?? readRef(repoDir, s.revision);
  const cached = cachedCommit === undefined ? undefined : snapshotState(repoDir, cachedCommit);
  if (pinned !== undefined && cached !== undefined && isComplete(cached)) return snapshotFolder(repoDir, pinned);
  if (s.offline) {
    if (cachedCommit !== undefined && cached !== undefined && isUsable(cached))
      return snapshotFolder(repoDir, cachedCommit);
    if (
      cachedCommit !== undefined &&
      fs.existsSync(path.join(snapshotFolder(repoDir, cachedCommit), 'pytorch_model.bin'))
    ) {
      throw noSafetensors(
        id,
        cachedCommit,
        'its cached snapshot has only pytorch_model.bin, which fffbert does not read because unpickling a PyTorch file can run arbitrary code',
      );
    }
    throw new FffError(
      ErrorCode.HUB_NOT_CACHED,
      `Model ${id} (revision ${s.revision}) is not in the cache ${s.cacheDir} and offline mode is on (options.offline or HF_HUB_OFFLINE): ` +
        'load it once with network access, or copy a cache that holds it (Python fills the same one) and point HF_HUB_CACHE or options.cacheDir at it',
    );
  }

  checkEndpoint(s.endpoint);
  const http = hubFetch(s);
  const context: FailureContext = { id, revision: s.revision, settings: s, http };
  const hub = await import('@huggingface/hub');
  let commit: string;
  try {
    const info = await hub.modelInfo({
      name: id,
      revision: s.revision,
      additionalFields: ['sha'],
      hubUrl: s.endpoint,
      fetch: http.fetch,
    });
    commit = String(info.sha);
  } catch (err) {
    if (!isNetworkFailure(err)) throw hubFailure(err, context);
    if (cachedCommit !== undefined && cached !== undefined && isUsable(cached))
      return snapshotFolder(repoDir, cachedCommit);
    throw new FffError(
      ErrorCode.HUB_UNREACHABLE,
      `Cannot reach ${s.endpoint} to download ${id} (${networkReason(err)}) and the cache ${s.cacheDir} does not hold it: ` +
        'check the connection or proxy, use a mirror (HF_ENDPOINT), or copy the model into the cache of this machine and set HF_HUB_OFFLINE=1',
    );
  }
  if (!COMMIT_RE.test(commit))
    throw new FffError(
      ErrorCode.HUB_DOWNLOAD_FAILED,
      `${s.endpoint} answered an invalid commit hash for ${id} (revision ${s.revision})`,
    );

  if (!isComplete(snapshotState(repoDir, commit))) {
    try {
      await downloadSnapshot(hub, id, commit, repoDir, s, http);
    } catch (err) {
      if (isNetworkFailure(err))
        throw new FffError(
          ErrorCode.HUB_DOWNLOAD_FAILED,
          `Downloading ${id} from ${s.endpoint} failed (${networkReason(err)}): nothing partial was kept; run again`,
        );
      throw cacheFailure(err, id, s) ?? hubFailure(err, context);
    }
  }
  try {
    writeRef(repoDir, s.revision, commit);
  } catch (err) {
    throw cacheFailure(err, id, s) ?? err;
  }
  return snapshotFolder(repoDir, commit);
}

function checkEndpoint(endpoint: string): void {
  let ok = false;
  try {
    ok = ['http:', 'https:'].includes(new URL(endpoint).protocol);
  } catch {
    // not a URL
  }
  if (!ok)
    throw new FffError(
      ErrorCode.INVALID_ARGUMENT,
      `Expected HF_ENDPOINT to be an http(s) URL such as https://huggingface.co but received "${endpoint}"`,
    );
}

/** A file system error writing the cache (not writable, full, a file where a folder should be), or undefined. */
function cacheFailure(err: unknown, id: string, s: HubSettings): FffError | undefined {
  const e = err as NodeJS.ErrnoException;
  if (typeof e.code !== 'string' || typeof e.syscall !== 'string') return undefined;
  return new FffError(
    ErrorCode.HUB_DOWNLOAD_FAILED,
    `Cannot write ${id} into the Hugging Face cache ${s.cacheDir} (${e.code} on ${e.syscall}): give a writable folder (options.cacheDir, HF_HUB_CACHE or HF_HOME)`,
  );
}

type HubModule = typeof import('@huggingface/hub');

function noSafetensors(id: string, commit: string, why: string): FffError {
  return new FffError(
    ErrorCode.HUB_NO_SAFETENSORS,
    `Model ${id} (revision ${commit}) cannot be loaded: ${why}. Convert the weights to a single model.safetensors ` +
      "(safetensors' convert script, or save_pretrained(safe_serialization=True)) in a repository or folder of your own",
  );
}

/** What paths-info says about the model files at `commit`, checked before any of it names a file in the cache. */
async function listModelFiles(
  hub: HubModule,
  id: string,
  commit: string,
  s: HubSettings,
  fetchFn: typeof fetch,
): Promise<Map<string, RemoteFile>> {
  const asked: string[] = [...MODEL_FILES, 'pytorch_model.bin', 'model.safetensors.index.json'];
  const infos = await hub.pathsInfo({
    repo: { type: 'model', name: id },
    paths: asked,
    revision: commit,
    hubUrl: s.endpoint,
    fetch: fetchFn,
  });
  const files = new Map<string, RemoteFile>();
  for (const info of infos) {
    if (!asked.includes(info.path) || info.type !== 'file') continue;
    const size = info.lfs?.size ?? info.size;
    const etag = info.lfs?.oid ?? info.oid;
    const valid =
      Number.isSafeInteger(size) &&
      size >= 0 &&
      typeof etag === 'string' &&
      (info.lfs ? /^[0-9a-f]{64}$/ : /^[0-9a-f]{40}$/).test(etag);
    if (!valid)
      throw new FffError(
        ErrorCode.HUB_DOWNLOAD_FAILED,
        `${s.endpoint} described ${info.path} of ${id} without a valid size and hash`,
      );
    files.set(info.path, { path: info.path, size, etag: etag as string, lfs: info.lfs !== undefined });
  }
  if (!files.has('model.safetensors')) {
    const why = files.has('model.safetensors.index.json')
      ? 'its checkpoint is sharded (model.safetensors.index.json), which fffbert does not read yet'
      : files.has('pytorch_model.bin')
        ? 'it has only pytorch_model.bin, which fffbert does not read because unpickling a PyTorch file can run arbitrary code'
        : 'it has no model.safetensors';
    throw noSafetensors(id, commit, why);
  }
  if (!files.has('config.json') && !files.has('model_config.json')) {
    throw new FffError(
      ErrorCode.FILE_NOT_FOUND,
      `Model ${id} (revision ${commit}) has no config.json or model_config.json: it is not a model folder fffbert can read`,
    );
  }
  return files;
}

async function downloadSnapshot(
  hub: HubModule,
  id: string,
  commit: string,
  repoDir: string,
  s: HubSettings,
  http: ReturnType<typeof hubFetch>,
): Promise<void> {
  const files = await listModelFiles(hub, id, commit, s, http.fetch);
  const state = snapshotState(repoDir, commit);
  for (const name of MODEL_FILES) {
    const file = files.get(name);
    if (file === undefined) {
      markAbsent(repoDir, commit, name);
      continue;
    }
    if (state.present.has(name)) continue;
    let blob = existingBlob(repoDir, file.etag, file.size);
    if (blob === undefined) {
      const remote = await hub.downloadFile({
        repo: { type: 'model', name: id },
        path: name,
        revision: commit,
        hubUrl: s.endpoint,
        fetch: http.fetch,
        xet: false,
      });
      if (remote === null)
        throw new FffError(
          ErrorCode.HUB_DOWNLOAD_FAILED,
          `${s.endpoint} listed ${name} of ${id} at ${commit} but does not serve it: run again later`,
        );
      blob = await writeVerifiedBlob(id, file, () => remote.stream(), repoDir, s.onProgress);
    }
    linkBlob(repoDir, commit, name, blob);
  }
}
