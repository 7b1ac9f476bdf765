/**
 * The FFF layer from JavaScript: every instruction set against the scalar oracle and against a float64
 * reference of docs/FFF-SPEC.md section 1, strategies, threads, sync/async, the tie rule, NaN, and bad input.
 *
 * Routing is discontinuous: where two implementations disagree on a path, the test requires the float64
 * logit of the node where they part to be within rounding noise of 0, and reports how many tokens flipped.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  FastFeedforward,
  type FffStrategy,
  ISA_NAMES,
  type IsaName,
  isa,
  setIsa,
  setThreads,
  threads,
} from '../lib/index';
import { native } from '../lib/native';
import { buildFff, fffOptions, restoreRuntimeAfterAll } from './helpers/layers';
import {
  type FffWeights,
  fffReference,
  firstBitDifference,
  maxAbsDiff,
  randomArray,
  randomFff,
  rng,
} from './helpers/reference';

const root = path.join(__dirname, '..');
const supported = isa().supported;
const { initialIsa, initialThreads } = restoreRuntimeAfterAll();

function run(layer: FastFeedforward, x: Float32Array, rows: number, which: IsaName, strategy: FffStrategy = 'auto') {
  setIsa(which);
  const y = layer.forwardSync(x, rows, { strategy });
  const paths = layer.paths(x, rows);
  return { y, paths };
}

/** float64 logit at `node` of tree k for token `row`. */
function logitAt(w: FffWeights, x: Float32Array, row: number, k: number, node: number): number {
  const r = k * (2 ** (w.D + 1) - 1) + node;
  let l = w.bIn[r];
  for (let i = 0; i < w.I; i++) l += w.wIn[r * w.I + i] * x[row * w.I + i];
  return l;
}

/**
 * Compares two results token by token. Paths must agree except where the float64 logit at the node where
 * they part is within `noise` of 0; outputs of tokens with equal paths must agree within `tol`.
 * Returns the number of flipped tokens.
 */
function compare(
  w: FffWeights,
  x: Float32Array,
  rows: number,
  a: { y: Float32Array; paths: Int32Array },
  b: { y: Float32Array; paths: Int32Array },
  tol: number,
): number {
  const L = w.D + 1;
  let flips = 0;
  for (let t = 0; t < rows; t++) {
    let parted = -1;
    for (let k = 0; k < w.K && parted < 0; k++) {
      for (let d = 0; d < L; d++) {
        const i = (t * w.K + k) * L + d;
        if (a.paths[i] !== b.paths[i]) {
          // They took the same node at d-1 and went different ways: that node's logit was a near-tie.
          const l = logitAt(w, x, t, k, a.paths[i - 1]);
          expect(Math.abs(l), `token ${t} tree ${k} level ${d}: paths part at a logit of ${l}`).toBeLessThan(1e-4);
          parted = d;
          break;
        }
      }
    }
    if (parted >= 0) {
      flips++;
      continue;
    }
    const ya = a.y.subarray(t * w.O, (t + 1) * w.O);
    const yb = b.y.subarray(t * w.O, (t + 1) * w.O);
    expect(maxAbsDiff(ya, yb), `token ${t}`).toBeLessThanOrEqual(tol);
  }
  return flips;
}

// Widths that are not multiples of any vector width, and the real one.
const WIDTHS = [1, 2, 3, 7, 8, 15, 16, 17, 31, 33, 47, 63, 64, 65, 67, 768];

/** A seeded sample of the grid I, O in WIDTHS, rows 1..17 and 1000, D 0..11, K 1..3, plus fixed corners. */
function shapeGrid(): Array<{ I: number; O: number; D: number; K: number; rows: number }> {
  const next = rng(7);
  const pick = <T>(a: T[]) => a[Math.floor(next() * a.length)];
  const shapes = [
    { I: 1, O: 1, D: 0, K: 1, rows: 1 },
    { I: 67, O: 1, D: 11, K: 1, rows: 17 },
    { I: 1, O: 67, D: 5, K: 3, rows: 1000 },
    { I: 768, O: 768, D: 11, K: 1, rows: 1000 },
    { I: 768, O: 768, D: 3, K: 2, rows: 9 },
    { I: 65, O: 33, D: 7, K: 3, rows: 16 },
  ];
  for (let i = 0; i < 40; i++) {
    const D = Math.floor(next() * 12);
    shapes.push({
      I: pick(WIDTHS),
      O: pick(WIDTHS),
      D,
      K: 1 + Math.floor(next() * 3),
      rows: next() < 0.15 ? 1000 : 1 + Math.floor(next() * 17),
    });
  }
  return shapes;
}

describe('FastFeedforward against the float64 reference (scalar oracle)', () => {
  it.each([
    { I: 5, O: 3, D: 0, K: 1, rows: 4 },
    { I: 17, O: 9, D: 3, K: 2, rows: 17 },
    { I: 64, O: 67, D: 6, K: 3, rows: 11 },
    { I: 768, O: 768, D: 11, K: 1, rows: 33 },
  ])('I=$I O=$O D=$D K=$K rows=$rows', ({ I, O, D, K, rows }) => {
    const w = randomFff(I, O, D, K, I * 1000 + O * 10 + D);
    const x = randomArray(rows * I, 1, rng(99 + I));
    const layer = buildFff(w);
    const got = run(layer, x, rows, 'scalar');
    const ref = { y: new Float32Array(rows * O), paths: new Int32Array(rows * K * (D + 1)) };
    for (let t = 0; t < rows; t++) {
      const r = fffReference(w, x, t);
      ref.y.set(Float32Array.from(r.y), t * O);
      ref.paths.set(r.path, t * K * (D + 1));
    }
    const flips = compare(w, x, rows, got, ref, 2e-5 * Math.sqrt(I));
    expect(flips / rows).toBeLessThan(0.05);
    layer.dispose();
  });
});

describe('every instruction set against scalar', () => {
  it('has at least the scalar set and reports the active one', () => {
    expect(supported).toContain('scalar');
    expect(supported).toContain(isa().active);
    expect(isa().best).toBe(
      supported.includes('avx512')
        ? 'avx512'
        : supported.includes('avx2')
          ? 'avx2'
          : supported.includes('neon')
            ? 'neon'
            : 'scalar',
    );
  });
  // Sets this CPU cannot run are listed as skipped, not passed: their kernels are compiled but untested here.
  for (const which of ISA_NAMES.filter((s) => s !== 'scalar')) {
    const runnable = supported.includes(which);
    it.skipIf(!runnable)(
      `${which}: paths and outputs on a grid of awkward shapes${runnable ? '' : ' (not runnable on this CPU)'}`,
      () => {
        let tokens = 0;
        let flips = 0;
        for (const s of shapeGrid()) {
          const w = randomFff(s.I, s.O, s.D, s.K, s.I * 7919 + s.O * 31 + s.D * 3 + s.K);
          const x = randomArray(s.rows * s.I, 1, rng(s.rows + s.I));
          const layer = buildFff(w);
          const ref = run(layer, x, s.rows, 'scalar');
          for (const strategy of ['per-token', 'batched'] as const) {
            const got = run(layer, x, s.rows, which, strategy);
            flips += compare(w, x, s.rows, got, ref, 1e-5 * Math.sqrt(s.I) * (s.D + 1) * s.K);
            tokens += s.rows;
          }
          layer.dispose();
        }
        console.log(
          `${which} vs scalar: ${flips} of ${tokens} token walks flipped at a near-zero logit (${((100 * flips) / tokens).toFixed(3)}%)`,
        );
        expect(flips / tokens).toBeLessThan(0.01);
      },
    );
  }
});

describe('strategies, threads and sync/async agree bitwise', () => {
  const w = randomFff(768, 768, 11, 1, 11);
  const rows = 300;
  const x = randomArray(rows * 768, 1, rng(5));
  for (const which of supported) {
    it(`${which}`, async () => {
      const layer = buildFff(w);
      setIsa(which);
      setThreads(1);
      const base = layer.forwardSync(x, rows, { strategy: 'per-token' });
      const basePaths = layer.paths(x, rows);
      for (const n of [1, 2, 3]) {
        setThreads(n);
        for (const strategy of ['per-token', 'batched', 'auto'] as const) {
          expect(
            firstBitDifference(layer.forwardSync(x, rows, { strategy }), base),
            `sync ${strategy} threads=${n}`,
          ).toBe(-1);
          expect(
            firstBitDifference(await layer.forward(x, rows, { strategy }), base),
            `async ${strategy} threads=${n}`,
          ).toBe(-1);
        }
        expect(firstBitDifference(layer.paths(x, rows), basePaths)).toBe(-1);
      }
      setThreads(initialThreads);
      layer.dispose();
    });
  }
});

describe('routing rule', () => {
  it('a logit of exactly 0 goes left at every level and tree', () => {
    // All-zero linear_in weights and biases: every logit is exactly 0, GELU(0) = 0, so y = 0 and each tree
    // visits 0, 1, 3, 7, ... (the leftmost path).
    const I = 19,
      O = 5,
      D = 4,
      K = 2;
    const nodes = K * (2 ** (D + 1) - 1);
    const layer = FastFeedforward.fromTorch({
      inputWidth: I,
      outputWidth: O,
      depth: D,
      trees: K,
      linearInWeight: new Float32Array(nodes * I),
      linearInBias: new Float32Array(nodes),
      linearOutWeight: randomArray(O * nodes, 1, rng(3)),
    });
    const x = randomArray(3 * I, 1, rng(4));
    for (const which of supported) {
      setIsa(which);
      const paths = layer.paths(x, 3);
      const leftmost = [0, 1, 3, 7, 15];
      for (let t = 0; t < 3 * K; t++) expect(Array.from(paths.subarray(t * 5, t * 5 + 5))).toEqual(leftmost);
      expect(Array.from(layer.forwardSync(x, 3))).toEqual(new Array(3 * O).fill(0));
    }
  });

  it('a positive logit goes right, a negative one left (one-hot weights)', () => {
    // I = 1, weight 1, bias 0: the logit is x itself at every node.
    const D = 3;
    const nodes = 2 ** (D + 1) - 1;
    const layer = FastFeedforward.fromTorch({
      inputWidth: 1,
      outputWidth: 1,
      depth: D,
      trees: 1,
      linearInWeight: new Float32Array(nodes).fill(1),
      linearInBias: new Float32Array(nodes),
      linearOutWeight: new Float32Array(nodes).fill(1),
    });
    for (const which of supported) {
      setIsa(which);
      expect(Array.from(layer.paths(new Float32Array([0.5, -0.5]), 2))).toEqual([0, 2, 6, 14, 0, 1, 3, 7]);
    }
  });

  it('NaN in the input: the logit is not > 0 so the walk goes left, and the output is NaN', () => {
    const w = randomFff(9, 4, 3, 2, 1);
    const layer = buildFff(w);
    const x = randomArray(2 * 9, 1, rng(2));
    x[9 + 4] = NaN; // token 1 only
    for (const which of supported) {
      setIsa(which);
      const y = layer.forwardSync(x, 2);
      const paths = layer.paths(x, 2);
      expect(Array.from(y.subarray(4, 8)).every(Number.isNaN)).toBe(true);
      expect(Array.from(y.subarray(0, 4)).some(Number.isNaN)).toBe(false);
      expect(Array.from(paths.subarray(8, 16))).toEqual([0, 1, 3, 7, 0, 1, 3, 7]);
    }
  });
});

describe('bad input gives documented errors', () => {
  const w = randomFff(4, 3, 2, 1, 8);
  const ok = fffOptions(w);

  it.each([
    [
      { inputWidth: 0 },
      ErrorCode.INVALID_ARGUMENT,
      /Expected inputWidth to be an integer >= 1|Expected inputWidth to be an integer in \[1/,
    ],
    [{ outputWidth: -3 }, ErrorCode.INVALID_ARGUMENT, /outputWidth/],
    [{ depth: -1 }, ErrorCode.INVALID_ARGUMENT, /depth/],
    [{ depth: 1.5 }, ErrorCode.INVALID_ARGUMENT, /depth/],
    [{ trees: 0 }, ErrorCode.INVALID_ARGUMENT, /trees/],
    [
      { linearInWeight: new Float64Array(28) },
      ErrorCode.INVALID_TYPE,
      /Expected linearInWeight to be a Float32Array but received Float64Array\(28\)/,
    ],
    [{ linearInWeight: [1, 2, 3] }, ErrorCode.INVALID_TYPE, /linearInWeight/],
    [
      { linearInWeight: new Float32Array(27) },
      ErrorCode.INVALID_LENGTH,
      /Expected linearInWeight to have length 28 but received length 27/,
    ],
    [{ linearInBias: new Float32Array(8) }, ErrorCode.INVALID_LENGTH, /linearInBias to have length 7/],
    [{ linearOutWeight: new Float32Array(22) }, ErrorCode.INVALID_LENGTH, /linearOutWeight to have length 21/],
  ])('fromTorch(%o) throws %s', (patch, code, message) => {
    const fn = () => FastFeedforward.fromTorch({ ...ok, ...(patch as object) } as never);
    expect(fn).toThrow(message);
    expect(fn).toThrow(expect.objectContaining({ code }));
  });

  it('forward checks x, rows, options', async () => {
    const layer = FastFeedforward.fromTorch(ok);
    expect(() => layer.forwardSync(new Float32Array(7), 2)).toThrow(
      expect.objectContaining({
        code: ErrorCode.INVALID_LENGTH,
        message: 'Expected x to have length 8 but received length 7',
      }),
    );
    expect(() => layer.forwardSync(new Int32Array(8) as never, 2)).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_TYPE }),
    );
    expect(() => layer.forwardSync(new Float32Array(8), 0)).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
    expect(() => layer.forwardSync(new Float32Array(8), -2)).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
    expect(() => layer.forwardSync(new Float32Array(8), 2, { strategy: 'fast' as never })).toThrow(/strategy/);
    expect(() => layer.forwardSync(new Float32Array(8), 2, { out: new Float32Array(5) })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_LENGTH }),
    );
    await expect(layer.forward(new Float32Array(3), 2)).rejects.toMatchObject({ code: ErrorCode.INVALID_LENGTH });
    layer.dispose();
  });

  it('calls after dispose throw ERR_FFF_DISPOSED; dispose is idempotent', async () => {
    const layer = FastFeedforward.fromTorch(ok);
    layer.dispose();
    layer.dispose();
    expect(layer.disposed).toBe(true);
    expect(() => layer.forwardSync(new Float32Array(4), 1)).toThrow(
      expect.objectContaining({ code: ErrorCode.DISPOSED }),
    );
    expect(() => layer.paths(new Float32Array(4), 1)).toThrow(expect.objectContaining({ code: ErrorCode.DISPOSED }));
    await expect(layer.forward(new Float32Array(4), 1)).rejects.toMatchObject({ code: ErrorCode.DISPOSED });
  });

  it('a forward in flight completes when the layer is disposed meanwhile', async () => {
    const big = randomFff(768, 768, 11, 1, 12);
    const layer = buildFff(big);
    const x = randomArray(2048 * 768, 1, rng(1));
    const expected = layer.forwardSync(x, 2048);
    const pending = layer.forward(x, 2048);
    layer.dispose();
    expect(firstBitDifference(await pending, expected)).toBe(-1);
  });

  it('the native side checks again when TypeScript is bypassed', () => {
    expect(() => new native.NativeFastFeedforward(4, 3, 2, 1, w.wIn, w.bIn, new Float32Array(2))).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_LENGTH }),
    );
    expect(() => new native.NativeFastFeedforward(4, 3, -1, 1, w.wIn, w.bIn, w.wOut)).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
    expect(
      () =>
        new (native.NativeFastFeedforward as unknown as new (...a: unknown[]) => unknown)(
          '4',
          3,
          2,
          1,
          w.wIn,
          w.bIn,
          w.wOut,
        ),
    ).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    const layer = new native.NativeFastFeedforward(4, 3, 2, 1, w.wIn, w.bIn, w.wOut);
    expect(() => layer.forwardSync(new Float32Array(4), 1, new Float32Array(3), new Int32Array(2), 'auto')).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_LENGTH }),
    );
    expect(() => layer.forwardSync(new Float32Array(4), 1, new Float32Array(3), null, 2 as never)).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
    expect(() => (layer.forwardSync as (...a: unknown[]) => void)(new Float32Array(4))).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
    );
    layer.dispose();
    expect(() => layer.forwardSync(new Float32Array(4), 1, new Float32Array(3), null, 'auto')).toThrow(
      expect.objectContaining({ code: ErrorCode.DISPOSED }),
    );
  });

  it("forwardSync's one-call argument checks keep every code and message of the full checks", () => {
    const layer = new native.NativeFastFeedforward(4, 3, 2, 1, w.wIn, w.bIn, w.wOut);
    const call = (...a: unknown[]) => (layer.forwardSync as (...b: unknown[]) => void).apply(layer, a);
    const x = new Float32Array(8);
    const out = new Float32Array(6);
    const bad: [unknown[], string, RegExp][] = [
      [[new Float64Array(8), 2, out, null, 'auto'], ErrorCode.INVALID_TYPE, /x to be a Float32Array.*Float64Array/],
      [[[0, 0, 0, 0], 1, out, null, 'auto'], ErrorCode.INVALID_TYPE, /x to be a Float32Array.*Array/],
      [[x, 2, new Int32Array(6), null, 'auto'], ErrorCode.INVALID_TYPE, /out to be a Float32Array.*Int32Array/],
      [[x, 2, undefined, null, 'auto'], ErrorCode.INVALID_TYPE, /out to be a Float32Array/],
      [[x, 2, out, new Float32Array(6), 'auto'], ErrorCode.INVALID_TYPE, /paths to be an Int32Array/],
      [[x, 2, out, 0, 'auto'], ErrorCode.INVALID_TYPE, /paths to be an Int32Array.*number/],
      [[x, 2, out, new Int32Array(5), 'auto'], ErrorCode.INVALID_LENGTH, /paths to have length 6/],
      [[x, 2, new Float32Array(7), null, 'auto'], ErrorCode.INVALID_LENGTH, /out to have length 6/],
      [[x, 3, out, null, 'auto'], ErrorCode.INVALID_LENGTH, /x to have length 12/],
      [[x, 1.5, out, null, 'auto'], ErrorCode.INVALID_ARGUMENT, /rows to be an integer/],
      [[x, Number.NaN, out, null, 'auto'], ErrorCode.INVALID_ARGUMENT, /rows to be an integer/],
      [[x, '2', out, null, 'auto'], ErrorCode.INVALID_ARGUMENT, /rows to be an integer/],
      [[x, 0, out, null, 'auto'], ErrorCode.INVALID_ARGUMENT, /rows to be an integer in \[1,/],
      [[x, 2, out, null, 'auto\0'], ErrorCode.INVALID_ARGUMENT, /strategy to be one of/],
      [[x, 2, out, null, 'aut'], ErrorCode.INVALID_ARGUMENT, /strategy to be one of/],
      [[x, 2, out, null, `auto${' '.repeat(40)}`], ErrorCode.INVALID_ARGUMENT, /strategy to be one of/],
      [[x, 2, out, null, 'per-token'.repeat(4)], ErrorCode.INVALID_ARGUMENT, /strategy to be one of/],
    ];
    for (const [args, code, message] of bad) {
      expect(() => call(...args), String(args[1])).toThrow(
        expect.objectContaining({ code, message: expect.stringMatching(message) }),
      );
    }
    for (const strategy of ['auto', 'per-token', 'batched'] as const) {
      const paths = new Int32Array(6);
      layer.forwardSync(x, 2, out, paths, strategy);
      expect(paths[3]).toBe(0);
      layer.forwardSync(x, 2, out, undefined as never, strategy);
    }
    layer.dispose();
  });
});

describe("the layers' forwardSync", () => {
  const w = randomFff(4, 3, 2, 1, 8);
  it("is each object's own function (no unwrap per call): needs no `this`, disposed with its object", () => {
    const fff = new native.NativeFastFeedforward(4, 3, 2, 1, w.wIn, w.bIn, w.wOut);
    const x = randomArray(8, 1, rng(3));
    // Each layer with the arguments its forwardSync takes after (x, rows, out).
    const cases: [{ forwardSync: unknown; dispose(): void }, unknown[]][] = [
      [fff, []],
      [new native.NativeLinear(3, 4, w.wIn.subarray(0, 12), null), ['gelu', null]],
      [new native.NativeDenseFeedforward(4, 5, 3, w.wIn.subarray(0, 20), null, w.wIn.subarray(0, 15), null), []],
    ];
    for (const [handle, rest] of cases) {
      expect(Object.hasOwn(handle, 'forwardSync')).toBe(true);
      const f = handle.forwardSync as (...a: unknown[]) => void;
      const expected = new Float32Array(6);
      f.call(handle, x, 2, expected, ...rest);
      const out = new Float32Array(6);
      f(x, 2, out, ...rest);
      expect(firstBitDifference(out, expected)).toBe(-1);
      handle.dispose();
      expect(() => f(x, 2, out, ...rest)).toThrow(expect.objectContaining({ code: ErrorCode.DISPOSED }));
    }
    expect(new native.NativeFastFeedforward(4, 3, 2, 1, w.wIn, w.bIn, w.wOut).forwardSync).not.toBe(fff.forwardSync);
  });

  it('kept after its object is collected, it throws ERR_FFF_DISPOSED, and the weights are freed', () => {
    // A child process with --expose-gc loads the same binary: 50 layers of 4.2 MB, only their forwardSync kept.
    const options = require(path.join(root, 'binding-options.js')) as object;
    const binary = (
      require('pkg-prebuilds') as { resolve: (b: string, o: object, v: boolean, t: boolean) => string | null }
    ).resolve(root, options, false, false);
    expect(binary).toBeTruthy();
    const script = `
      const b = require(process.argv[1]);
      const I = 256, D = 10, n = 2 ** (D + 1) - 1;
      const wIn = new Float32Array(n * I), bIn = new Float32Array(n), wOut = new Float32Array(I * n);
      const rss0 = process.memoryUsage.rss();
      const fns = [];
      for (let i = 0; i < 50; i++) fns.push(new b.NativeFastFeedforward(I, I, D, 1, wIn, bIn, wOut).forwardSync);
      const held = process.memoryUsage.rss() - rss0;
      (async () => {
        for (let i = 0; i < 50 && process.memoryUsage.rss() - rss0 > held / 4; i++) {
          gc();
          await new Promise((r) => setImmediate(r));
        }
        const left = process.memoryUsage.rss() - rss0;
        const x = new Float32Array(I), out = new Float32Array(I), codes = new Set();
        for (const f of fns) {
          try { f(x, 1, out); codes.add('none'); } catch (e) { codes.add(e.code); }
        }
        console.log(JSON.stringify({ held, left, codes: [...codes] }));
      })();`;
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', script, String(binary)], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const { held, left, codes } = JSON.parse(r.stdout) as { held: number; left: number; codes: string[] };
    expect(held).toBeGreaterThan(0.8 * 50 * 2 * 2047 * 256 * 4);
    expect(left).toBeLessThan(held / 4);
    expect(codes).toEqual([ErrorCode.DISPOSED]);
  });

  it("FastFeedforward's forwardSync without paths and strategy is the 'auto' walk, bitwise", () => {
    const layer = new native.NativeFastFeedforward(4, 3, 2, 1, w.wIn, w.bIn, w.wOut);
    const x = randomArray(4 * 40, 1, rng(4));
    const expected = new Float32Array(3 * 40);
    const paths = new Int32Array(3 * 40);
    layer.forwardSync(x, 40, expected, paths, 'auto');
    for (const args of [[], [null], [null, undefined], [undefined, undefined]] as const) {
      const out = new Float32Array(3 * 40);
      (layer.forwardSync as (...a: unknown[]) => void)(x, 40, out, ...args);
      expect(firstBitDifference(out, expected), String(args)).toBe(-1);
    }
    for (const strategy of ['per-token', 'batched'] as const) {
      const out = new Float32Array(3 * 40);
      const p = new Int32Array(3 * 40);
      layer.forwardSync(x, 40, out, p, strategy);
      expect(firstBitDifference(out, expected)).toBe(-1);
      expect(p).toEqual(paths);
    }
    layer.dispose();
  });
});

describe('runtime controls', () => {
  it('setIsa rejects unknown and unsupported sets with codes', () => {
    expect(() => setIsa('sse9' as IsaName)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    const missing = (['avx2', 'avx512', 'neon'] as IsaName[]).find((s) => !supported.includes(s));
    if (missing) expect(() => setIsa(missing)).toThrow(expect.objectContaining({ code: ErrorCode.UNSUPPORTED_ISA }));
    setIsa('scalar');
    expect(isa().active).toBe('scalar');
    setIsa(initialIsa);
    expect(isa().active).toBe(initialIsa);
  });

  it('setThreads takes 1..1024', () => {
    expect(() => setThreads(0)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    expect(() => setThreads(2.5)).toThrow(expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }));
    setThreads(3);
    expect(threads()).toBe(3);
    setThreads(initialThreads);
  });

  it('forward() does not block the event loop', async () => {
    // Many shallow trees: much work per input byte. One thread: the async forward then takes at least the time
    // of the same work on one thread, which the control below measures.
    setThreads(1);
    const layer = buildFff(randomFff(768, 768, 5, 16, 13));
    // Event-loop turns (setImmediate ticks) that run while `work` is in flight.
    const ticksDuring = async (work: () => Promise<unknown>): Promise<number> => {
      let ticks = 0;
      let done = false;
      const tick = () => {
        if (done) return;
        ticks++;
        setImmediate(tick);
      };
      setImmediate(tick);
      await work();
      done = true;
      return ticks;
    };
    try {
      // The control shows the probe can fail: the same work done on the JavaScript thread lets no tick run. It
      // also sizes the work: rows double until it takes 100 ms (at most 16384 rows, 48 MiB), so the async
      // forward is provably long: a loaded machine would have to keep this thread off every core for all of it
      // for no tick to run (the earlier 2048 rows at depth 11 took a few ms, and once finished first).
      let rows = 1024;
      let x: Float32Array;
      let syncMs: number;
      do {
        rows *= 2;
        x = randomArray(rows * 768, 1, rng(9));
        const start = performance.now();
        expect(await ticksDuring(async () => layer.forwardSync(x, rows))).toBe(0);
        syncMs = performance.now() - start;
      } while (syncMs < 100 && rows < 16384);
      expect(await ticksDuring(() => layer.forward(x, rows))).toBeGreaterThan(0);
    } finally {
      setThreads(initialThreads);
      layer.dispose();
    }
  });
});
