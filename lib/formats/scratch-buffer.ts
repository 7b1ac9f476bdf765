/**
 * A reusable buffer for one tensor at a time. Where the runtime has resizable ArrayBuffers (Node >= 20), it
 * shrinks as well as grows, and V8 returns the pages of a shrunk buffer to the OS (measured: 100 MB filled,
 * resized to 1 MB -> RSS down by 99 MB): after a checkpoint's large embedding matrix, loading holds a buffer
 * the size of the layer tensors, not the embedding's. It shrinks only when more than 4x too large and keeps
 * at least KEEP_BYTES, since every regrowth costs page faults (resizing to each tensor exactly made loading
 * the 1x11-long checkpoint 0.8 s slower). Elsewhere it only grows.
 */
interface ResizableArrayBuffer extends ArrayBuffer {
  resize(byteLength: number): void;
}

/** Smallest size a shrink goes down to: holds a 1x11 FFF matrix (4095 x 768 x 4 B = 12.6 MB). */
const KEEP_BYTES = 16 * 1024 * 1024;

const resizable = typeof (ArrayBuffer.prototype as Partial<ResizableArrayBuffer>).resize === 'function';

export class ScratchBuffer {
  readonly #max: number;
  #buffer: ArrayBuffer | null = null;

  /** `maxBytes`: the largest size ever requested (address space reserved, not memory). */
  constructor(maxBytes: number) {
    this.#max = Math.max(8, maxBytes);
  }

  /** An ArrayBuffer of at least `bytes`; views of earlier calls may be invalidated. */
  get(bytes: number): ArrayBuffer {
    if (bytes > this.#max)
      throw new RangeError(`scratch request of ${bytes} bytes exceeds its maximum of ${this.#max}`);
    if (resizable) {
      if (this.#buffer === null) {
        const Ctor = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ResizableArrayBuffer;
        this.#buffer = new Ctor(bytes, { maxByteLength: this.#max });
      } else {
        const keep = Math.max(bytes, KEEP_BYTES);
        const size = this.#buffer.byteLength;
        if (bytes > size) (this.#buffer as ResizableArrayBuffer).resize(bytes);
        else if (size > 4 * keep) (this.#buffer as ResizableArrayBuffer).resize(keep);
      }
      return this.#buffer;
    }
    if (this.#buffer === null || this.#buffer.byteLength < bytes) this.#buffer = new ArrayBuffer(bytes);
    return this.#buffer;
  }

  /** Returns the memory (at once where resizable, else at the next garbage collection). */
  release(): void {
    if (resizable && this.#buffer !== null) (this.#buffer as ResizableArrayBuffer).resize(0);
    this.#buffer = null;
  }
}
