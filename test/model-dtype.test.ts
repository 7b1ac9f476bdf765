// loadModel's dtype option (the arithmetic of the dense layers): validation, where it goes, and that the
// default stays fp32 bitwise. The accuracy of int8 and bf16 against fp32 is test/model-dtype-accuracy.test.ts.
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../lib/bert/config';
import { createEncoder } from '../lib/bert/encoder';
import { main } from '../lib/cli';
import { SafetensorsFile } from '../lib/formats/safetensors';
import type { Model } from '../lib/model';
import { loadModel } from '../lib/model';

const fixtures = path.join(__dirname, 'fixtures');
const ufbTiny = path.join(fixtures, 'ufb-tiny');
const bertMlm = path.join(fixtures, 'bert-tiny-mlm');

describe('loadModel options.dtype', () => {
  const open: Model[] = [];
  afterAll(() => open.forEach((m) => m.dispose()));

  it.each([['int4'], [''], ['FP32'], [8], [null], [true], [{}]])(
    'refuses %j with ERR_FFF_INVALID_ARGUMENT naming options.dtype',
    async (dtype) => {
      await expect(loadModel(ufbTiny, { dtype } as never)).rejects.toMatchObject({
        code: 'ERR_FFF_INVALID_ARGUMENT',
        message: expect.stringMatching(/^Expected options\.dtype to be one of fp32, int8, bf16 but received /),
      });
    },
  );

  it('defaults to fp32 and reports the dtype it was given', async () => {
    for (const dtype of [undefined, 'fp32', 'int8', 'bf16'] as const) {
      const m = await loadModel(ufbTiny, dtype === undefined ? undefined : { dtype });
      open.push(m);
      expect(m.dtype).toBe(dtype ?? 'fp32');
    }
  });

  it("'fp32' is the default bitwise", async () => {
    const a = await loadModel(ufbTiny);
    const b = await loadModel(ufbTiny, { dtype: 'fp32' });
    open.push(a, b);
    const inputs = {
      inputIds: [
        [2, 7, 9, 11, 3],
        [2, 5, 3, 0, 0],
      ],
      attentionMask: [
        [1, 1, 1, 1, 1],
        [1, 1, 1, 0, 0],
      ],
    };
    const x = await a.forward(inputs);
    const y = await b.forward(inputs);
    expect(Buffer.from(y.lastHiddenState.buffer).equals(Buffer.from(x.lastHiddenState.buffer))).toBe(true);
    expect(Buffer.from(y.logits!.buffer).equals(Buffer.from(x.logits!.buffer))).toBe(true);
  });

  it('createEncoder checks options.dtype and exposes it', () => {
    const tensors = SafetensorsFile.open(path.join(ufbTiny, 'model.safetensors'));
    try {
      const config = parseConfig(ufbTiny, tensors);
      expect(() => createEncoder(config, tensors, { dtype: 'int16' } as never)).toThrow(
        /Expected options.dtype to be one of fp32, int8, bf16 but received string "int16"/,
      );
      expect(() => createEncoder(config, tensors, 'int8' as never)).toThrow(/Expected options to be an object/);
      const enc = createEncoder(config, tensors, { dtype: 'bf16' });
      expect(enc.dtype).toBe('bf16');
      enc.dispose();
    } finally {
      tensors.close();
    }
  });
});

describe('CLI --dtype', () => {
  async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const code = await main(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
    return { code, stdout, stderr };
  }

  it('passes the dtype to loadModel and refuses unknown ones', async () => {
    const bad = await run(['embed', bertMlm, 'x', '--dtype', 'int4']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /Expected options.dtype to be one of fp32, int8, bf16 but received string "int4" \(ERR_FFF_INVALID_ARGUMENT\)/,
    );
    expect((await run(['embed', '--help'])).stdout).toMatch(/--dtype fp32\|int8\|bf16/);
    const plain = await run(['embed', bertMlm, 'the cat']);
    const fp32 = await run(['embed', bertMlm, 'the cat', '--dtype', 'fp32']);
    expect(fp32.code).toBe(0);
    expect(fp32.stdout).toBe(plain.stdout);
    const int8 = await run(['embed', bertMlm, 'the cat', '--dtype', 'int8']);
    expect(int8.code).toBe(0);
    expect(JSON.parse(int8.stdout)[0].embedding).toHaveLength(JSON.parse(plain.stdout)[0].embedding.length);
  });
});
