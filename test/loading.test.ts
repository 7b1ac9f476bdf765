/**
 * How users load the package: require() and import from a separate Node process (the built dist/, as an
 * installed package would), and the addon inside worker_threads (it is context-aware).
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { FastFeedforward, isa } from '../lib/index';
import { firstBitDifference, randomArray, randomFff, rng } from './helpers/reference';

const root = path.resolve(__dirname, '..');

// The script every loader runs: build a small layer from fixed weights and print its output and paths.
const probe = `
  const w = { inputWidth: 3, outputWidth: 2, depth: 1, trees: 1,
    linearInWeight: new Float32Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
    linearInBias: new Float32Array([0, 0, 0]),
    linearOutWeight: new Float32Array([1, 1, 1, 0, 0, 1]) };
  const layer = m.FastFeedforward.fromTorch(w);
  const x = new Float32Array([1, -2, 3]);
  const out = { y: Array.from(layer.forwardSync(x, 1)), paths: Array.from(layer.paths(x, 1)), isa: m.isa().active };
  console.log(JSON.stringify(out));
`;
// Node 0: logit x[0] = 1 > 0, GELU(1) = 0.8413447, go right to node 2: logit x[2] = 3, GELU(3) = 2.9959502.
// y = GELU(1) * W_out[:, 0] + GELU(3) * W_out[:, 2] = [0.8413447 + 2.9959502, 2.9959502].
const expected = { y: [3.8372949, 2.9959502], paths: [0, 2] };

function check(stdout: string) {
  const got = JSON.parse(stdout.trim().split('\n').pop()!);
  expect(got.paths).toEqual(expected.paths);
  expect(got.y[0]).toBeCloseTo(expected.y[0], 5);
  expect(got.y[1]).toBeCloseTo(expected.y[1], 5);
  expect(isa().supported).toContain(got.isa);
}

describe('loading the package', () => {
  it('require("fffbert") from CommonJS', () => {
    const out = execFileSync(process.execPath, ['-e', `const m = require(${JSON.stringify(root)}); ${probe}`], {
      encoding: 'utf8',
    });
    check(out);
  });

  it('import from an ES module, named and default', () => {
    const url = JSON.stringify(path.join(root, 'dist', 'index.js'));
    const script = `import * as m from ${url}; import def from ${url}; import { FastFeedforward } from ${url};
      if (def.FastFeedforward !== FastFeedforward) throw new Error('default export differs'); ${probe}`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    check(out);
  });

  it('package.json exports resolve to the built files, and their types declare every runtime export', () => {
    const pkg = require('../package.json');
    const main = require.resolve(root);
    expect(main).toBe(path.resolve(root, pkg.exports['.'].default));
    expect(main).toBe(path.resolve(root, pkg.main));
    const types = path.resolve(root, pkg.exports['.'].types);
    expect(types).toBe(path.resolve(root, pkg.types));
    // What a TypeScript user of the package sees, read by the compiler from the declaration file.
    const program = ts.createProgram([types], { noEmit: true, noLib: true, types: [] });
    const checker = program.getTypeChecker();
    const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(types)!);
    expect(moduleSymbol, `${types} is not a module`).toBeDefined();
    const declared = new Set(checker.getExportsOfModule(moduleSymbol!).map((s) => s.name));
    const runtime = Object.keys(require(root));
    expect(runtime.length).toBeGreaterThan(0);
    expect(
      runtime.filter((name) => !declared.has(name)),
      'exported at run time but not declared',
    ).toEqual([]);
  });

  it('works in worker_threads, twice at once, with the same results as the main thread', async () => {
    const w = randomFff(33, 17, 5, 2, 21);
    const x = randomArray(40 * 33, 1, rng(22));
    const layer = FastFeedforward.fromTorch({
      inputWidth: 33,
      outputWidth: 17,
      depth: 5,
      trees: 2,
      linearInWeight: w.wIn,
      linearInBias: w.bIn,
      linearOutWeight: w.wOut,
    });
    const expectedY = layer.forwardSync(x, 40);
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const m = require(workerData.root);
      const d = workerData;
      const layer = m.FastFeedforward.fromTorch({ inputWidth: 33, outputWidth: 17, depth: 5, trees: 2,
        linearInWeight: d.wIn, linearInBias: d.bIn, linearOutWeight: d.wOut });
      layer.forward(d.x, 40).then((y) => { parentPort.postMessage(y); layer.dispose(); });
    `;
    const runWorker = () =>
      new Promise<Float32Array>((resolve, reject) => {
        const worker = new Worker(code, { eval: true, workerData: { root, wIn: w.wIn, bIn: w.bIn, wOut: w.wOut, x } });
        worker.once('message', (y) => {
          resolve(y as Float32Array);
          void worker.terminate();
        });
        worker.once('error', reject);
      });
    const [a, b] = await Promise.all([runWorker(), runWorker()]);
    expect(firstBitDifference(a, expectedY)).toBe(-1);
    expect(firstBitDifference(b, expectedY)).toBe(-1);
    layer.dispose();
  });
});
