// Smoke test of an *installed* fffbert package (used by scripts/check-package.sh and the CI install jobs).
// Copy it, with lib/fff-reference.mjs into lib/ beside it, into a folder whose node_modules holds fffbert and
// run it there:
//   node package-smoke.mjs --expect prebuilt|source
// Checks that require('fffbert') and import('fffbert') both load, that the binary came from where it should,
// and that a small FastFeedforward gives the results of docs/FFF-SPEC.md section 1 computed here in float64, on every
// instruction set this CPU supports. Prints "ok - ..." / "not ok - ..." lines and ends with "N passed, N failed".
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fffReference, randomArray, rng } from './lib/fff-reference.mjs';

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

// Awkward sizes (not multiples of any vector width), two trees, three levels below the root. The input is
// redrawn until every visited logit is at least 0.02 from 0, so no rounding difference can flip a path.
function makeCase() {
  const [I, O, D, K] = [37, 19, 3, 2];
  const nodes = K * (2 ** (D + 1) - 1);
  const next = rng(20240611);
  // Drawn in this order: wIn, bIn, wOut.
  const w = {
    I,
    O,
    D,
    K,
    wIn: randomArray(nodes * I, 0.5, next),
    bIn: randomArray(nodes, 0.1, next),
    wOut: randomArray(O * nodes, 0.5, next),
  };
  const rows = 9;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const x = randomArray(rows * w.I, 1, next);
    const tokens = Array.from({ length: rows }, (_, t) => fffReference(w, x, t));
    if (tokens.every((t) => t.margin >= 0.02)) {
      const ref = new Float64Array(rows * w.O);
      tokens.forEach((t, i) => ref.set(t.y, i * w.O));
      return { w, x, rows, ref };
    }
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
