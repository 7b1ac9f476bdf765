// Seeded mutations for the fuzzer (scripts/fuzz/run.mjs): a small PRNG, byte-level mutations (flips, splices,
// truncation, boundary integers written into the bytes) and JSON-structure mutations (values replaced by
// boundary integers, huge numbers, wrong types; keys deleted; subtrees duplicated or nested). Every case is a
// pure function of (seed, target, index), so a failure is reproduced from its three numbers.

/** mulberry32: a 32-bit PRNG, enough to pick mutations. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = {
    next,
    /** Integer in [0, n). */
    int: (n) => Math.floor(next() * n),
    pick: (list) => list[Math.floor(next() * list.length)],
    chance: (p) => next() < p,
  };
  return r;
}

/** The seed of case `index` of `target` (FNV-1a over the three). */
export function caseSeed(seed, target, index) {
  let h = 0x811c9dc5;
  for (const c of `${seed}:${target}:${index}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

/** Integers at the edges of every width the code checks: signs, 2^k - 1, 2^k, safe-integer and float limits. */
export const BOUNDARY_INTS = [
  0,
  1,
  -1,
  2,
  3,
  7,
  8,
  15,
  16,
  31,
  32,
  63,
  64,
  127,
  128,
  255,
  256,
  511,
  512,
  1023,
  1024,
  4095,
  4096,
  16383,
  16384,
  16385,
  32767,
  32768,
  65535,
  65536,
  65537,
  2 ** 18,
  2 ** 18 + 1,
  2 ** 21,
  2 ** 24,
  2 ** 24 + 1,
  30522,
  30523,
  2 ** 31 - 1,
  2 ** 31,
  -(2 ** 31),
  2 ** 32 - 1,
  2 ** 32,
  2 ** 40,
  2 ** 53 - 1,
  2 ** 53,
  -(2 ** 53),
  30_000_000,
  100_000_000,
  16_777_216,
];
export const HUGE_NUMBERS = [
  1e9,
  1e12,
  1e18,
  1e300,
  -1e300,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  1.5,
  0.5,
  -0.5,
  1e-300,
  2.5e-7,
];
const STRINGS = [
  '',
  'a',
  '0',
  '-1',
  '1e9',
  'NaN',
  'null',
  'true',
  '[',
  '\u0000',
  '\ud800',
  'x'.repeat(300),
  '<mask>',
  '[MASK]',
  '##',
];
const REGEXES = [
  '(a+)+$',
  '(\\w+\\s?)*$',
  '(a|aa)*b',
  '(.*a){30}',
  '\\s+',
  '[^\\s\\w]+',
  '(',
  '[',
  '\\p{Foo}',
  '(?<=a)b',
  'a{2,}',
];

/** A value of a random kind: boundary or huge number, string, bool, null, array, object, regex pattern. */
export function randomValue(r, depth = 0) {
  switch (r.int(depth > 2 ? 6 : 9)) {
    case 0:
    case 1:
      return r.pick(BOUNDARY_INTS);
    case 2:
      return r.pick(HUGE_NUMBERS);
    case 3:
      return r.pick(STRINGS);
    case 4:
      return r.chance(0.5);
    case 5:
      return null;
    case 6:
      return Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1));
    case 7: {
      const o = {};
      for (let i = r.int(4); i > 0; i--)
        o[r.pick(['type', 'id', 'content', 'pattern', 'Regex', 'single', 'vocab', 'a'])] = randomValue(r, depth + 1);
      return o;
    }
    default:
      return { Regex: r.pick(REGEXES) };
  }
}

/** Every [container, key] of a JSON tree, breadth-first, bounded (huge vocabularies are sampled, not listed). */
function slots(root, limit = 4000) {
  const out = [];
  const queue = [root];
  while (queue.length > 0 && out.length < limit) {
    const node = queue.shift();
    const keys = Array.isArray(node) ? node.keys() : Object.keys(node);
    for (const k of keys) {
      out.push([node, k]);
      const v = node[k];
      if (v !== null && typeof v === 'object') queue.push(v);
      if (out.length >= limit) break;
    }
  }
  return out;
}

/** Applies 1-4 structure mutations to a parsed JSON value in place (pass a copy). */
export function mutateJson(r, root, focus) {
  const base = focus ?? root;
  const all = slots(base);
  if (all.length === 0) return root;
  for (let n = 1 + r.int(4); n > 0; n--) {
    const [node, key] = r.pick(all);
    const v = node[key];
    switch (r.int(9)) {
      case 0:
      case 1:
        node[key] = r.pick(BOUNDARY_INTS);
        break;
      case 2:
        node[key] = r.pick(HUGE_NUMBERS);
        break;
      case 3:
        node[key] = randomValue(r);
        break;
      case 4:
        if (Array.isArray(node)) node.splice(key, 1);
        else delete node[key];
        break;
      case 5:
        node[key] = typeof v === 'number' ? String(v) : typeof v === 'string' ? Number(v.length) : [v];
        break;
      case 6: {
        // duplicate a subtree somewhere else (shared structure, deep nesting)
        const [other, otherKey] = r.pick(all);
        node[key] = structuredClone(other[otherKey]);
        break;
      }
      case 7:
        if (typeof v === 'number') node[key] = v + r.pick([-1, 1, -2, 2]) * r.pick([1, 1, 1, 1000]);
        else node[key] = null;
        break;
      default:
        if (Array.isArray(v)) v.push(randomValue(r));
        else if (v !== null && typeof v === 'object') v[r.pick(['type', 'extra', 'id', 'pattern'])] = randomValue(r);
        else node[key] = { [r.pick(['Regex', 'String', 'SpecialToken', 'Sequence'])]: randomValue(r) };
    }
  }
  return root;
}

/** Applies 1-4 byte mutations to a copy of `bytes`; `hot` is [begin, end) where mutations concentrate (a header). */
export function mutateBytes(r, bytes, hot = [0, bytes.length]) {
  let b = Buffer.from(bytes);
  const pos = () => (r.chance(0.7) ? hot[0] + r.int(Math.max(1, hot[1] - hot[0])) : r.int(Math.max(1, b.length)));
  for (let n = 1 + r.int(4); n > 0; n--) {
    if (b.length === 0) break;
    switch (r.int(8)) {
      case 0:
        b[Math.min(pos(), b.length - 1)] ^= 1 << r.int(8);
        break;
      case 1:
        b[Math.min(pos(), b.length - 1)] = r.pick([0, 0xff, 0x7f, 0x80, 0x22, 0x5b, 0x7b, 0x2c, 0x30, 0x39, 0x2d]);
        break;
      case 2: {
        // a boundary integer written as digits (into JSON) or as a little-endian u64 (into a length)
        const p = Math.min(pos(), b.length - 1);
        const v = r.pick(BOUNDARY_INTS);
        if (r.chance(0.5)) {
          const digits = Buffer.from(String(v));
          b = Buffer.concat([b.subarray(0, p), digits, b.subarray(p + r.int(12))]);
        } else if (p + 8 <= b.length) {
          b.writeBigInt64LE(BigInt(Math.trunc(v)), p);
        }
        break;
      }
      case 3:
        b = b.subarray(0, r.int(b.length + 1));
        break;
      case 4: {
        // splice: copy a chunk over another place
        const from = r.int(b.length);
        const len = 1 + r.int(Math.min(256, b.length - from));
        b = Buffer.concat([b.subarray(0, pos()), b.subarray(from, from + len), b.subarray(pos())]);
        break;
      }
      case 5: {
        const p = pos();
        b = Buffer.concat([b.subarray(0, p), b.subarray(p + 1 + r.int(16))]);
        break;
      }
      case 6: {
        const p = pos();
        b = Buffer.concat([
          b.subarray(0, p),
          Buffer.alloc(1 + r.int(64), r.pick([0, 0x20, 0x41, 0xff])),
          b.subarray(p),
        ]);
        break;
      }
      default:
        b = Buffer.concat([b, Buffer.alloc(r.int(64), r.int(256))]);
    }
  }
  return b;
}
