/**
 * fffbert: UltraFastBERT's Fast Feedforward layers, and the BERT models around them, at native SIMD speed.
 */
export { FastFeedforward } from './layers/fast-feedforward';
export type { FastFeedforwardTorchWeights, FffForwardOptions, FffStrategy } from './layers/fast-feedforward';
export { Linear } from './layers/linear';
export type { Activation, LinearForwardOptions, LinearTorchWeights } from './layers/linear';
export { DenseFeedforward } from './layers/dense-feedforward';
export type { DenseFeedforwardTorchWeights, DenseForwardOptions } from './layers/dense-feedforward';
export { isa, setIsa, setThreads, threads, ISA_NAMES } from './runtime';
export type { IsaName } from './runtime';
export { ErrorCode, FffError } from './errors';
export { nativeOrigin } from './native';
