/**
 * A Fast Feedforward layer (UltraFastBERT's FFF, docs/FFF-SPEC.md section 1) on the native conditional kernels.
 *
 * Each token walks K trees of depth D: at node r it computes l = W_in[r]·x + b_in[r], adds GELU(l)·W_out[:, r]
 * to the output and goes right when l > 0 (l == 0 and NaN go left). Weights are packed once at construction.
 */
import { ErrorCode, expectFloat32Array, expectInteger, FffError, invalidArgument } from '../errors';
import { FFF_MAX_DEPTH } from '../limits';
import { callSite, native, nativeResult } from '../native';
import type { NativeFastFeedforward, NativeStrategy, NativeWeightDtype } from '../native-types';
import { alignedFloat32Array } from '../runtime';
import { Disposable } from '../util/disposable';
import { expectOneOf, expectOptions } from '../util/options';
import { checkAsyncForwardArgs } from './common';

export interface FastFeedforwardTorchWeights {
  /** I */
  inputWidth: number;
  /** O */
  outputWidth: number;
  /** D: levels below the root (a token visits D + 1 nodes per tree). */
  depth: number;
  /** K: parallel trees. */
  trees: number;
  /** `linear_in.weight`, PyTorch layout [K * n_nodes, I], n_nodes = 2^(D+1) - 1. */
  linearInWeight: Float32Array;
  /** `linear_in.bias` [K * n_nodes]. */
  linearInBias: Float32Array;
  /** `linear_out.weight`, PyTorch layout [O, K * n_nodes] (no bias). */
  linearOutWeight: Float32Array;
  /**
   * How the packed weights are stored (default 'f32'). 'bf16' rounds `linear_in.weight` and `linear_out.weight`
   * to bfloat16 (nearest even, 8 significant bits): half the memory and memory traffic; the bias, activations,
   * arithmetic and outputs stay float32. Outputs move by the rounding (about 3e-3 of ||y|| on random 1x11
   * weights), and a token whose logit is within it of 0 may take another path. 'bf16-dot' stores the same bf16
   * weights and also rounds x to bf16 for the W_in dots, as the CPU's bf16 dot products (AVX512_BF16, Arm BF16)
   * compute: faster where they exist (elsewhere the same numbers come from widening), at a little more error
   * (the product of two roundings: about 3.3e-3 of ||y|| on random 1x11 weights, 0.7% of paths flipped).
   */
  weights?: FffWeightDtype;
}

/** Storage of the packed FFF weights. */
export type FffWeightDtype = NativeWeightDtype;

/**
 * 'auto' walks per token below 16 rows and otherwise takes whichever walk this layer has timed faster for calls of
 * that size and thread count; 'per-token' walks each token alone; 'batched' walks depth first, tokens grouped by
 * node. All three give the same outputs, bitwise.
 */
export type FffStrategy = NativeStrategy;

export interface FffForwardOptions {
  strategy?: FffStrategy;
  /** Write into this array ([rows * O]) instead of a new one. */
  out?: Float32Array;
}

export class FastFeedforward {
  readonly inputWidth: number;
  readonly outputWidth: number;
  readonly depth: number;
  readonly trees: number;
  /** Nodes per tree: 2^(D+1) - 1. */
  readonly nodesPerTree: number;
  /** How the packed weights are stored ('f32', 'bf16' or 'bf16-dot'). */
  readonly weightDtype: FffWeightDtype;
  readonly #native: Disposable<NativeFastFeedforward>;

  private constructor(
    shape: { inputWidth: number; outputWidth: number; depth: number; trees: number },
    handle: NativeFastFeedforward,
  ) {
    this.inputWidth = shape.inputWidth;
    this.outputWidth = shape.outputWidth;
    this.depth = shape.depth;
    this.trees = shape.trees;
    this.nodesPerTree = 2 ** (shape.depth + 1) - 1;
    this.weightDtype = handle.weightDtype();
    this.#native = new Disposable(handle, 'FastFeedforward');
  }

  /** Builds the layer from PyTorch-layout weights (copied and packed; the arrays can be reused afterwards). */
  static fromTorch(weights: FastFeedforwardTorchWeights): FastFeedforward {
    const w = expectOptions('weights', weights);
    if (weights === undefined) throw invalidArgument('weights', 'an object', weights);
    const inputWidth = expectInteger('inputWidth', w.inputWidth, 1, 2 ** 31);
    const outputWidth = expectInteger('outputWidth', w.outputWidth, 1, 2 ** 31);
    const depth = expectInteger('depth', w.depth, 0, FFF_MAX_DEPTH);
    const trees = expectInteger('trees', w.trees, 1, 65536);
    const nodes = trees * (2 ** (depth + 1) - 1);
    if (nodes * Math.max(inputWidth, outputWidth) > 2 ** 40) {
      throw new FffError(
        ErrorCode.INVALID_SHAPE,
        `An FFF layer of ${nodes} nodes x ${Math.max(inputWidth, outputWidth)} is too large`,
      );
    }
    const linearInWeight = expectFloat32Array('linearInWeight', w.linearInWeight, nodes * inputWidth);
    const linearInBias = expectFloat32Array('linearInBias', w.linearInBias, nodes);
    const linearOutWeight = expectFloat32Array('linearOutWeight', w.linearOutWeight, outputWidth * nodes);
    const dtype = expectOneOf('weights', w.weights, native.enumNames.fffWeights, 'f32');
    const handle = new native.NativeFastFeedforward(
      inputWidth,
      outputWidth,
      depth,
      trees,
      linearInWeight,
      linearInBias,
      linearOutWeight,
      dtype,
    );
    return new FastFeedforward({ inputWidth, outputWidth, depth, trees }, handle);
  }

  /** x: [rows * I] row-major -> [rows * O]. Runs on the addon's thread pool, off the JavaScript thread. */
  async forward(x: Float32Array, rows: number, options?: FffForwardOptions): Promise<Float32Array> {
    const site = callSite();
    const { handle, out, strategy, r } = this.#prepare(x, rows, options);
    return nativeResult(handle.forward(x, r, out, null, strategy), site);
  }

  /** Same as forward(), on the calling thread. */
  forwardSync(x: Float32Array, rows: number, options?: FffForwardOptions): Float32Array {
    const p = this.#prepare(x, rows, options);
    const out = p.out ?? alignedFloat32Array(p.r * this.outputWidth);
    // 'auto' (the default) as no argument: the addon then reads no string (~20 ns of a one-token call).
    if (p.strategy === 'auto') p.handle.forwardSync(x, p.r, out);
    else p.handle.forwardSync(x, p.r, out, null, p.strategy);
    return out;
  }

  /** The visited nodes: Int32Array [rows * K * (D+1)], node index within its tree (0-based) at each level. */
  paths(x: Float32Array, rows: number): Int32Array {
    const { handle, strategy, r } = this.#prepare(x, rows, undefined);
    const out = new Float32Array(r * this.outputWidth);
    const paths = new Int32Array(r * this.trees * (this.depth + 1));
    handle.forwardSync(x, r, out, paths, strategy);
    return paths;
  }

  /** Bytes of packed weights held natively. */
  get weightBytes(): number {
    return this.#native.handle.weightBytes();
  }

  get disposed(): boolean {
    return this.#native.disposed;
  }

  /** Frees the native weights. Later calls throw ERR_FFF_DISPOSED; a forward already running completes. */
  dispose(): void {
    this.#native.dispose();
  }

  /** out: the caller's, else null (forward: the addon allocates it; forwardSync allocates it here). */
  #prepare(x: Float32Array, rows: number, options: FffForwardOptions | undefined) {
    const handle = this.#native.handle;
    const o = expectOptions('options', options);
    const { rows: r, out } = checkAsyncForwardArgs(x, rows, this.inputWidth, this.outputWidth, o.out);
    const strategy = expectOneOf('strategy', o.strategy, native.enumNames.fffStrategy, 'auto');
    return { handle, out, strategy, r };
  }
}
