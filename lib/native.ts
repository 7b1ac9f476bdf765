/**
 * Finds and loads the native addon: the prebuilt binary for this platform when the package ships one
 * (prebuilds/, via pkg-prebuilds), else the one built from source by cmake-js (build/Release). When neither
 * loads, the error lists what was tried and what to do.
 */
import * as path from 'node:path';
import { ErrorCode, FffError } from './errors';
import type { NativeAddon } from './native-types';

const root = path.resolve(__dirname, '..');

function load(): NativeAddon {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const loadBinding = require('pkg-prebuilds') as (
    base: string,
    options: object,
  ) => NativeAddon & { resolve?: unknown };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const options = require(path.join(root, 'binding-options.js')) as object;
  try {
    return loadBinding(root, options);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new FffError(
      ErrorCode.NATIVE_LOAD,
      [
        `fffbert could not load its native addon for ${process.platform}-${process.arch} (Node ${process.version}, N-API ${process.versions.napi}).`,
        reason,
        'Possible solutions:',
        '- Prebuilt binaries exist for linux-x64 and linux-arm64 (glibc 2.29+, or musl on Alpine), darwin-x64 and',
        '  darwin-arm64 (macOS 11+), win32-x64. Elsewhere, or when a prebuilt binary was found but failed to load',
        '  (e.g. "GLIBC_2.29 not found" on an older system), build from source.',
        '- Build from source (needs CMake >= 3.15 and a C++17 compiler: g++/clang++, Xcode Command Line Tools, or',
        '  Visual Studio Build Tools): npm rebuild fffbert --build-from-source',
        '- If the install ran with --ignore-scripts, run the install step now: npm rebuild fffbert',
      ].join('\n'),
    );
  }
}

export const native: NativeAddon = load();
// Errors the addon throws or rejects with are FffErrors from here on (instanceof works, `code` is stable).
native.setErrorClass(FffError);

/** The stack of the code calling the function that calls this: taken when a native async call starts. */
export function callSite(): { stack?: string } {
  const site: { stack?: string } = {};
  Error.captureStackTrace(site, callSite);
  return site;
}

/**
 * Awaits a native async call. A rejection is an FffError carrying the stack of `site` (the JavaScript stack of
 * the call that started the work: the completion itself runs with none).
 */
export async function nativeResult<T>(promise: Promise<T>, site: { stack?: string }): Promise<T> {
  try {
    return await promise;
  } catch (err) {
    throw withStack(err, site.stack);
  }
}

function withStack(err: unknown, stack: string | undefined): unknown {
  if (!(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  const e =
    err instanceof FffError || typeof code !== 'string' || !code.startsWith('ERR_FFF_')
      ? err
      : new FffError(code as ErrorCode, err.message);
  if (stack !== undefined) e.stack = `${e.name}: ${e.message}\n${stack.split('\n').slice(1).join('\n')}`;
  return e;
}

/** Where the loaded binary came from: 'prebuilt' or 'source'. */
export const nativeOrigin: 'prebuilt' | 'source' = (() => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const resolve = (
    require('pkg-prebuilds') as { resolve: (b: string, o: object, v: boolean, t: boolean) => string | null }
  ).resolve;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const found = resolve(root, require(path.join(root, 'binding-options.js')) as object, false, false);
  return found?.includes(`${path.sep}prebuilds${path.sep}`) ? 'prebuilt' : 'source';
})();
