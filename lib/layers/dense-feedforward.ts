/**
 * A dense BERT feedforward: y = W_out GELU(W_in x + b_in) + b_out (exact erf GELU), on the native SGEMM with
 * the bias and GELU fused into the first product. The dense baseline the FFF layer replaces.
 */
import { expectFloat32Array } from '../errors';
import { callSite, native, nativeResult } from '../native';
import type { NativeDenseFeedforward } from '../native-types';
import { Disposable } from '../util/disposable';
import { expectOptions } from '../util/options';
import { checkAsyncForwardArgs, checkForwardArgs, matrixShape } from './common';

export interface DenseFeedforwardTorchWeights {
  /** `intermediate.dense.weight` [hidden, I]. */
  inWeight: Float32Array;
  inBias?: Float32Array | null;
  /** `output.dense.weight` [O, hidden]. */
  outWeight: Float32Array;
  outBias?: Float32Array | null;
  /** Widths the flat weights cannot tell by themselves: needed only where no bias gives them. */
  inputWidth?: number;
  hiddenWidth?: number;
  outputWidth?: number;
}

export interface DenseForwardOptions {
  out?: Float32Array;
}

export class DenseFeedforward {
  readonly inputWidth: number;
  readonly hiddenWidth: number;
  readonly outputWidth: number;
  readonly #native: Disposable<NativeDenseFeedforward>;

  private constructor(i: number, h: number, o: number, handle: NativeDenseFeedforward) {
    this.inputWidth = i;
    this.hiddenWidth = h;
    this.outputWidth = o;
    this.#native = new Disposable(handle, 'DenseFeedforward');
  }

  static fromTorch(weights: DenseFeedforwardTorchWeights): DenseFeedforward {
    const w = expectOptions('weights', weights);
    const inWeight = expectFloat32Array('inWeight', w.inWeight);
    const outWeight = expectFloat32Array('outWeight', w.outWeight);
    const inBias = w.inBias == null ? null : expectFloat32Array('inBias', w.inBias);
    const outBias = w.outBias == null ? null : expectFloat32Array('outBias', w.outBias);
    const [hidden, input] = matrixShape('inWeight', inWeight, w.hiddenWidth ?? inBias?.length, w.inputWidth);
    const [output] = matrixShape('outWeight', outWeight, w.outputWidth ?? outBias?.length, hidden);
    if (inBias) expectFloat32Array('inBias', inBias, hidden);
    if (outBias) expectFloat32Array('outBias', outBias, output);
    const handle = new native.NativeDenseFeedforward(input, hidden, output, inWeight, inBias, outWeight, outBias);
    return new DenseFeedforward(input, hidden, output, handle);
  }

  async forward(x: Float32Array, rows: number, options?: DenseForwardOptions): Promise<Float32Array> {
    const handle = this.#native.handle;
    const site = callSite();
    const { rows: r, out } = checkAsyncForwardArgs(
      x,
      rows,
      this.inputWidth,
      this.outputWidth,
      expectOptions('options', options).out,
    );
    return nativeResult(handle.forward(x, r, out), site);
  }

  forwardSync(x: Float32Array, rows: number, options?: DenseForwardOptions): Float32Array {
    const handle = this.#native.handle;
    const { rows: r, out } = checkForwardArgs(
      x,
      rows,
      this.inputWidth,
      this.outputWidth,
      expectOptions('options', options).out,
    );
    handle.forwardSync(x, r, out);
    return out;
  }

  get disposed(): boolean {
    return this.#native.disposed;
  }

  dispose(): void {
    this.#native.dispose();
  }
}
