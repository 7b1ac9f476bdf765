/**
 * Where async work waits and how it completes (issue 9, classes 2 and 3): forwards queue on the addon's own
 * dispatcher, not on libuv's threadpool, so file I/O is not stuck behind them; and a worker_thread terminated
 * with forwards in flight goes away without taking the process with it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Linear } from '../lib/index';
import { native } from '../lib/native';
import { firstBitDifference, randomArray, rng } from './helpers/reference';

const root = path.resolve(__dirname, '..');

describe('async forwards and the event loop', () => {
  it('50 queued forwards do not hold libuv threads: fs.promises.readFile completes while most still wait', async () => {
    // ~0.5 GFLOP each: the 50 take about a second on two busy cores, a file read a few milliseconds.
    const linear = Linear.fromTorch({ weight: randomArray(512 * 512, 0.1, rng(950)), outFeatures: 512 });
    const x = randomArray(1024 * 512, 1, rng(951));
    let done = 0;
    const pending = Array.from({ length: 50 }, () => linear.forward(x, 1024).then(() => done++));
    expect(native.jobsInFlight()).toBeGreaterThan(0);
    // open, fstat, read and close: four libuv threadpool requests, each queued behind every forward before the
    // fix (which left at most the 4 forwards running on libuv's 4 threads still pending).
    await fs.promises.readFile(__filename);
    const stillPending = 50 - done;
    await Promise.all(pending);
    expect(stillPending).toBeGreaterThanOrEqual(10);
    expect(done).toBe(50);
    linear.dispose();
  });
});

describe('worker.terminate() with forwards in flight', () => {
  it('100 workers terminated mid-forward: the process lives on and the main thread results stay right', async () => {
    const w = randomArray(64 * 64, 0.2, rng(960));
    const x = randomArray(256 * 64, 1, rng(961));
    const linear = Linear.fromTorch({ weight: w, outFeatures: 64 });
    const expected = linear.forwardSync(x, 256);
    // Each worker loads the package, queues forwards of a layer and of a model, says so and is terminated at
    // once or a few milliseconds later (queued, running or completing).
    const code = `
      const { parentPort, workerData } = require('node:worker_threads');
      const m = require(workerData.root);
      const layer = m.Linear.fromTorch({ weight: workerData.w, outFeatures: 64 });
      m.loadModel(workerData.model).then((model) => {
        for (let i = 0; i < 4; i++) {
          layer.forward(workerData.x, 256).catch(() => {});
          model.forward([[1, 2, 3, 4, 5, 6, 7, 8]]).catch(() => {});
        }
        parentPort.postMessage('started');
      });
    `;
    const model = path.join(root, 'test', 'fixtures', 'ufb-tiny');
    const runOne = (i: number) =>
      new Promise<void>((resolve, reject) => {
        const worker = new Worker(code, { eval: true, workerData: { root, w, x, model } });
        worker.once('error', reject);
        worker.once('message', () => {
          setTimeout(() => {
            worker.terminate().then(() => resolve(), reject);
          }, i % 4);
        });
      });
    let terminated = 0;
    for (let round = 0; round < 25; round++) {
      const mine = linear.forward(x, 256);
      await Promise.all([0, 1, 2, 3].map((k) => runOne(round * 4 + k).then(() => terminated++)));
      expect(firstBitDifference(await mine, expected)).toBe(-1);
    }
    expect(terminated).toBe(100);
    expect(firstBitDifference(await linear.forward(x, 256), expected)).toBe(-1);
    linear.dispose();
  }, 120_000);
});
