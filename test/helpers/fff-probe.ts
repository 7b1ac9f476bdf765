/**
 * The fff_layer0 probe of a ufb fixture (test/fixtures/README.md), computed by the UltraFastBERT authors' code:
 * layer 0's FFF weights, 64 input tokens, and the outputs and paths fff.py gave them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SafetensorsFile } from '../../lib/formats/safetensors';
import type { FffWeights } from './reference';

export interface FffProbe {
  weights: FffWeights;
  /** [rows, hidden] inputs and the reference outputs. */
  x: Float32Array;
  expected: Float32Array;
  rows: number;
  /** [rows, trees, depth + 1] node indices, and that shape as the file gives it. */
  paths: Int32Array;
  pathsShape: number[];
}

/** Reads the probe of test/fixtures/`name` (copies: the files are closed when it returns). */
export function loadFffProbe(name: string): FffProbe {
  const dir = path.join(__dirname, '..', 'fixtures', name);
  const arch = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).arch;
  const H: number = arch.hidden_size;
  const model = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
  const ref = SafetensorsFile.open(path.join(dir, 'reference.safetensors'));
  try {
    // readF32 returns a reused scratch view: copy each tensor
    const copy = (file: SafetensorsFile, tensor: string) => Float32Array.from(file.readF32(tensor));
    const x = copy(ref, 'fff_layer0_input');
    const paths = ref.readTensor('fff_layer0_paths');
    return {
      weights: {
        I: H,
        O: H,
        D: arch.intermed_depth,
        K: arch.intermed_size,
        wIn: copy(model, 'encoder.layers.0.ffn.linear_in.weight'),
        bIn: copy(model, 'encoder.layers.0.ffn.linear_in.bias'),
        wOut: copy(model, 'encoder.layers.0.ffn.linear_out.weight'),
      },
      x,
      expected: copy(ref, 'fff_layer0_output'),
      rows: x.length / H,
      paths: Int32Array.from(paths.data as BigInt64Array, Number),
      pathsShape: paths.shape,
    };
  } finally {
    model.close();
    ref.close();
  }
}
