/**
 * The fetch handed to @huggingface/hub: adds the token (to the hub's own origin only: a redirect to a CDN never
 * carries it), aborts a request when no byte arrives for the idle timeout (a stalled server never hangs a load),
 * and remembers the hub's X-Error-Code of the last failed response, which the client's HubApiError drops.
 * Then the translation of what the client throws into FffErrors that name the id and what to do.
 */
import { ErrorCode, FffError } from '../errors';
import type { HubSettings } from './settings';

class IdleTimeout extends Error {
  constructor(ms: number) {
    super(`no data for ${ms / 1000} s (HF_HUB_DOWNLOAD_TIMEOUT)`);
    this.name = 'TimeoutError';
  }
}

export interface HubFetch {
  fetch: typeof fetch;
  /** X-Error-Code and status of the last response that was not ok. */
  lastFailure: { status: number; errorCode: string | null } | undefined;
}

export function hubFetch(s: HubSettings): HubFetch {
  const origin = new URL(s.endpoint).origin;
  const state: HubFetch = {
    lastFailure: undefined,
    fetch: async (input, init) => {
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      const controller = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => controller.abort(new IdleTimeout(s.idleTimeoutMs)), s.idleTimeoutMs).unref();
      };
      const headers = new Headers(init?.headers);
      if (s.token !== undefined && new URL(url).origin === origin) headers.set('Authorization', `Bearer ${s.token}`);
      arm();
      let res: Response;
      try {
        res = await fetch(url, { ...init, headers, signal: controller.signal });
      } catch (err) {
        clearTimeout(timer);
        throw err;
      }
      if (!res.ok) state.lastFailure = { status: res.status, errorCode: res.headers.get('x-error-code') };
      if (res.body === null) {
        clearTimeout(timer);
        return res;
      }
      const body = res.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, c) {
            arm();
            c.enqueue(chunk);
          },
          flush() {
            clearTimeout(timer);
          },
        }),
      );
      const wrapped = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
      Object.defineProperty(wrapped, 'url', { value: res.url });
      return wrapped;
    },
  };
  return state;
}

/** A failure to talk to the hub at all (connection refused, DNS, timeout, a 5xx): the cache may stand in. */
export function isNetworkFailure(err: unknown): boolean {
  if (err instanceof FffError) return false;
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number') return status >= 500 || status === 429;
  const name = (err as { name?: unknown }).name;
  // undici's fetch rejects with TypeError('fetch failed', { cause }) when it cannot connect
  return (
    (err instanceof TypeError && (err as { cause?: unknown }).cause !== undefined) ||
    name === 'AbortError' ||
    name === 'TimeoutError'
  );
}

/** The reason of a network failure, as short as it can be said. */
export function networkReason(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string }; statusCode?: number };
  if (typeof e.statusCode === 'number') return `HTTP ${e.statusCode}`;
  if (e.cause?.code !== undefined) return e.cause.code;
  return e.cause?.message ?? e.message ?? String(err);
}

export interface FailureContext {
  id: string;
  revision: string;
  settings: HubSettings;
  http: HubFetch;
}

const tokenHint = 'pass a token with access (options.token, HF_TOKEN, or `huggingface-cli login`)';

/** Translates an error of a hub call (not a network failure) into the FffError that names the id and the way out. */
export function hubFailure(err: unknown, c: FailureContext): FffError {
  if (err instanceof FffError) return err;
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status !== 'number')
    return new FffError(
      ErrorCode.HUB_DOWNLOAD_FAILED,
      `Downloading ${c.id} from ${c.settings.endpoint} failed: ${(err as Error).message ?? String(err)}`,
    );
  const code = c.http.lastFailure?.status === status ? c.http.lastFailure.errorCode : null;
  const where = `${c.settings.endpoint}/${c.id}`;
  if (code === 'RevisionNotFound') {
    return new FffError(
      ErrorCode.HUB_REVISION_NOT_FOUND,
      `Revision "${c.revision}" of ${c.id} not found on ${c.settings.endpoint}: give an existing branch, tag or commit hash (see ${where}/tree/main)`,
    );
  }
  if (code === 'GatedRepo' || status === 403 || (status === 401 && code !== 'RepoNotFound')) {
    const has = c.settings.token === undefined ? 'no token was given' : 'the token given has no access to it';
    return new FffError(
      ErrorCode.HUB_ACCESS_DENIED,
      `${c.id} is gated or private and ${has} (HTTP ${status}): accept its conditions at ${where} and ${tokenHint}`,
    );
  }
  if (status === 404 || status === 401) {
    const token = c.settings.token === undefined ? `; if it is private, ${tokenHint}` : '';
    return new FffError(
      ErrorCode.HUB_REPO_NOT_FOUND,
      `Model ${c.id} not found on ${c.settings.endpoint} (and no folder of that name exists): check the id${token}`,
    );
  }
  return new FffError(
    ErrorCode.HUB_DOWNLOAD_FAILED,
    `Downloading ${c.id} from ${c.settings.endpoint} failed with HTTP ${status}: ${(err as Error).message}`,
  );
}
