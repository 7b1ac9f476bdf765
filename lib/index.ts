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
export { loadModel, Model } from './model';
export type { LoadModelOptions, LoadStats, ModelForwardOptions } from './model';
export type { HubOptions, HubProgress } from './hub';
export type { ForwardInputs, IdMatrix } from './model-inputs';
export type { BertConfig, EncoderOutputs, TensorInfo, TensorSource, TensorDtype } from './bert/types';
export type { DenseDtype } from './bert/encoder';
export { parseConfig } from './bert/config';
export { BertTokenizer } from './tokenizer';
export type { Encoding, TokenizedBatch, TokenizerInput, TokenizerOptions } from './tokenizer';
export { SafetensorsFile } from './formats/safetensors';
export type { TensorData, TensorWithData } from './formats/safetensors';
export type { EmbedOptions, Pooling } from './pipelines/embed';
export type { FillMaskCandidate, FillMaskOptions } from './pipelines/fill-mask';
export type { ClassifyResult } from './pipelines/classify';
export type { BatchOptions } from './pipelines/host';
export { Batcher } from './batching/batcher';
export type { BatchingOptions, BatcherStats } from './batching/batcher';
export { createServer, HttpErrorCode } from './server/server';
export type { FffServer, FffServerState, ServerOptions } from './server/server';
export type { ServerMetrics, RouteMetrics, Percentiles } from './server/metrics';
