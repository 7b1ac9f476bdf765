/** Small numeric helpers of the pipelines, accumulating in float64. */

/** softmax(x[offset .. offset+n)) in float64 (max subtracted first). */
export function softmax(x: Float32Array, offset = 0, n = x.length - offset): Float64Array {
  const xs = x.subarray(offset, offset + n);
  let max = -Infinity;
  for (const v of xs) max = Math.max(max, v);
  const out = Float64Array.from(xs, (v) => Math.exp(v - max));
  let sum = 0;
  for (const e of out) sum += e;
  return out.map((e) => e / sum);
}

/** Indices of the k largest values, largest first (ties: lower index first). */
export function topK(values: ArrayLike<number>, k: number): number[] {
  return topKEntries(values, k).map((b) => b.index);
}

/** The k largest values and their indices, largest first (ties: lower index first). */
export function topKEntries(values: ArrayLike<number>, k: number): Array<{ index: number; value: number }> {
  const best: Array<{ index: number; value: number }> = []; // largest first
  Array.from(values).forEach((value, index) => {
    const last = best[k - 1]; // present once k values are held
    if (last !== undefined && value <= last.value) return;
    // Where the value enters: the end while fewer than k are held, else in place of the smallest.
    let j = best.length < k ? best.push({ index, value }) - 1 : k - 1;
    for (let prev = best[j - 1]; prev !== undefined && prev.value < value; prev = best[j - 1]) {
      best[j] = prev;
      j--;
    }
    best[j] = { index, value };
  });
  return best;
}

/** Divides v by its L2 norm in place (a zero vector stays zero). */
export function l2Normalize(v: Float32Array): Float32Array {
  let sq = 0;
  for (const x of v) sq += x * x;
  const norm = Math.sqrt(sq);
  if (norm > 0) {
    v.forEach((x, i) => {
      v[i] = x / norm;
    });
  }
  return v;
}
