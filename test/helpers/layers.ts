/** Pieces the layer test files share: building an FFF from reference weights, and restoring the runtime. */
import { afterAll } from 'vitest';
import { FastFeedforward, isa, setIsa, setThreads, threads } from '../../lib/index';
import type { FffWeights } from './reference';

export function buildFff(w: FffWeights, weights?: 'f32' | 'bf16'): FastFeedforward {
  return FastFeedforward.fromTorch({
    inputWidth: w.I,
    outputWidth: w.O,
    depth: w.D,
    trees: w.K,
    linearInWeight: w.wIn,
    linearInBias: w.bIn,
    linearOutWeight: w.wOut,
    ...(weights === undefined ? {} : { weights }),
  });
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
