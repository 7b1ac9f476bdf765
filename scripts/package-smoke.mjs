// Smoke test of an *installed* fffbert package (used by scripts/check-package.sh and the CI install jobs).
// Copy it into a folder whose node_modules holds fffbert and run it there:
//   node package-smoke.mjs --expect prebuilt|source
// Checks that require('fffbert') and import('fffbert') both load, that the binary came from where it should,
// and that a small FastFeedforward gives the results of docs/FFF-SPEC.md section 1 computed here in float64, on every
// instruction set this CPU supports. Prints "ok - ..." / "not ok - ..." lines and ends with "N passed, N failed".
import { createRequire } from 'node:module';
import * as path from 'node:path';

const expectIdx = process.argv.indexOf('--expect');
const expected = expectIdx > 0 ? process.argv[expectIdx + 1] : 'prebuilt';
const require = createRequire(path.join(process.cwd(), 'package.json'));
let passed = 0;
let failed = 0;

/** Runs one check (sync or async) and prints its line. */
async function check(name, fn) {
  try {
    const detail = await fn();
    passed++;
    console.log(`ok - ${name}${detail ? `: ${detail}` : ''}`);
  } catch (err) {
    failed++;
    console.log(`not ok - ${name}: ${err?.stack || err}`.split('\n').slice(0, 8).join('\n    '));
  }
}
function assert(cond, message) {
  if (!cond) throw new Error(message);
}

// --- docs/FFF-SPEC.md section 1 in float64 ---------------------------------------------------------------------------
// erf to ~1e-15: Maclaurin series for |x| < 3, continued fraction of erfc beyond (there erfc < 2.3e-5).
function erf(x) {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 80; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))) (Lentz, evaluated backwards)
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}
const gelu = (l) => 0.5 * l * (1 + erf(l / Math.SQRT2));

/** y[rows*O] and the smallest |logit| met on the visited paths (the routing margin). */
function fffReference(w, x, rows) {
  const nNodes = 2 ** (w.D + 1) - 1;
  const y = new Float64Array(rows * w.O);
  let margin = Infinity;
  for (let t = 0; t < rows; t++) {
    for (let k = 0; k < w.K; k++) {
      let n = 0;
      for (let level = 0; level <= w.D; level++) {
        const r = k * nNodes + n;
        let l = w.bIn[r];
        for (let i = 0; i < w.I; i++) l += w.wIn[r * w.I + i] * x[t * w.I + i];
        const g = gelu(l);
        for (let o = 0; o < w.O; o++) y[t * w.O + o] += g * w.wOut[o * (w.K * nNodes) + r];
        margin = Math.min(margin, Math.abs(l));
        n = 2 * n + 1 + (l > 0 ? 1 : 0);
      }
    }
  }
  return { y, margin };
}

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function randomArray(next, n, scale) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (next() * 2 - 1) * scale;
  return a;
}

// Awkward sizes (not multiples of any vector width), two trees, three levels below the root. The input is
// redrawn until every visited logit is at least 0.02 from 0, so no rounding difference can flip a path.
function makeCase() {
  const w = { I: 37, O: 19, D: 3, K: 2 };
  const nodes = w.K * (2 ** (w.D + 1) - 1);
  const next = rng(20240611);
  w.wIn = randomArray(next, nodes * w.I, 0.5);
  w.bIn = randomArray(next, nodes, 0.1);
  w.wOut = randomArray(next, w.O * nodes, 0.5);
  const rows = 9;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const x = randomArray(next, rows * w.I, 1);
    const ref = fffReference(w, x, rows);
    if (ref.margin >= 0.02) return { w, x, rows, ref: ref.y };
  }
  throw new Error('no input with a routing margin of 0.02 found');
}

/**
 * The largest error of y against the float64 reference, relative to the largest |reference| of the same token
 * (outputs are sums of 8 signed terms, so one output can cancel to ~0 while the float32 rounding stays that of
 * its terms). float32 dot products of length 37 and sums of 8 terms round at ~1e-6 of that scale; 1e-5 leaves
 * room for any summation order or FMA, and still catches a wrong node, a missing term, or the tanh GELU (~1e-4).
 */
function tokenRelativeError(y, c) {
  assert(
    y instanceof Float32Array && y.length === c.rows * c.w.O,
    `output length ${y?.length}, expected ${c.rows * c.w.O}`,
  );
  let worst = 0;
  for (let t = 0; t < c.rows; t++) {
    let scale = 0;
    for (let o = 0; o < c.w.O; o++) scale = Math.max(scale, Math.abs(c.ref[t * c.w.O + o]));
    for (let o = 0; o < c.w.O; o++) {
      const i = t * c.w.O + o;
      const err = Math.abs(y[i] - c.ref[i]) / scale;
      assert(!Number.isNaN(err), `token ${t} output ${o} is ${y[i]}, reference ${c.ref[i]}`);
      worst = Math.max(worst, err);
    }
  }
  assert(worst <= 1e-5, `error ${worst} (relative to each token's largest output) against the float64 reference`);
  return worst;
}

/** The case's layer, built through the installed package. */
function makeLayer(c) {
  return cjs.FastFeedforward.fromTorch({
    inputWidth: c.w.I,
    outputWidth: c.w.O,
    depth: c.w.D,
    trees: c.w.K,
    linearInWeight: c.w.wIn,
    linearInBias: c.w.bIn,
    linearOutWeight: c.w.wOut,
  });
}

function compareToReference(layer, c, strategy) {
  return tokenRelativeError(layer.forwardSync(c.x, c.rows, { strategy }), c);
}

// --- the checks ------------------------------------------------------------------------------------------------
/** @type {any} */
let cjs;
await check('require("fffbert") loads', () => {
  cjs = require('fffbert');
  assert(typeof cjs.FastFeedforward === 'function', 'FastFeedforward is not exported');
  return `from ${path.dirname(require.resolve('fffbert'))}`;
});
await check(`require("fffbert") loaded the ${expected} binary`, () => {
  assert(cjs, 'not loaded');
  const pkgRoot = path.dirname(require.resolve('fffbert/package.json'));
  const found = require('pkg-prebuilds').resolve(
    pkgRoot,
    require(path.join(pkgRoot, 'binding-options.js')),
    false,
    false,
  );
  assert(cjs.nativeOrigin === expected, `nativeOrigin is ${cjs.nativeOrigin}, binary ${found}`);
  return path.relative(pkgRoot, found);
});
await check(`import("fffbert") loads the ${expected} binary`, async () => {
  const esm = await import('fffbert');
  assert(typeof esm.FastFeedforward === 'function', 'FastFeedforward is not exported to ESM');
  assert(esm.nativeOrigin === expected, `nativeOrigin is ${esm.nativeOrigin}`);
  return `isa ${JSON.stringify(esm.isa())}`;
});

const c = makeCase();
const isas = cjs ? cjs.isa().supported : [];
for (const isa of isas) {
  for (const strategy of ['per-token', 'batched']) {
    await check(
      `FastFeedforward (I=37 O=19 D=3 K=2, 9 rows) matches docs/FFF-SPEC.md section 1 on ${isa}, ${strategy}`,
      () => {
        cjs.setIsa(isa);
        const layer = makeLayer(c);
        try {
          return `error ${compareToReference(layer, c, strategy).toExponential(2)} of each token's scale`;
        } finally {
          layer.dispose();
        }
      },
    );
  }
}
await check('FastFeedforward.forward (async, thread pool) matches docs/FFF-SPEC.md section 1', async () => {
  assert(cjs, 'not loaded');
  cjs.setIsa(cjs.isa().best);
  const layer = makeLayer(c);
  const y = await layer.forward(c.x, c.rows);
  layer.dispose();
  return `error ${tokenRelativeError(y, c).toExponential(2)} of each token's scale`;
});

console.log(`${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
