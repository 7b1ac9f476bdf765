// Terminal tables and result files.
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { resultsDir } from './paths.mjs';

/** Prints rows (arrays of cells) as an aligned table; the first row is the header. */
/**
 * @param {any[][]} rows
 * @param {{ title?: string, align?: string[] }} [options]
 */
export function printTable(rows, { title, align } = {}) {
  if (title) console.log(`\n${title}`);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c] ?? '').length)));
  const line = (r) =>
    r
      .map((cell, c) => {
        const s = String(cell ?? '');
        return (align?.[c] ?? (c === 0 ? 'left' : 'right')) === 'left' ? s.padEnd(widths[c]) : s.padStart(widths[c]);
      })
      .join('  ');
  console.log(line(rows[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows.slice(1)) console.log(line(r));
}

/** Writes `<name>.json` (and a timestamped copy) and any extra files into `dir` (default bench/results/). */
export function writeResults(name, data, extra = {}, dir = resultsDir) {
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const json = `${JSON.stringify(data, null, 2)}\n`;
  const written = [path.join(dir, `${name}.json`), path.join(dir, `${name}-${stamp}.json`)];
  writeFileSync(written[0], json);
  writeFileSync(written[1], json);
  for (const [file, text] of Object.entries(extra)) {
    const p = path.join(dir, file);
    writeFileSync(p, text);
    written.push(p);
  }
  return written;
}

/** Simple --flag / --key value / --key=value parser. */
export function parseArgs(argv, spec) {
  const out = {};
  for (const [k, v] of Object.entries(spec)) out[k] = v.default;
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    a = a.slice(2);
    let value;
    if (a.includes('=')) [a, value] = [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)];
    const key = a.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    const neg = key.startsWith('no') && spec[key[2]?.toLowerCase() + key.slice(3)]?.type === 'bool';
    const k = neg ? key[2].toLowerCase() + key.slice(3) : key;
    const s = spec[k];
    if (!s)
      throw new Error(
        `unknown option --${a} (options: ${Object.keys(spec)
          .map((x) => `--${x.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`)
          .join(' ')})`,
      );
    if (s.type === 'bool') {
      out[k] = !neg;
      continue;
    }
    if (value === undefined) value = argv[++i];
    if (value === undefined) throw new Error(`--${a} needs a value`);
    out[k] =
      s.type === 'int' ? Number.parseInt(value, 10) : s.type === 'list' ? value.split(',').filter(Boolean) : value;
    if (s.type === 'int' && !Number.isFinite(out[k])) throw new Error(`--${a} expects an integer`);
  }
  return out;
}
