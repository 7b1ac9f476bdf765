/**
 * What GET /metrics reports: per-route request counts and latency percentiles, the event-loop delay, and the
 * batcher's queue and batch sizes. Counts are cumulative; percentiles cover a window that each read of
 * /metrics closes (the first window starts when the server is created), so a load test reads once before
 * and once after its run.
 */

import type { IntervalHistogram } from 'node:perf_hooks';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { BatcherStats } from '../batching/batcher';

export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface RouteMetrics {
  /** Replies since start, and those with a 4xx / 5xx status. */
  requests: number;
  clientErrors: number;
  serverErrors: number;
  /** Milliseconds from request to reply over the window. */
  latencyMs: Percentiles;
}

export interface ServerMetrics {
  uptimeSeconds: number;
  /** Seconds covered by the windowed figures (latencyMs, eventLoopDelayMs). */
  windowSeconds: number;
  inFlight: number;
  routes: Record<string, RouteMetrics>;
  /** Event-loop delay over the window: how late a 10 ms timer fired. */
  eventLoopDelayMs: Omit<Percentiles, 'count'>;
  /** The model's batcher (queue depth, batches, rows, batch sizes), or null when batching is off. */
  batching: BatcherStats | null;
  rssBytes: number;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
}

function summarize(values: number[]): Percentiles {
  const sorted = values.slice().sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? 0),
  };
}

const RESOLUTION_MS = 10;

/** Latencies kept per window at most (a newer one replaces a random older one beyond it: reservoir sampling). */
const WINDOW_SAMPLES = 100_000;

class RouteRecorder {
  requests = 0;
  clientErrors = 0;
  serverErrors = 0;
  seen = 0;
  samples: number[] = [];

  add(ms: number, status: number): void {
    this.requests++;
    if (status >= 500) this.serverErrors++;
    else if (status >= 400) this.clientErrors++;
    this.seen++;
    if (this.samples.length < WINDOW_SAMPLES) this.samples.push(ms);
    else {
      const i = Math.floor(Math.random() * this.seen);
      if (i < WINDOW_SAMPLES) this.samples[i] = ms;
    }
  }
}

export class MetricsRecorder {
  readonly #start = performance.now();
  #windowStart = performance.now();
  readonly #routes = new Map<string, RouteRecorder>();
  readonly #loop: IntervalHistogram;
  inFlight = 0;

  constructor() {
    this.#loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.#loop.enable();
  }

  record(route: string, ms: number, status: number): void {
    let r = this.#routes.get(route);
    if (r === undefined) this.#routes.set(route, (r = new RouteRecorder()));
    r.add(ms, status);
  }

  /** The figures, closing the current window. */
  read(batching: BatcherStats | null): ServerMetrics {
    const now = performance.now();
    const routes: Record<string, RouteMetrics> = {};
    for (const [name, r] of this.#routes) {
      routes[name] = {
        requests: r.requests,
        clientErrors: r.clientErrors,
        serverErrors: r.serverErrors,
        latencyMs: summarize(r.samples),
      };
      r.samples = [];
      r.seen = 0;
    }
    // The histogram holds the intervals between 10 ms timer ticks: the delay is what exceeds 10 ms.
    const ns = (x: number) => Math.max(0, Math.round(x / 1000 - RESOLUTION_MS * 1000) / 1000); // ns -> ms, 3 decimals
    const loop =
      this.#loop.count > 0
        ? {
            p50: ns(this.#loop.percentile(50)),
            p90: ns(this.#loop.percentile(90)),
            p99: ns(this.#loop.percentile(99)),
            max: ns(this.#loop.max),
          }
        : { p50: 0, p90: 0, p99: 0, max: 0 };
    this.#loop.reset();
    const metrics: ServerMetrics = {
      uptimeSeconds: Math.round(now - this.#start) / 1000,
      windowSeconds: Math.round(now - this.#windowStart) / 1000,
      inFlight: this.inFlight,
      routes,
      eventLoopDelayMs: loop,
      batching,
      rssBytes: process.memoryUsage.rss(),
    };
    this.#windowStart = now;
    return metrics;
  }

  close(): void {
    this.#loop.disable();
  }
}
