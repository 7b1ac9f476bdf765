/**
 * Batching across concurrent calls: encoder requests that arrive within `maxWaitMs` of each other (or while a
 * forward runs) share one forward of up to `maxBatchSize` rows, each caller receiving exactly the outputs its own
 * forward would have given (merge.ts). One merged forward runs at a time, so requests pile up while it runs and
 * the next batch is as large as the load makes it.
 *
 * The waiting queue is bounded (`maxQueue` requests; beyond it calls fail at once with ERR_FFF_QUEUE_FULL), an
 * AbortSignal removes a waiting request (ERR_FFF_ABORTED), and dispose() fails every waiting request with
 * ERR_FFF_DISPOSED while the running forward completes and delivers its results.
 */
import { performance } from 'node:perf_hooks';
import type { BertConfig, EncoderForwardOptions, EncoderInputs, EncoderOutputs } from '../bert/types';
import { ErrorCode, expectInteger, FffError, invalidArgument } from '../errors';
import { expectOptions } from '../util/options';
import { mergeInputs, splitOutputs } from './merge';

export interface BatchingOptions {
  /** Rows (texts) per merged forward (default 32). A single request with more rows runs alone. */
  maxBatchSize?: number;
  /** How long the oldest waiting request may wait for others while the model is idle (default 5 ms). */
  maxWaitMs?: number;
  /** Requests that may wait; beyond it calls fail at once with ERR_FFF_QUEUE_FULL (default 1024). */
  maxQueue?: number;
}

/** Counters since the batcher was created. */
export interface BatcherStats {
  /** Requests waiting, and their rows. */
  waiting: number;
  waitingRows: number;
  /** Merged forwards running (0 or 1). */
  running: number;
  /** Merged forwards started, the requests and rows they held, and their tokens with padding. */
  batches: number;
  requests: number;
  rows: number;
  paddedTokens: number;
  /** Requests refused with ERR_FFF_QUEUE_FULL, removed by their AbortSignal, failed by dispose(). */
  rejected: number;
  aborted: number;
  /** Batches by rows: `batchRows[i]` counts batches of at most BATCH_ROW_BOUNDS[i] rows (last: any more). */
  batchRows: number[];
}

export const BATCH_ROW_BOUNDS = [1, 2, 4, 8, 16, 32, 64, 128, 256, Infinity] as const;

export type EncoderRun = (inputs: EncoderInputs, options: EncoderForwardOptions) => Promise<EncoderOutputs>;

interface Request {
  inputs: EncoderInputs;
  logits: boolean | undefined;
  arrived: number;
  resolve: (out: EncoderOutputs) => void;
  reject: (err: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** The error of a call whose AbortSignal fired before it ran (name 'AbortError', cause: the signal's reason). */
export function abortError(signal: AbortSignal): FffError {
  const err = new FffError(ErrorCode.ABORTED, 'The call was aborted before it ran');
  err.name = 'AbortError';
  (err as { cause?: unknown }).cause = signal.reason;
  return err;
}

export function expectSignal(name: string, value: unknown): AbortSignal | undefined {
  if (value === undefined || value instanceof AbortSignal) return value;
  throw invalidArgument(name, 'an AbortSignal', value);
}

export function checkBatchingOptions(options: unknown): Required<BatchingOptions> {
  const o = expectOptions('options.batching', options);
  for (const key of Object.keys(o)) {
    if (!['maxBatchSize', 'maxWaitMs', 'maxQueue'].includes(key)) {
      throw invalidArgument(
        `options.batching.${key}`,
        'absent (known options: maxBatchSize, maxWaitMs, maxQueue)',
        o[key],
      );
    }
  }
  const maxWaitMs = o.maxWaitMs ?? 5;
  if (typeof maxWaitMs !== 'number' || !Number.isFinite(maxWaitMs) || maxWaitMs < 0 || maxWaitMs > 60_000) {
    throw invalidArgument('options.batching.maxWaitMs', 'a number of milliseconds in [0, 60000]', maxWaitMs);
  }
  return {
    maxBatchSize:
      o.maxBatchSize === undefined ? 32 : expectInteger('options.batching.maxBatchSize', o.maxBatchSize, 1, 65536),
    maxWaitMs,
    maxQueue: o.maxQueue === undefined ? 1024 : expectInteger('options.batching.maxQueue', o.maxQueue, 1, 2 ** 24),
  };
}

export class Batcher {
  readonly options: Readonly<Required<BatchingOptions>>;
  readonly #config: BertConfig;
  readonly #run: EncoderRun;
  readonly #padId: number;
  /** crammedBERT's avg pooler averages padding too: only rows of one length share a forward. */
  readonly #equalLengthsOnly: boolean;
  #waiting: Request[] = [];
  #running = 0;
  #timer: NodeJS.Timeout | null = null;
  #disposed = false;
  /** Moving average of whether a request found others waiting or running when it came (1 before any came). */
  #company = 1;
  /** Moving average of a merged forward's duration (ms; undefined before the first). */
  #forwardMs: number | undefined;
  readonly #stats = {
    batches: 0,
    requests: 0,
    rows: 0,
    paddedTokens: 0,
    rejected: 0,
    aborted: 0,
    batchRows: BATCH_ROW_BOUNDS.map(() => 0),
  };

  constructor(config: BertConfig, run: EncoderRun, options?: BatchingOptions) {
    this.options = Object.freeze(checkBatchingOptions(options));
    this.#config = config;
    this.#run = run;
    this.#padId = config.padTokenId ?? 0;
    this.#equalLengthsOnly = config.family === 'crammed' && config.crammedPooler?.kind === 'avg';
  }

  /** Queues a forward of already-checked inputs; resolves to exactly what `run(inputs, options)` gives. */
  submit(inputs: EncoderInputs, options: EncoderForwardOptions = {}, signal?: AbortSignal): Promise<EncoderOutputs> {
    if (this.#disposed) return Promise.reject(new FffError(ErrorCode.DISPOSED, 'This model has been disposed'));
    if (signal?.aborted) {
      this.#stats.aborted++;
      return Promise.reject(abortError(signal));
    }
    if (this.#waiting.length >= this.options.maxQueue) {
      this.#stats.rejected++;
      return Promise.reject(
        new FffError(
          ErrorCode.QUEUE_FULL,
          `The batching queue is full (${this.options.maxQueue} requests waiting); retry later`,
        ),
      );
    }
    const now = performance.now();
    this.#company = 0.75 * this.#company + 0.25 * (this.#waiting.length + this.#running > 0 ? 1 : 0);
    return new Promise<EncoderOutputs>((resolve, reject) => {
      const request: Request = { inputs, logits: options.logits, arrived: now, resolve, reject, signal };
      if (signal) {
        request.onAbort = () => {
          const i = this.#waiting.indexOf(request);
          if (i < 0) return; // already running: its result is delivered
          this.#waiting.splice(i, 1);
          this.#stats.aborted++;
          reject(abortError(signal));
        };
        signal.addEventListener('abort', request.onAbort, { once: true });
      }
      this.#waiting.push(request);
      this.#schedule();
    });
  }

  stats(): BatcherStats {
    const s = this.#stats;
    return {
      waiting: this.#waiting.length,
      waitingRows: this.#waiting.reduce((n, r) => n + r.inputs.batch, 0),
      running: this.#running,
      ...s,
      batchRows: s.batchRows.slice(),
    };
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Fails every waiting request with ERR_FFF_DISPOSED and refuses new ones; a running forward completes. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const r of waiting) {
      this.#release(r);
      r.reject(new FffError(ErrorCode.DISPOSED, 'This model was disposed while the call waited for a batch'));
    }
  }

  /**
   * Runs the next batch when the model is idle and the oldest request's group is full, has waited long enough,
   * or arrived while the previous forward ran (`afterRun`: the model never idles while requests wait). Long
   * enough is maxWaitMs, capped by the recent forward time (waiting longer than a forward takes gains nothing:
   * what arrives meanwhile runs right after it), and zero while requests lately came alone, finding nothing
   * waiting or running (one client at a time gets no added latency).
   */
  #schedule(afterRun = false): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    for (let oldest = this.#waiting[0]; this.#running === 0 && oldest !== undefined; oldest = this.#waiting[0]) {
      const batch = this.#pick(oldest);
      const rows = batch.reduce((n, r) => n + r.inputs.batch, 0);
      const waited = performance.now() - oldest.arrived;
      const wait = this.#company > 0.5 ? Math.min(this.options.maxWaitMs, this.#forwardMs ?? Infinity) : 0;
      if (!afterRun && rows < this.options.maxBatchSize && waited < wait) {
        this.#timer = setTimeout(() => this.#schedule(), wait - waited);
        return;
      }
      this.#waiting = this.#waiting.filter((r) => !batch.includes(r));
      void this.#dispatch(batch);
    }
  }

  /**
   * The oldest request (the first waiting) and the waiting requests that may share its forward (same logits option; same length
   * when padding would change a result), nearest length first to limit padding, up to maxBatchSize rows.
   */
  #pick(oldest: Request): Request[] {
    const seq = oldest.inputs.seq;
    const candidates = this.#waiting
      .slice(1)
      .filter((r) => r.logits === oldest.logits && (!this.#equalLengthsOnly || r.inputs.seq === seq))
      .sort((a, b) => Math.abs(a.inputs.seq - seq) - Math.abs(b.inputs.seq - seq) || a.arrived - b.arrived);
    const batch = [oldest];
    let rows = oldest.inputs.batch;
    for (const r of candidates) {
      if (rows + r.inputs.batch > this.options.maxBatchSize) continue;
      batch.push(r);
      rows += r.inputs.batch;
    }
    return batch;
  }

  async #dispatch(batch: Request[]): Promise<void> {
    this.#running++;
    for (const r of batch) this.#release(r);
    try {
      const [first, ...others] = batch;
      if (first === undefined) return;
      if (others.length === 0) {
        this.#count(first.inputs, 1);
        first.resolve(await this.#timed(this.#run(first.inputs, { logits: first.logits })));
        return;
      }
      const { inputs, slots } = mergeInputs(
        batch.map((r) => r.inputs),
        this.#padId,
      );
      this.#count(inputs, batch.length);
      const out = await this.#timed(this.#run(inputs, { logits: first.logits }));
      // mergeInputs returns one slot per part, in order: slots[i] is batch[i]'s.
      batch.forEach((r, i) => r.resolve(splitOutputs(out, inputs, slots[i]!, this.#config)));
    } catch (err) {
      for (const r of batch) r.reject(err);
    } finally {
      this.#running--;
      if (!this.#disposed) this.#schedule(true);
    }
  }

  async #timed<T>(forward: Promise<T>): Promise<T> {
    const start = performance.now();
    const out = await forward;
    const ms = performance.now() - start;
    this.#forwardMs = this.#forwardMs === undefined ? ms : 0.75 * this.#forwardMs + 0.25 * ms;
    return out;
  }

  #count(inputs: EncoderInputs, requests: number): void {
    const s = this.#stats;
    s.batches++;
    s.requests += requests;
    s.rows += inputs.batch;
    s.paddedTokens += inputs.batch * inputs.seq;
    const bucket = BATCH_ROW_BOUNDS.findIndex((b) => inputs.batch <= b); // the last bound is Infinity
    s.batchRows[bucket] = (s.batchRows[bucket] ?? 0) + 1;
  }

  #release(r: Request): void {
    if (r.signal && r.onAbort) r.signal.removeEventListener('abort', r.onAbort);
  }
}
