/**
 * The FFF probes of the ufb fixtures, computed by the UltraFastBERT authors' own code (fff.py): layer 0's
 * FFF applied to 64 tokens. Reproduced by every instruction set and strategy: identical paths, outputs
 * within 1e-5.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { isa, setIsa } from '../lib/index';
import { loadFffProbe } from './helpers/fff-probe';
import { buildFff } from './helpers/layers';
import { maxAbsDiff } from './helpers/reference';

const initialIsa = isa().active;
afterAll(() => setIsa(initialIsa));

for (const name of ['ufb-tiny', 'ufb-tiny-k2']) {
  describe(`${name}: fff_layer0 probe`, () => {
    const { weights, x, expected, rows, paths: expectedPaths, pathsShape } = loadFffProbe(name);
    const { K, D } = weights;
    const layer = buildFff(weights);
    afterAll(() => layer.dispose());

    it('has the shapes the README describes', () => {
      expect(pathsShape).toEqual([rows, K, D + 1]);
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
