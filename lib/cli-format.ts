/**
 * What the CLI shows a person: short tables for fill-mask and classify (when stdout is a terminal; JSON
 * otherwise or with --json) and a progress line while a large model's weights load (stderr, terminal only).
 */
import type { ClassifyResult } from './pipelines/classify';
import type { FillMaskCandidate } from './pipelines/fill-mask';

/** Columns padded to their widest cell; the first row is the header. Numbers right-aligned. */
export function table(rows: string[][], rightAligned: readonly number[] = []): string {
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((cell, c) => {
      widths[c] = Math.max(widths[c] ?? 0, [...cell].length);
    });
  }
  return rows
    .map((r) =>
      r
        .map((cell, c) => {
          const pad = ' '.repeat((widths[c] ?? 0) - [...cell].length);
          return rightAligned.includes(c) ? pad + cell : c === r.length - 1 ? cell : cell + pad;
        })
        .join('  '),
    )
    .join('\n');
}

/** Shortens a text to `max` characters with an ellipsis. */
function clip(text: string, max: number): string {
  const chars = [...text.replace(/\s+/g, ' ')];
  return chars.length <= max ? chars.join('') : `${chars.slice(0, max - 1).join('')}…`;
}

export function fillMaskTable(text: string, masks: FillMaskCandidate[][]): string {
  return masks
    .map((candidates, m) => {
      const head = masks.length > 1 ? `mask ${m + 1} of ${masks.length} in: ${clip(text, 70)}` : clip(text, 80);
      const rows = [
        ['#', 'token', 'score', 'sequence'],
        ...candidates.map((c, i) => [String(i + 1), c.token, c.score.toFixed(4), clip(c.sequence, 70)]),
      ];
      return `${head}\n${table(rows, [0, 2])}`;
    })
    .join('\n\n')
    .concat('\n');
}

export function classifyTable(texts: readonly string[], results: readonly ClassifyResult[]): string {
  const rows = [
    ['text', 'label', 'score'],
    ...results.map((r, i) => [clip(texts[i] ?? '', 50), r.label, r.score.toFixed(4)]),
  ];
  return `${table(rows, [2])}\n`;
}

/**
 * A progress line for loading weights, rewritten in place (\r) at most every 100 ms. Nothing for a load that
 * finishes within 300 ms; a line that was shown is completed with a newline.
 */
export function loadProgress(
  write: (text: string) => void,
  label: string,
): (p: { loaded: number; total: number }) => void {
  const start = Date.now();
  let last = 0;
  let shown = false;
  return ({ loaded, total }) => {
    const now = Date.now();
    const done = loaded >= total;
    if (now - start < 300 || (!done && now - last < 100) || (done && !shown)) return;
    last = now;
    shown = true;
    const pct = total === 0 ? 100 : Math.floor((100 * loaded) / total);
    const width = 24;
    const bar = '#'.repeat(Math.round((width * pct) / 100)).padEnd(width, '.');
    write(
      `\rloading ${label} [${bar}] ${(loaded / 1e6).toFixed(0)} / ${(total / 1e6).toFixed(0)} MB${done ? '\n' : ''}`,
    );
  };
}
