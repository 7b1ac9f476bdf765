// onnxruntime-node, resolved from bench/node_modules (bench's own dependency, not the main package's) or, for
// the installed package, from the current folder (setup.mjs ortRequire).
import { ortRequire } from './setup.mjs';

export function loadOrt() {
  const req = ortRequire();
  if (!req) throw new Error('onnxruntime-node not found');
  return req('onnxruntime-node');
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
