/** Pieces the layer test files share: building an FFF from reference weights, and restoring the runtime. */
import { afterAll, expect } from 'vitest';
import { FastFeedforward, isa, setIsa, setThreads, threads } from '../../lib/index';
import type { FffWeightDtype } from '../../lib/layers/fast-feedforward';
import { type FffWeights, firstBitDifference } from './reference';

/** FastFeedforward.fromTorch's options for reference weights (PyTorch layout), as a plain object to spread. */
export function fffOptions(w: FffWeights) {
  return {
    inputWidth: w.I,
    outputWidth: w.O,
    depth: w.D,
    trees: w.K,
    linearInWeight: w.wIn,
    linearInBias: w.bIn,
    linearOutWeight: w.wOut,
  };
}

export function buildFff(w: FffWeights, weights?: FffWeightDtype): FastFeedforward {
  return FastFeedforward.fromTorch({ ...fffOptions(w), ...(weights === undefined ? {} : { weights }) });
}

/**
 * Every strategy at 1, 2 and 3 threads, sync and async, gives bitwise the single-threaded per-token result (at
 * the active ISA). Leaves the thread count at `restoreThreads`.
 */
export async function expectStrategiesAndThreadsBitwise(
  layer: FastFeedforward,
  x: Float32Array,
  rows: number,
  restoreThreads: number,
  label = '',
): Promise<void> {
  setThreads(1);
  const base = layer.forwardSync(x, rows, { strategy: 'per-token' });
  for (const n of [1, 2, 3]) {
    setThreads(n);
    for (const strategy of ['per-token', 'batched', 'auto'] as const) {
      expect(
        firstBitDifference(layer.forwardSync(x, rows, { strategy }), base),
        `${label}sync ${strategy} threads=${n}`,
      ).toBe(-1);
      expect(
        firstBitDifference(await layer.forward(x, rows, { strategy }), base),
        `${label}async ${strategy} threads=${n}`,
      ).toBe(-1);
    }
  }
  setThreads(restoreThreads);
}

/** The ISA and thread count at load; put back after the file's tests (they are process-wide settings). */
export function restoreRuntimeAfterAll(): { initialIsa: ReturnType<typeof isa>['active']; initialThreads: number } {
  const initial = { initialIsa: isa().active, initialThreads: threads() };
  afterAll(() => {
    setIsa(initial.initialIsa);
    setThreads(initial.initialThreads);
  });
  return initial;
}
