/**
 * Inputs the fuzzer (npm run fuzz, scripts/fuzz/) once failed on, replayed: each must now be accepted or refused
 * with an FffError whose code starts with ERR_FFF_. scripts/fuzz/corpus/README.md says how they were found.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as api from '../lib/index';
// @ts-expect-error: plain JavaScript of the fuzzer, shared with it so the replay is the fuzzer's own run
import { cleanup, decode, TARGETS } from '../scripts/fuzz/targets.mjs';

const corpus = path.join(__dirname, '..', 'scripts', 'fuzz', 'corpus');
const files = fs
  .readdirSync(corpus)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('fuzz corpus', () => {
  afterAll(() => cleanup());

  it('holds the crashers found so far', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  const contexts = new Map<string, unknown>();
  it.each(files)('%s is accepted or refused with a code', async (file) => {
    const entry = decode(fs.readFileSync(path.join(corpus, file), 'utf8')) as {
      target: string;
      input: unknown;
      why: string;
    };
    const target = TARGETS[entry.target];
    if (!contexts.has(entry.target)) contexts.set(entry.target, await target.setup(api));
    try {
      await target.run(entry.input, api, contexts.get(entry.target));
    } catch (err) {
      expect(err, `first seen as: ${entry.why}`).toBeInstanceOf(api.FffError);
      expect((err as api.FffError).code).toMatch(/^ERR_FFF_/);
    }
  });
});
