/**
 * The options of a load by hub id and the environment variables they default to, read as Python's
 * huggingface_hub reads them (huggingface_hub/constants.py), so both share one cache and one configuration:
 *   HF_HUB_CACHE (or HUGGINGFACE_HUB_CACHE), else $HF_HOME/hub, HF_HOME defaulting to $XDG_CACHE_HOME/huggingface
 *   or ~/.cache/huggingface; HF_ENDPOINT (default https://huggingface.co); HF_TOKEN (or HUGGING_FACE_HUB_TOKEN),
 *   else the token file ($HF_TOKEN_PATH or $HF_HOME/token); HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) true for
 *   1/ON/YES/TRUE; HF_HUB_DOWNLOAD_TIMEOUT (seconds without a byte before a request is given up, default 10).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode, FffError, invalidArgument } from '../errors';

export interface HubProgress {
  /** File of the repository being downloaded (e.g. model.safetensors). */
  file: string;
  /** Bytes received so far and the file's size. */
  loaded: number;
  total: number;
}

export interface HubOptions {
  /** Branch, tag or commit hash of a hub id (default "main"). A commit hash, once cached, never touches the network. */
  revision?: string;
  /** The hub cache folder (default: HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub). */
  cacheDir?: string;
  /** Use only the cache, never the network (default: HF_HUB_OFFLINE). */
  offline?: boolean;
  /** Access token for gated or private repositories (default: HF_TOKEN, else the token file of `huggingface-cli login`). */
  token?: string;
  /** Called as a file downloads (at most once per received chunk). */
  onProgress?: (progress: HubProgress) => void;
}

export const HUB_OPTION_KEYS = ['revision', 'cacheDir', 'offline', 'token', 'onProgress'] as const;

export interface HubSettings {
  revision: string;
  cacheDir: string;
  endpoint: string;
  token: string | undefined;
  offline: boolean;
  /** Milliseconds without a received byte before a request is aborted. */
  idleTimeoutMs: number;
  onProgress: ((progress: HubProgress) => void) | undefined;
}

/** The value of an environment variable, or undefined when unset or empty (Python's `os.getenv(x) or default`). */
function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** Python's os.path.expanduser for a leading `~`. */
function expandUser(p: string): string {
  return p === '~' || p.startsWith('~/') || p.startsWith(`~${path.sep}`) ? path.join(os.homedir(), p.slice(1)) : p;
}

/** huggingface_hub's `_is_true`. */
export function envIsTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(value.toUpperCase());
}

export function hfHome(): string {
  return expandUser(
    env('HF_HOME') ?? path.join(env('XDG_CACHE_HOME') ?? path.join(os.homedir(), '.cache'), 'huggingface'),
  );
}

export function defaultCacheDir(): string {
  return expandUser(env('HF_HUB_CACHE') ?? env('HUGGINGFACE_HUB_CACHE') ?? path.join(hfHome(), 'hub'));
}

function defaultToken(): string | undefined {
  const fromEnv = env('HF_TOKEN') ?? env('HUGGING_FACE_HUB_TOKEN');
  if (fromEnv !== undefined) return fromEnv.trim();
  try {
    const t = fs.readFileSync(expandUser(env('HF_TOKEN_PATH') ?? path.join(hfHome(), 'token')), 'utf8').trim();
    return t === '' ? undefined : t;
  } catch {
    return undefined;
  }
}

/** Checks the hub options of loadModel and completes them from the environment. */
export function hubSettings(o: HubOptions): HubSettings {
  if (o.revision !== undefined) {
    const r = o.revision;
    // A revision names refs/<revision> in the cache (branches may hold '/'): nothing that leaves that folder.
    if (
      typeof r !== 'string' ||
      r === '' ||
      r.length > 256 ||
      r.startsWith('/') ||
      r.includes('\\') ||
      r.split('/').some((s) => s === '' || s === '.' || s === '..')
    ) {
      throw invalidArgument('options.revision', 'a branch, tag or commit hash', r);
    }
  }
  if (o.cacheDir !== undefined && (typeof o.cacheDir !== 'string' || o.cacheDir === ''))
    throw invalidArgument('options.cacheDir', 'a folder path', o.cacheDir);
  if (o.offline !== undefined && typeof o.offline !== 'boolean')
    throw invalidArgument('options.offline', 'a boolean', o.offline);
  if (o.token !== undefined && (typeof o.token !== 'string' || o.token.trim() === '' || /[\r\n]/.test(o.token))) {
    // not invalidArgument: the message would quote the token
    throw new FffError(
      ErrorCode.INVALID_ARGUMENT,
      `Expected options.token to be an access token (a non-empty string on one line) but received ${typeof o.token}`,
    );
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function')
    throw invalidArgument('options.onProgress', 'a function', o.onProgress);
  const timeout = Number(env('HF_HUB_DOWNLOAD_TIMEOUT') ?? 10);
  return {
    revision: o.revision ?? 'main',
    cacheDir: path.resolve(expandUser(o.cacheDir ?? defaultCacheDir())),
    endpoint: (env('HF_ENDPOINT') ?? 'https://huggingface.co').replace(/\/+$/, ''),
    token: o.token ?? defaultToken(),
    offline: o.offline ?? envIsTrue(env('HF_HUB_OFFLINE') ?? env('TRANSFORMERS_OFFLINE')),
    idleTimeoutMs: Number.isFinite(timeout) && timeout > 0 ? timeout * 1000 : 10_000,
    onProgress: o.onProgress,
  };
}

/** A hub model id: `org/name` (Python's validate_repo_id rules: word characters, '-', '.', no '--' or '..'). */
export function isHubId(s: string): boolean {
  return (
    /^[\w][\w.-]{0,95}\/[\w][\w.-]{0,95}$/.test(s) && !s.includes('--') && !s.includes('..') && !/[.-]$|[.-]\//.test(s)
  );
}
