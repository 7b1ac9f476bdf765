// A small SVG line chart with log-log axes: one line per series, markers, a legend, title and axis titles.
// Written here so that the benchmarks need no plotting dependency.

const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#7f7f7f',
  '#bcbd22',
  '#393b79',
  '#637939',
  '#843c39',
  '#7b4173',
];
const DASHES = ['', '6 3', '2 3', '8 3 2 3'];

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function fmtTick(v) {
  if (Number.isInteger(v) && v < 1e5) return String(v);
  if (v >= 1e5 || v < 1e-2) return v.toExponential(0).replace('e+', 'e');
  return String(+v.toPrecision(3));
}

/** Tick values of a log axis over [lo, hi]: powers of `base`, plus 2x and 5x for decades when few. */
function logTicks(lo, hi, base) {
  const ticks = [];
  const a = Math.floor(Math.log(lo) / Math.log(base) + 1e-9);
  const b = Math.ceil(Math.log(hi) / Math.log(base) - 1e-9);
  for (let e = a; e <= b; e++) {
    const v = base ** e;
    if (v >= lo * 0.999 && v <= hi * 1.001) ticks.push(v);
    if (base === 10 && b - a <= 3) {
      for (const m of [2, 5]) if (m * v >= lo && m * v <= hi) ticks.push(m * v);
    }
  }
  return ticks.sort((x, y) => x - y);
}

/**
 * series: [{ name, points: [[x, y, yLow?, yHigh?]], color?, dash? }] (non-positive or missing y are skipped;
 * yLow/yHigh draw a min-max bar). Returns the SVG text.
 */
export function logLogChart({ title, subtitle = '', xLabel, yLabel, series, xBase = 2, width = 980, height = 600 }) {
  const legendW = 300;
  const m = { l: 80, r: legendW + 20, t: subtitle ? 62 : 44, b: 56 };
  const pw = width - m.l - m.r;
  const ph = height - m.t - m.b;
  const pts = series.flatMap((s) => s.points.filter((p) => p[1] > 0 && Number.isFinite(p[1])));
  if (pts.length === 0)
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="80"><text x="10" y="40">${esc(title)}: no data</text></svg>`;
  const xs = pts.map((p) => p[0]);
  const ys = pts.flatMap((p) => [p[1], p[2] ?? p[1], p[3] ?? p[1]]).filter((v) => v > 0);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  if (x0 === x1) [x0, x1] = [x0 / 2, x1 * 2];
  // A little room so that end points do not sit on the frame.
  const pad = (x1 / x0) ** 0.03;
  [x0, x1] = [x0 / pad, x1 * pad];
  const y0 = 10 ** Math.floor(Math.log10(Math.min(...ys)));
  const y1 = 10 ** Math.ceil(Math.log10(Math.max(...ys)));
  const X = (x) => m.l + ((Math.log(x) - Math.log(x0)) / (Math.log(x1) - Math.log(x0))) * pw;
  const Y = (y) => m.t + ph - ((Math.log(y) - Math.log(y0)) / (Math.log(y1) - Math.log(y0))) * ph;
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(
    `<text x="${m.l + pw / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`,
  );
  if (subtitle) out.push(`<text x="${m.l + pw / 2}" y="44" text-anchor="middle" fill="#555">${esc(subtitle)}</text>`);
  for (const v of logTicks(x0, x1, xBase)) {
    out.push(`<line x1="${X(v)}" x2="${X(v)}" y1="${m.t}" y2="${m.t + ph}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${X(v)}" y="${m.t + ph + 18}" text-anchor="middle">${fmtTick(v)}</text>`);
  }
  for (const v of logTicks(y0, y1, 10)) {
    const major = Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9;
    out.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${Y(v)}" y2="${Y(v)}" stroke="${major ? '#d0d0d0' : '#eeeeee'}"/>`,
    );
    out.push(`<text x="${m.l - 6}" y="${Y(v) + 4}" text-anchor="end">${fmtTick(v)}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${m.l + pw / 2}" y="${height - 14}" text-anchor="middle">${esc(xLabel)} (log scale)</text>`);
  out.push(
    `<text transform="translate(20 ${m.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)} (log scale)</text>`,
  );
  series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const dash = s.dash ?? DASHES[Math.floor(i / PALETTE.length) % DASHES.length];
    const p = s.points.filter((q) => q[1] > 0 && Number.isFinite(q[1])).sort((a, b) => a[0] - b[0]);
    if (p.length > 1) {
      const d = p.map((q, j) => `${j ? 'L' : 'M'}${X(q[0]).toFixed(1)},${Y(q[1]).toFixed(1)}`).join(' ');
      out.push(
        `<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
      );
    }
    for (const q of p) {
      if (q[2] > 0 && q[3] > 0)
        out.push(
          `<line x1="${X(q[0])}" x2="${X(q[0])}" y1="${Y(q[2])}" y2="${Y(q[3])}" stroke="${color}" stroke-width="1"/>`,
        );
      out.push(`<circle cx="${X(q[0]).toFixed(1)}" cy="${Y(q[1]).toFixed(1)}" r="3" fill="${color}"/>`);
    }
    const ly = m.t + 10 + i * 20;
    const lx = m.l + pw + 16;
    out.push(
      `<line x1="${lx}" x2="${lx + 28}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`,
    );
    out.push(`<circle cx="${lx + 14}" cy="${ly}" r="3" fill="${color}"/>`);
    out.push(`<text x="${lx + 36}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
