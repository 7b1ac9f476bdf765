/**
 * The import rules of docs/ARCHITECTURE.md and CONTRIBUTING.md ("Style"), checked on the source text: lib's
 * lower modules (formats/: checkpoint reading; util/: option checks, Disposable) import nothing of the model,
 * and the benchmarks and scripts load the package through its public entry points, never an internal module.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.join(__dirname, '..');
const lib = path.join(root, 'lib');

function filesUnder(dir: string, ext: RegExp): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).flatMap((e) => {
    const file = path.join(e.parentPath, e.name);
    return e.isFile() && ext.test(e.name) && !file.includes(`${path.sep}node_modules${path.sep}`) ? [file] : [];
  });
}

/** The lib/ module (first path segment under lib/, without extension) of each relative import of `file`. */
function libImports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import\()\s*'(\.[^']*)'/g)].map((m) => m[1] ?? '');
  return specs.map((s) => path.relative(lib, path.resolve(path.dirname(file), s)).split(path.sep)[0] ?? '');
}

describe('lib/ import direction', () => {
  const rules: Array<{ dir: string; allowed: string[] }> = [
    { dir: 'formats', allowed: ['formats', 'errors', 'util', 'limits'] },
    { dir: 'util', allowed: ['util', 'errors'] },
  ];
  for (const { dir, allowed } of rules) {
    it(`lib/${dir} imports only ${allowed.join(', ')}`, () => {
      const files = filesUnder(path.join(lib, dir), /\.ts$/);
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) {
        const outside = libImports(file).filter((m) => !allowed.includes(m));
        expect(outside, path.relative(root, file)).toEqual([]);
      }
    });
  }

  it('only lib/layers imports lib/layers/common.ts', () => {
    for (const file of filesUnder(lib, /\.ts$/)) {
      if (path.dirname(file) === path.join(lib, 'layers')) continue;
      expect(fs.readFileSync(file, 'utf8'), path.relative(root, file)).not.toMatch(/layers\/common'/);
    }
  });
});

describe('benchmarks and scripts use the public entry points', () => {
  // dist/index.js is the package (require('fffbert')), dist/cli.js its bin; dist/native.js is the addon, for the
  // benchmarks' native probes (bench/lib/setup.mjs loadNative) only.
  const publicEntries = ['index.js', 'cli.js'];
  it('no bench/ or scripts/ file loads another module of dist/', () => {
    const files = [
      ...filesUnder(path.join(root, 'bench'), /\.mjs$/),
      ...filesUnder(path.join(root, 'scripts'), /\.mjs$/),
    ];
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const text = fs.readFileSync(file, 'utf8');
      const used = [
        ...[...text.matchAll(/'dist',\s*'([^']+)'/g)].map((m) => m[1]),
        ...[...text.matchAll(/['/]dist\/([\w/.-]+\.js)'/g)].map((m) => m[1]),
      ];
      const allowed =
        file === path.join(root, 'bench', 'lib', 'setup.mjs') ? [...publicEntries, 'native.js'] : publicEntries;
      expect(
        used.filter((u) => !allowed.includes(u ?? '')),
        path.relative(root, file),
      ).toEqual([]);
    }
  });
});
