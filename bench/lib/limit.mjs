// The FFF layer's limit on the machine the benchmark runs on: a roofline from probes measured here, briefly,
// with our own kernels (native fffProbe): the dot and gather rates with rows in L1, and the read bandwidth of
// the gather kernel at the L2 working set and at the call's working set (wherever it lives: L3 or DRAM). Model
// per token of a 1x11 layer (I = O = 768, D = 11, row bytes r = 768 x element size), for the batched walk as
// native/src/fff.cpp runs it (forward_planned: every lower row read by one thread once per call):
//   compute: 12 dots / dot rate + 12 rows / gather rate (over the threads in use)
//   L2:      x once per dot (12 x 768 x its element size) + the rows of the levels whose rows stay in L2 (those
//            with (2^L - 1) x 2r <= half the L2), each read once per batch
//   memory:  the rows of the other levels, each node reached by the batch read once (d_l = 2^l (1 - (1 -
//            2^-l)^N) distinct nodes at level l for N tokens routed at random), plus x (read twice from N =
//            PLAN_MIN_ROWS tokens on: once for the top levels, once for its subtree) and y (written: its
//            store and the read for ownership, or the store alone where the layer writes y past the caches,
//            native fffStreamsOutput), at the bandwidth of where the call's working set (its distinct
//            rows, x and y) lives: L2 when it fits in half the L2s of the threads (one token repeated: its 24
//            rows), else the read probe at that working set (L3, or DRAM when it does not fit there). With
//            streamed input (bench/layer.mjs --inputs stream, the default) each call's tokens are new, so its
//            rows below the L2 levels were last read calls ago: they come from where the whole layer and the
//            input stream live (the read probe at the layer's bytes + the stream's x + y; L3 or DRAM), and a
//            single token's rows never count as L2-resident
//   limit = max(compute, L2, memory): the walk overlaps the three at best.
import { readFileSync } from 'node:fs';
import { STREAM_TOKENS } from './layer-data.mjs';

/** L1d / L2 / L3 sizes in bytes from Linux sysfs (cpu0); nulls where unknown. */
export function cacheSizes() {
  const out = { l1d: null, l2: null, l3: null };
  for (let i = 0; i < 8; i++) {
    try {
      const dir = `/sys/devices/system/cpu/cpu0/cache/index${i}`;
      const level = Number(readFileSync(`${dir}/level`, 'utf8'));
      const type = readFileSync(`${dir}/type`, 'utf8').trim();
      const m = /^(\d+)([KMG]?)/.exec(readFileSync(`${dir}/size`, 'utf8').trim());
      if (!m) continue;
      const bytes = Number(m[1]) * { '': 1, K: 1024, M: 2 ** 20, G: 2 ** 30 }[m[2]];
      if (level === 1 && type !== 'Instruction') out.l1d = bytes;
      if (level === 2) out.l2 = bytes;
      if (level === 3) out.l3 = bytes;
    } catch {
      break;
    }
  }
  return out;
}

const ELEMENT = { f32: 4, bf16: 2, 'bf16-dot': 2 };
/** fff.cpp kPlanMinRows: from this many tokens on the batched walk reads x twice (top levels, then subtree). */
export const PLAN_MIN_ROWS = 256;

/** Distinct nodes at level l reached by `tokens` tokens routed at random. */
const distinct = (l, tokens) => 2 ** l * (1 - (1 - 2 ** -l) ** tokens);

/** Bytes of the distinct rows (W_in and W_out) one call of `tokens` tokens reads. */
function rowBytes(dtype, tokens, width, depth) {
  let rows = 0;
  for (let l = 0; l <= depth; l++) rows += distinct(l, tokens);
  return rows * 2 * width * ELEMENT[dtype];
}

/** Whether those rows fit in half the L2s of the threads that can take part. */
const rowsFitL2 = (dtype, tokens, l2Bytes, threads, width = 768, depth = 11) =>
  rowBytes(dtype, tokens, width, depth) <= (l2Bytes / 2) * Math.min(threads, Math.max(1, tokens));

/** Bytes one call of `tokens` tokens touches: its distinct rows, x and y (fp32). */
export const workingSetBytes = (dtype, tokens, { width = 768, depth = 11 } = {}) =>
  rowBytes(dtype, tokens, width, depth) + tokens * 2 * width * 4;

/** Bytes of a 1x11 layer's packed weights (rows padded to 64 bytes; 768 is a multiple). */
export function layerBytes(dtype, width = 768, depth = 11) {
  return (2 ** (depth + 1) - 1) * (2 * width * ELEMENT[dtype] + 4);
}

/** Bytes a stream of calls of `tokens` tokens cycles through: the layer, the stream's x and the call's y. */
export const streamBytes = (dtype, tokens, { width = 768, depth = 11 } = {}) =>
  layerBytes(dtype, width, depth) + (STREAM_TOKENS + tokens) * width * 4;

/**
 * The probes, in the process that calls it (setThreads first): best of `tries` short runs each (a roofline is a
 * peak; other work on the machine only lowers a rate). Rates are over all the pool's threads.
 */
export function measureProbes(
  native,
  { dtypes, l2Bytes, threads, tokens = [], inputs = 'stream', ms = 30, tries = 5 },
) {
  const best = (kind, dtype, bytes) =>
    Math.max(...Array.from({ length: tries }, () => native.fffProbe(kind, dtype, bytes, ms)));
  const probes = { threads, l2Bytes, dtypes: {} };
  // Per thread: half the L2 (the rows that stay there), and the layer's weights split over the threads.
  probes.readL2 = best('read', 'f32', Math.floor(l2Bytes / 2));
  for (const d of dtypes) {
    probes.dtypes[d] = {
      dot: best('dot', d, 0),
      gather: best('gather', d, 0),
      readLayer: best('read', 'f32', Math.ceil(layerBytes(d) / threads)),
      // Per token count whose working set outgrows the L2s: the read bandwidth at that working set.
      readAt: Object.fromEntries(
        tokens
          .filter((t) => !rowsFitL2(d, t, l2Bytes, threads))
          .map((t) => [t, best('read', 'f32', Math.min(2 ** 32, Math.ceil(workingSetBytes(d, t) / threads)))]),
      ),
      // Per token count: whether the layer writes such a call's y past the caches here (no read for ownership).
      streamsY: Object.fromEntries(
        tokens.map((t) => [t, native.fffStreamsOutput?.(layerBytes(d), t, 768, 768, threads) ?? false]),
      ),
      // Per token count, streamed input only: the read bandwidth over what the stream cycles through.
      readStream: Object.fromEntries(
        (inputs === 'stream' ? tokens : []).map((t) => [
          t,
          best('read', 'f32', Math.min(2 ** 32, Math.ceil(streamBytes(d, t) / threads))),
        ]),
      ),
    };
  }
  return probes;
}

/**
 * The model above for `tokens` tokens of dtype; { us, bound, computeUs, l2Us, memUs } per token. inputs:
 * 'repeat' (one x every call) or 'stream' (new tokens every call).
 */
export function fffLimit(probes, dtype, tokens, { width = 768, depth = 11, inputs = 'repeat' } = {}) {
  const p = probes.dtypes[dtype];
  if (!p) return null;
  const e = ELEMENT[dtype];
  const row = width * e;
  const levels = depth + 1;
  // One token cannot use more than one thread: its rates are a thread's share.
  const share = Math.min(1, Math.max(1, tokens) / probes.threads);
  const computeUs = (levels / (p.dot * share) + levels / (p.gather * share)) * 1e6;
  let inL2 = 0;
  while (inL2 < levels && (2 ** (inL2 + 1) - 1) * 2 * row <= probes.l2Bytes / 2) inL2++;
  let l2Bytes = levels * width * (dtype === 'bf16-dot' ? 2 : 4);
  // x read once or twice, y written and read for ownership (written alone where the layer streams it).
  let memBytes = (tokens >= PLAN_MIN_ROWS ? 2 : 1) * width * 4 + (p.streamsY?.[tokens] ? 1 : 2) * width * 4;
  for (let l = 0; l < levels; l++) {
    const b = (distinct(l, tokens) * 2 * row) / tokens;
    if (l < inL2) l2Bytes += b;
    else memBytes += b;
  }
  const workingSet = workingSetBytes(dtype, tokens, { width, depth });
  const stream = inputs === 'stream';
  const memFromL2 = !stream && rowsFitL2(dtype, tokens, probes.l2Bytes, probes.threads, width, depth);
  const l2Us = (l2Bytes / (probes.readL2 * share)) * 1e6;
  const atCall = p.readAt?.[tokens] ?? p.readLayer;
  const memRate = memFromL2 ? probes.readL2 : stream ? Math.min(atCall, p.readStream?.[tokens] ?? atCall) : atCall;
  const memUs = (memBytes / (memRate * share)) * 1e6;
  const us = Math.max(computeUs, l2Us, memUs);
  const bound = us === computeUs ? 'compute' : us === l2Us ? 'L2' : 'memory';
  return {
    us,
    bound,
    computeUs,
    l2Us,
    memUs,
    levelsInL2: inL2,
    memBytesPerToken: memBytes,
    workingSet,
    memFromL2,
    inputs,
  };
}
