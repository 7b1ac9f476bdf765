/** A native handle's owner, for every object that wraps one (the layers, the encoder). */
import { ErrorCode, FffError } from '../errors';

/** Owner of a native object that can be disposed once; later use throws ERR_FFF_DISPOSED. */
export class Disposable<T extends { dispose(): void }> {
  #handle: T | null;
  readonly #what: string;
  constructor(handle: T, what: string) {
    this.#handle = handle;
    this.#what = what;
  }
  get handle(): T {
    if (this.#handle === null) throw new FffError(ErrorCode.DISPOSED, `This ${this.#what} has been disposed`);
    return this.#handle;
  }
  get disposed(): boolean {
    return this.#handle === null;
  }
  /** Frees the native weights; idempotent. A forward already running keeps them until it completes. */
  dispose(): void {
    this.#handle?.dispose();
    this.#handle = null;
  }
}
