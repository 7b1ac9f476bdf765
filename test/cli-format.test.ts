import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../lib/cli';
import { classifyTable, fillMaskTable, loadProgress, table } from '../lib/cli-format';

const fixtures = path.join(__dirname, 'fixtures');

async function run(
  argv: string[],
  tty: { stdout?: boolean; stderr?: boolean } = {},
): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, {
    stdout: (t) => (out += t),
    stderr: (t) => (err += t),
    stdoutIsTTY: tty.stdout,
    stderrIsTTY: tty.stderr,
  });
  return { code, out, err };
}

describe('CLI output for a person', () => {
  it('table() pads columns, right-aligns the numeric ones, leaves no trailing blanks', () => {
    expect(
      table(
        [
          ['a', 'num', 'text'],
          ['long cell', '1.5', 'x'],
          ['b', '10.25', 'yy'],
        ],
        [1],
      ),
    ).toBe(['a            num  text', 'long cell    1.5  x', 'b          10.25  yy'].join('\n'));
  });

  it('fill-mask and classify print tables on a terminal, JSON when piped or with --json', async () => {
    const text = 'the capital of france is [MASK].';
    const mlm = path.join(fixtures, 'bert-tiny-mlm');
    const piped = await run(['fill-mask', mlm, text, '--top-k', '2']);
    const masks = JSON.parse(piped.out);
    expect(masks[0]).toHaveLength(2);
    const tty = await run(['fill-mask', mlm, text, '--top-k', '2'], { stdout: true });
    expect(tty.code).toBe(0);
    expect(tty.out).toBe(fillMaskTable(text, masks));
    const lines = tty.out.trimEnd().split('\n');
    expect(lines[0]).toBe(text);
    expect(lines[1]).toMatch(/^#\s+token\s+score\s+sequence$/);
    expect(lines[2]).toContain(masks[0][0].token);
    expect(lines[2]).toContain(masks[0][0].score.toFixed(4));
    expect(JSON.parse((await run(['fill-mask', mlm, text, '--top-k', '2', '--json'], { stdout: true })).out)).toEqual(
      masks,
    );

    const cls = path.join(fixtures, 'bert-tiny-cls');
    const texts = ['great movie', 'a rather long review that the table shortens to fifty characters with an ellipsis'];
    const results = JSON.parse((await run(['classify', cls, ...texts])).out);
    const table2 = (await run(['classify', cls, ...texts], { stdout: true })).out;
    expect(table2).toBe(classifyTable(texts, results));
    expect(table2.split('\n')[2]).toMatch(/^a rather long review .{20,}… +LABEL_\d+ +0\.\d{4}$/);
  });

  it('loadProgress: nothing for a fast load, a \\r line finished by a newline for a slow one', async () => {
    let fast = '';
    const p1 = loadProgress((t) => (fast += t), 'weights');
    p1({ loaded: 5, total: 10 });
    p1({ loaded: 10, total: 10 });
    expect(fast).toBe('');
    let slow = '';
    const p2 = loadProgress((t) => (slow += t), 'weights');
    await new Promise((r) => setTimeout(r, 320));
    p2({ loaded: 5e6, total: 10e6 });
    p2({ loaded: 6e6, total: 10e6 }); // within 100 ms: skipped
    p2({ loaded: 10e6, total: 10e6 });
    expect(slow).toBe(
      '\rloading weights [############............] 5 / 10 MB\rloading weights [########################] 10 / 10 MB\n',
    );
  });

  it('no progress when stderr is not a terminal or with --quiet', async () => {
    const mlm = path.join(fixtures, 'bert-tiny-mlm');
    expect((await run(['embed', mlm, 'x'])).err).toBe('');
    expect((await run(['embed', mlm, 'x', '--quiet'], { stderr: true })).err).toBe('');
  });
});
