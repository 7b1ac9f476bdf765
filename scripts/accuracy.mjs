#!/usr/bin/env node
// Accuracy of loadModel's int8 and bf16 dense layers against fp32 (issue 12), measured on every fixture of
// test/fixtures and, with --long DIR, on a UltraFastBERT-1x11-long-shaped folder (node scripts/make-ufb-long.mjs
// DIR writes one: 755 MB, random weights, the crammed tokenizer). What is measured: scripts/lib/accuracy.mjs.
//
//   npm run accuracy -- [--dtypes int8,bf16] [--long DIR] [--long-sequences 16] [--json FILE]
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measureAccuracy } from './lib/accuracy.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    dtypes: { type: 'string', default: 'int8,bf16' },
    long: { type: 'string' },
    'long-sequences': { type: 'string', default: '16' },
    json: { type: 'string' },
  },
});
const entry = path.join(root, 'dist', 'index.js');
if (!fs.existsSync(entry)) {
  console.error(`${entry} is missing: run npm run build first`);
  process.exit(1);
}
const fffbert = createRequire(entry)(entry);
const api = {
  fs,
  loadModel: fffbert.loadModel,
  FastFeedforward: fffbert.FastFeedforward,
  SafetensorsFile: fffbert.SafetensorsFile,
  createEncoder: fffbert.createEncoder,
};

const fixtures = ['ufb-tiny', 'ufb-tiny-k2', 'bert-tiny-mlm', 'bert-tiny-cls'].map((f) => ({
  dir: path.join(root, 'test', 'fixtures', f),
  name: f,
  options: {},
}));
const models = [...fixtures];
if (values.long)
  models.push({
    dir: path.resolve(values.long),
    name: `1x11-long (${path.basename(values.long)})`,
    options: { sequences: Number(values['long-sequences']), seq: 128 },
  });

const isa = fffbert.isa();
/** @type {any[]} */
const results = [];
for (const dtype of values.dtypes.split(',')) {
  for (const m of models) {
    const t0 = Date.now();
    const r = await measureAccuracy(api, m.dir, dtype, m.options);
    results.push({ name: m.name, ...r });
    process.stderr.write(`${m.name} ${dtype}: ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  }
}

const f = (x, d = 4) => (x === undefined ? '-' : x.toFixed(d));
const pct = (x) => (x === undefined ? '-' : `${(100 * x).toFixed(2)}%`);
const header = [
  'model',
  'dtype',
  'tokens',
  'hidden max abs',
  'hidden rel',
  'embed cos min',
  'routing paths (min layer)',
  'routing decisions',
  'fill-mask top-1 (sites)',
  'top-1 all',
  'class agree',
];
const rows = results.map((r) => [
  r.name,
  r.dtype,
  String(r.tokens),
  r.hidden.maxAbs.toExponential(2),
  r.hidden.relative.toExponential(2),
  f(r.embedding.minCosine, 6),
  r.routing ? `${pct(r.routing.pathAgreement)} (${pct(r.routing.minLayerPathAgreement)})` : '-',
  r.routing ? pct(r.routing.decisionAgreement) : '-',
  r.fillMask ? `${pct(r.fillMask.top1Agreement)} (${r.fillMask.sites})` : '-',
  r.fillMask ? pct(r.fillMask.top1AgreementAll) : '-',
  r.classification ? `${pct(r.classification.agreement)} of ${r.classification.rows}` : '-',
]);
console.log(
  `Accuracy against fp32, ISA ${isa.active} (${Object.entries(isa.features)
    .filter(([, v]) => v)
    .map(([k]) => k)
    .join(' ')})\n`,
);
console.log(`| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
const low = results.filter((r) => r.dtype !== 'fp32');
const worst = (get) => Math.min(...low.map(get).filter((x) => x !== undefined));
console.log(
  `\nworst over models: embedding cosine ${f(
    worst((r) => r.embedding.minCosine),
    6,
  )} (target >= 0.999), routing paths ${pct(worst((r) => r.routing?.pathAgreement))} (target >= 99%), fill-mask top-1 ${pct(worst((r) => r.fillMask?.top1Agreement))} (target >= 99%)`,
);
if (values.json)
  fs.writeFileSync(values.json, `${JSON.stringify({ isa, date: new Date().toISOString(), results }, null, 2)}\n`);
