/** A dense Linear layer (PyTorch `nn.Linear`: y = x W^T + b) on the native packed SGEMM. */
import { expectFloat32Array } from '../errors';
import { callSite, native, nativeResult } from '../native';
import type { NativeActivation, NativeLinear } from '../native-types';
import { alignedFloat32Array } from '../runtime';
import { Disposable } from '../util/disposable';
import { expectOneOf, expectOptions } from '../util/options';
import { checkAsyncForwardArgs, matrixShape } from './common';

export interface LinearTorchWeights {
  /** `weight`, PyTorch layout [outFeatures, inFeatures]. */
  weight: Float32Array;
  bias?: Float32Array | null;
  /** The flat weight's shape: give inFeatures or outFeatures, unless the bias already tells outFeatures. */
  inFeatures?: number;
  outFeatures?: number;
}

export type Activation = NativeActivation;

export interface LinearForwardOptions {
  /** Applied after the bias: exact (erf) GELU or tanh. */
  activation?: Activation;
  /** Added after the activation: [rows * outFeatures]. */
  residual?: Float32Array;
  out?: Float32Array;
}

export class Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly #native: Disposable<NativeLinear>;

  private constructor(inFeatures: number, outFeatures: number, handle: NativeLinear) {
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.#native = new Disposable(handle, 'Linear');
  }

  static fromTorch(weights: LinearTorchWeights): Linear {
    const w = expectOptions('weights', weights);
    const weight = expectFloat32Array('weight', w.weight);
    const bias = w.bias === undefined || w.bias === null ? null : expectFloat32Array('bias', w.bias);
    const [outFeatures, inFeatures] = matrixShape('weight', weight, w.outFeatures ?? bias?.length, w.inFeatures);
    if (bias) expectFloat32Array('bias', bias, outFeatures);
    return new Linear(inFeatures, outFeatures, new native.NativeLinear(outFeatures, inFeatures, weight, bias));
  }

  /** `out` may be `x` itself (also in forwardSync): the result is computed apart, then stored. */
  async forward(x: Float32Array, rows: number, options?: LinearForwardOptions): Promise<Float32Array> {
    const site = callSite();
    const a = this.#prepare(x, rows, options);
    return nativeResult(a.handle.forward(x, a.rows, a.out, a.act, a.residual), site);
  }

  forwardSync(x: Float32Array, rows: number, options?: LinearForwardOptions): Float32Array {
    const a = this.#prepare(x, rows, options);
    const out = a.out ?? alignedFloat32Array(a.rows * this.outFeatures);
    a.handle.forwardSync(x, a.rows, out, a.act, a.residual);
    return out;
  }

  get disposed(): boolean {
    return this.#native.disposed;
  }

  dispose(): void {
    this.#native.dispose();
  }

  #prepare(x: Float32Array, rows: number, options: LinearForwardOptions | undefined) {
    const handle = this.#native.handle;
    const o = expectOptions('options', options);
    const { rows: r, out } = checkAsyncForwardArgs(x, rows, this.inFeatures, this.outFeatures, o.out);
    const act = expectOneOf('activation', o.activation, native.enumNames.activation, 'none');
    const residual = o.residual === undefined ? null : expectFloat32Array('residual', o.residual, r * this.outFeatures);
    return { handle, rows: r, out, act, residual };
  }
}
