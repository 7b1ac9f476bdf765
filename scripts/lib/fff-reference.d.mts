// Types of fff-reference.mjs for the TypeScript tests (test/helpers/reference.ts).

/** An FFF layer in PyTorch layouts. */
export interface FffWeights {
  I: number;
  O: number;
  /** Levels below the root. */
  D: number;
  K: number;
  /** [K*n_nodes, I] */
  wIn: Float32Array;
  /** [K*n_nodes] */
  bIn: Float32Array;
  /** [O, K*n_nodes] */
  wOut: Float32Array;
}

export function erf(x: number): number;
export function gelu(x: number): number;
export function rng(seed: number): () => number;
export function randomArray(n: number, scale: number, next: () => number): Float32Array;
export function fffReference(
  w: FffWeights,
  x: Float32Array,
  row: number,
): { y: Float64Array; path: number[]; margin: number };
