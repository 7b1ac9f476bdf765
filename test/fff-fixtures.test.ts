/**
 * The FFF probes of the ufb fixtures, computed by the UltraFastBERT authors' own code (fff.py): layer 0's
 * FFF applied to 64 tokens. Reproduced by every instruction set and strategy: identical paths, outputs
 * within 1e-5.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../lib/formats/safetensors';
import { FastFeedforward, isa, setIsa } from '../lib/index';
import { maxAbsDiff } from './helpers/reference';

const initialIsa = isa().active;
afterAll(() => setIsa(initialIsa));

function copyF32(file: SafetensorsFile, name: string): Float32Array {
  return Float32Array.from(file.readF32(name)); // readF32 returns a reused scratch view
}

for (const name of ['ufb-tiny', 'ufb-tiny-k2']) {
  describe(`${name}: fff_layer0 probe`, () => {
    const dir = path.join(__dirname, 'fixtures', name);
    const arch = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).arch;
    const K: number = arch.intermed_size;
    const D: number = arch.intermed_depth;
    const H: number = arch.hidden_size;
    const model = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
    const ref = SafetensorsFile.open(path.join(dir, 'reference.safetensors'));
    const layer = FastFeedforward.fromTorch({
      inputWidth: H,
      outputWidth: H,
      depth: D,
      trees: K,
      linearInWeight: copyF32(model, 'encoder.layers.0.ffn.linear_in.weight'),
      linearInBias: copyF32(model, 'encoder.layers.0.ffn.linear_in.bias'),
      linearOutWeight: copyF32(model, 'encoder.layers.0.ffn.linear_out.weight'),
    });
    const x = copyF32(ref, 'fff_layer0_input');
    const expected = copyF32(ref, 'fff_layer0_output');
    const pathsInfo = ref.readTensor('fff_layer0_paths');
    const rows = x.length / H;
    const expectedPaths = Int32Array.from(pathsInfo.data as BigInt64Array, Number);
    afterAll(() => {
      layer.dispose();
      model.close();
      ref.close();
    });

    it('has the shapes the README describes', () => {
      expect(pathsInfo.shape).toEqual([rows, K, D + 1]);
      expect(rows).toBe(64);
    });

    for (const which of isa().supported) {
      for (const strategy of ['per-token', 'batched'] as const) {
        it(`${which} ${strategy}: identical paths, outputs within 1e-5`, async () => {
          setIsa(which);
          expect(layer.paths(x, rows)).toEqual(expectedPaths);
          const y = await layer.forward(x, rows, { strategy });
          const err = maxAbsDiff(y, expected);
          console.log(`${name} ${which} ${strategy}: max abs error ${err.toExponential(2)}`);
          expect(err).toBeLessThanOrEqual(1e-5);
        });
      }
    }
  });
}
