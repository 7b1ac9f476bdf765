// The FFF layer's limit on the machine the benchmark runs on: a roofline from probes measured here, briefly,
// with our own kernels (native fffProbe): the dot and gather rates with rows in L1, and the read bandwidth of
// the gather kernel at the L2 working set and at the layer's working set (wherever its weights live: L3 or
// DRAM). Model per token of a 1x11 layer (I = O = 768, D = 11, row bytes r = 768 x element size):
//   compute: 12 dots / dot rate + 12 rows / gather rate (over the threads in use)
//   L2:      x once per dot (12 x 768 x its element size) + the rows of the levels whose rows stay in L2 (those
//            with (2^L - 1) x 2r <= half the L2), each read once per batch
//   memory:  the rows of the other levels, each node reached by the batch read once (d_l = 2^l (1 - (1 -
//            2^-l)^N) distinct nodes at level l for N tokens routed at random), plus x and y once, at the
//            bandwidth of where the call's working set (all its distinct rows) lives: L2 when it fits in half
//            the L2s of the threads (one token repeated: its 24 rows), else the layer-sized probe (L3 / DRAM)
//   limit = max(compute, L2, memory): the walk overlaps the three at best.
import { readFileSync } from 'node:fs';

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

/** Bytes of a 1x11 layer's packed weights (rows padded to 64 bytes; 768 is a multiple). */
export function layerBytes(dtype, width = 768, depth = 11) {
  return (2 ** (depth + 1) - 1) * (2 * width * ELEMENT[dtype] + 4);
}

/**
 * The probes, in the process that calls it (setThreads first): best of `tries` short runs each (a roofline is a
 * peak; other work on the machine only lowers a rate). Rates are over all the pool's threads.
 */
export function measureProbes(native, { dtypes, l2Bytes, threads, ms = 30, tries = 5 }) {
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
    };
  }
  return probes;
}

/** The model above for `tokens` tokens of dtype; { us, bound, computeUs, l2Us, memUs } per token. */
export function fffLimit(probes, dtype, tokens, { width = 768, depth = 11 } = {}) {
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
  const distinct = (l) => 2 ** l * (1 - (1 - 2 ** -l) ** tokens);
  let l2Bytes = levels * width * (dtype === 'bf16-dot' ? 2 : 4);
  let memBytes = 2 * width * 4;
  for (let l = 0; l < levels; l++) {
    const b = (distinct(l) * 2 * row) / tokens;
    if (l < inL2) l2Bytes += b;
    else memBytes += b;
  }
  let workingSet = 0;
  for (let l = 0; l < levels; l++) workingSet += distinct(l) * 2 * row;
  const memFromL2 = workingSet <= (probes.l2Bytes / 2) * Math.min(probes.threads, Math.max(1, tokens));
  const l2Us = (l2Bytes / (probes.readL2 * share)) * 1e6;
  const memUs = (memBytes / ((memFromL2 ? probes.readL2 : p.readLayer) * share)) * 1e6;
  const us = Math.max(computeUs, l2Us, memUs);
  const bound = us === computeUs ? 'compute' : us === l2Us ? 'L2' : 'memory';
  return { us, bound, computeUs, l2Us, memUs, levelsInL2: inL2, memBytesPerToken: memBytes, workingSet, memFromL2 };
}
