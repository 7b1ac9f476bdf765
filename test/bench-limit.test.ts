/**
 * The benchmark's roofline (bench/lib/limit.mjs) on synthetic probes, and the native probe it measures them with.
 * The model's arithmetic is checked by hand-computed cases; the probe only for sane, positive rates and its errors
 * (its speed is the benchmark's business, never asserted here).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of the benchmark, without types
import { fffLimit, layerBytes, streamBytes, workingSetBytes } from '../bench/lib/limit.mjs';
import { native } from '../lib/native';

const probes = (over: Record<string, number> = {}) => ({
  threads: 2,
  l2Bytes: 2 ** 20,
  readL2: 1e15,
  dtypes: { f32: { dot: 1e7, gather: 2e7, readLayer: 1e15, ...over } },
});

describe('fffLimit', () => {
  it('is the compute time when bandwidth is unlimited: 12 dots and 12 gathered rows per token', () => {
    const l = fffLimit(probes(), 'f32', 2048);
    expect(l.bound).toBe('compute');
    expect(l.us).toBeCloseTo((12 / 1e7 + 12 / 2e7) * 1e6, 9);
    // One token runs on one of the two threads: half the rates.
    expect(fffLimit(probes(), 'f32', 1).computeUs).toBeCloseTo(2 * l.computeUs, 9);
  });

  it('charges the rows below the L2 levels once per batch: fewer bytes per token for larger batches', () => {
    const slow = probes({ readLayer: 1e9 });
    const l128 = fffLimit(slow, 'f32', 128);
    const l2048 = fffLimit(slow, 'f32', 2048);
    expect(l128.bound).toBe('memory');
    // Half of a 1 MB L2 holds levels 0-5 of fp32 rows (63 nodes x 6 KB), not level 6.
    expect(l128.levelsInL2).toBe(6);
    expect(l2048.memBytesPerToken).toBeLessThan(l128.memBytesPerToken);
    // At 128 tokens the lower levels' rows are nearly unique per token: at most 6 levels x 6 KB + x once and y
    // (its store and the read for ownership).
    expect(l128.memBytesPerToken).toBeLessThanOrEqual(6 * 2 * 768 * 4 + 3 * 768 * 4);
    expect(l128.memBytesPerToken).toBeGreaterThan(4 * 2 * 768 * 4);
    expect(l128.us).toBeCloseTo((l128.memBytesPerToken / 1e9) * 1e6, 9);
  });

  it('takes the bandwidth measured at the working set of the call where there is one', () => {
    const l = fffLimit(probes({ readLayer: 1e9, readAt: { 2048: 5e8 } } as never), 'f32', 2048);
    expect(l.memUs).toBeCloseTo((l.memBytesPerToken / 5e8) * 1e6, 9);
    expect(fffLimit(probes({ readLayer: 1e9 }), 'f32', 2048).memUs).toBeCloseTo(l.memUs / 2, 9);
    // From 256 tokens on x is read twice (top levels, then its subtree): one more x (3 KB) per token, less the
    // few bytes of rows that one more token shares.
    const per = (t: number) => fffLimit(probes({ readLayer: 1e9 }), 'f32', t).memBytesPerToken;
    expect(per(256) - per(255)).toBeGreaterThan(768 * 4 - 40);
    expect(per(256) - per(255)).toBeLessThan(768 * 4);
    expect(workingSetBytes('f32', 2048)).toBeGreaterThan(2048 * 2 * 768 * 4);
    expect(workingSetBytes('f32', 2048)).toBeLessThan(layerBytes('f32') + 2048 * 2 * 768 * 4);
  });

  it('takes streamed input from where the whole layer and the stream live, never from L2', () => {
    const p = probes({ readLayer: 1e9, readAt: { 128: 4e9 }, readStream: { 1: 5e8, 128: 5e8 } } as never);
    const repeat = fffLimit(p, 'f32', 128);
    const stream = fffLimit(p, 'f32', 128, { inputs: 'stream' });
    expect(repeat.memUs).toBeCloseTo((repeat.memBytesPerToken / 4e9) * 1e6, 9);
    expect(stream.memUs).toBeCloseTo((stream.memBytesPerToken / 5e8) * 1e6, 9);
    expect(stream.memBytesPerToken).toBe(repeat.memBytesPerToken);
    // One token repeated keeps its 24 rows in L2; streamed, its lower rows come from the stream's home.
    expect(fffLimit(p, 'f32', 1).memFromL2).toBe(true);
    const one = fffLimit(p, 'f32', 1, { inputs: 'stream' });
    expect(one.memFromL2).toBe(false);
    expect(one.memUs).toBeCloseTo((one.memBytesPerToken / (5e8 / 2)) * 1e6, 9);
    // A faster stream probe than the call's own working set does not raise the bandwidth.
    const fast = probes({ readLayer: 1e9, readAt: { 2048: 5e8 }, readStream: { 2048: 9e8 } } as never);
    expect(fffLimit(fast, 'f32', 2048, { inputs: 'stream' }).memUs).toBeCloseTo(fffLimit(fast, 'f32', 2048).memUs, 9);
    expect(streamBytes('f32', 128)).toBe(layerBytes('f32') + (2048 + 128) * 768 * 4);
  });

  it('charges y without its read for ownership where the layer streams it', () => {
    const cached = fffLimit(probes({ readLayer: 1e9 }), 'f32', 2048);
    const streamed = fffLimit(probes({ readLayer: 1e9, streamsY: { 2048: true } } as never), 'f32', 2048);
    expect(cached.memBytesPerToken - streamed.memBytesPerToken).toBe(768 * 4);
    expect(streamed.memUs).toBeLessThan(cached.memUs);
  });

  it('knows the layer sizes', () => {
    expect(layerBytes('f32')).toBe(4095 * (2 * 768 * 4 + 4));
    expect(layerBytes('bf16')).toBe(4095 * (2 * 768 * 2 + 4));
  });
});

describe('native fffStreamsOutput', () => {
  it("answers the fff.h rule: never for a call smaller than the threads' L2s", () => {
    expect(native.fffStreamsOutput(layerBytes('f32'), 1, 768, 768, 2)).toBe(false);
    expect(native.fffStreamsOutput(layerBytes('f32'), 0, 768, 768, 2)).toBe(false);
    expect(typeof native.fffStreamsOutput(layerBytes('f32'), 2048, 768, 768, 2)).toBe('boolean');
    // Outputs that are not whole cache lines per row never stream.
    expect(native.fffStreamsOutput(layerBytes('f32'), 1 << 20, 768, 760, 1)).toBe(false);
  });

  it('rejects bad arguments with a coded error', () => {
    for (const args of [
      [-1, 1, 768, 768, 2],
      [0, -1, 768, 768, 2],
      [0, 1, 0, 768, 2],
      [0, 1, 768, 768, 0],
      [0, 1, 768, 768, 2000],
    ]) {
      expect(() => (native.fffStreamsOutput as (...a: number[]) => boolean)(...args)).toThrow(
        expect.objectContaining({ code: 'ERR_FFF_INVALID_ARGUMENT' }),
      );
    }
  });
});

describe('native fffProbe', () => {
  it('returns positive rates for each kind and weight type', () => {
    for (const w of ['f32', 'bf16', 'bf16-dot'] as const) {
      for (const kind of ['dot', 'gather', 'read'] as const) {
        const r = native.fffProbe(kind, w, 64 * 1024, 2);
        expect(r, `${kind} ${w}`).toBeGreaterThan(0);
        expect(Number.isFinite(r)).toBe(true);
      }
    }
  });

  it('rejects bad arguments with a coded error', () => {
    expect(() => native.fffProbe('write' as never, 'f32', 0, 1)).toThrow(
      expect.objectContaining({ code: 'ERR_FFF_INVALID_ARGUMENT' }),
    );
    expect(() => native.fffProbe('dot', 'f16' as never, 0, 1)).toThrow(
      expect.objectContaining({ code: 'ERR_FFF_INVALID_ARGUMENT' }),
    );
    expect(() => native.fffProbe('read', 'f32', -1, 1)).toThrow(
      expect.objectContaining({ code: 'ERR_FFF_INVALID_ARGUMENT' }),
    );
    expect(() => native.fffProbe('dot', 'f32', 0, 5000)).toThrow(
      expect.objectContaining({ code: 'ERR_FFF_INVALID_ARGUMENT' }),
    );
  });
});

describe('bench/strategies.mjs', () => {
  it('times the three walks round-robin and writes auto over the faster one per configuration', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'fffbert-strategies-'));
    try {
      const script = path.join(__dirname, '..', 'bench', 'strategies.mjs');
      const r = spawnSync(
        process.execPath,
        [
          script,
          '--threads',
          '1',
          '--tokens',
          '16,300',
          '--weights',
          'f32',
          '--rounds',
          '2',
          '--min-round-ms',
          '2',
          '--out',
          dir,
        ],
        { encoding: 'utf8', env: { ...process.env, FFFBERT_THREADS: '1' }, timeout: 120_000, cwd: dir },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/auto \/ faster/);
      const json = JSON.parse(readFileSync(path.join(dir, 'strategies.json'), 'utf8'));
      expect(json.results.map((x: { tokens: number }) => x.tokens)).toEqual([16, 300]);
      for (const row of json.results) {
        for (const s of ['per-token', 'batched', 'auto']) expect(row.usPerToken[s].median).toBeGreaterThan(0);
        expect(row.autoOverFaster.reps).toBe(2);
        expect(row.autoOverFaster.median).toBeGreaterThan(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
