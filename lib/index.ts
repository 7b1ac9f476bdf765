/**
 * fffbert: UltraFastBERT's Fast Feedforward layers, and the BERT models around them, at native SIMD speed.
 */

export type { BatcherStats, BatchingOptions } from './batching/batcher';
export { Batcher } from './batching/batcher';
export { parseConfig } from './bert/config';
export type { CreateEncoderOptions, DenseDtype, EncoderProfile, NativeEncoder } from './bert/encoder';
export { createEncoder } from './bert/encoder';
export type {
  BertConfig,
  EncoderForwardOptions,
  EncoderInputs,
  EncoderOutputs,
} from './bert/types';
export { ErrorCode, FffError } from './errors';
export type { TensorData, TensorWithData } from './formats/safetensors';
export { SafetensorsFile } from './formats/safetensors';
export type { TensorDtype, TensorInfo, TensorSource } from './formats/tensors';
export type { HubOptions, HubProgress } from './hub';
export type { DenseFeedforwardTorchWeights, DenseForwardOptions } from './layers/dense-feedforward';
export { DenseFeedforward } from './layers/dense-feedforward';
export type { FastFeedforwardTorchWeights, FffForwardOptions, FffStrategy } from './layers/fast-feedforward';
export { FastFeedforward } from './layers/fast-feedforward';
export type { Activation, LinearForwardOptions, LinearTorchWeights } from './layers/linear';
export { Linear } from './layers/linear';
export type { LoadModelOptions, LoadStats, ModelForwardOptions } from './model';
export { loadModel, Model } from './model';
export type { ForwardInputs, IdMatrix } from './model-inputs';
export { nativeOrigin } from './native';
export type { ClassifyResult } from './pipelines/classify';
export type { EmbedOptions, Pooling } from './pipelines/embed';
export type { FillMaskCandidate, FillMaskOptions } from './pipelines/fill-mask';
export type { BatchOptions } from './pipelines/host';
export type { IsaName } from './runtime';
export { alignedFloat32Array, DATA_ALIGNMENT, ISA_NAMES, isa, setIsa, setThreads, threads } from './runtime';
export type { Percentiles, RouteMetrics, ServerMetrics } from './server/metrics';
export type { FffServer, FffServerState, ServerOptions } from './server/server';
export { createServer, HttpErrorCode } from './server/server';
export type { Encoding, TokenizedBatch, TokenizerInput, TokenizerOptions } from './tokenizer';
export { BertTokenizer } from './tokenizer';
