// onnxruntime-node, resolved from bench/node_modules (bench's own dependency, not the main package's).
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { benchDir } from './paths.mjs';

export function loadOrt() {
  return createRequire(path.join(benchDir, 'package.json'))('onnxruntime-node');
}

/** ORT with the best settings it offers here: all graph optimisations, `threads` intra-op, sequential. */
export function ortSession(ort, model, threads, extra = {}) {
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    ...extra,
  });
}
