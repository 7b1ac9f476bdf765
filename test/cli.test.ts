import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { errorLine, main } from '../lib/cli';

const fixtures = path.join(__dirname, 'fixtures');
const root = path.join(__dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fffbert-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function run(argv: string[], packageRoot = root): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), packageRoot });
  return { code, stdout, stderr };
}

describe('fffbert CLI', () => {
  it('the package bin runs as a command and prints the help', () => {
    // package.json's bin names the built file; its shebang (kept by tsc) makes it runnable as a command.
    const bin = path.join(root, require('../package.json').bin.fffbert);
    fs.chmodSync(bin, 0o755); // npm sets the mode on install; a local build leaves it as tsc wrote it
    const out = execFileSync(bin, ['--help'], { encoding: 'utf8' });
    expect(out).toMatch(/Usage: fffbert <command>/);
  });

  it('--help, no command, unknown commands and options', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Usage: fffbert <command>/);
    expect((await run(['embed', '--help'])).stdout).toMatch(/--pooling mean\|cls/);
    const none = await run([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/Usage/);
    const unknown = await run(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
    const badOption = await run(['embed', 'dir', 'text', '--colour']);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toMatch(/--colour/);
    const badThreads = await run(['embed', 'dir', 'text', '--threads', 'many']);
    expect(badThreads.code).toBe(2);
    expect(badThreads.stderr).toMatch(/--threads expects a positive integer but received "many"/);
    expect((await run(['embed', path.join(fixtures, 'bert-tiny-mlm')])).stderr).toMatch(
      /embed needs at least one text/,
    );
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    expect((await run(['--version'])).stdout.trim()).toBe(pkg.version);
  });

  it('info reports ISA, threads, version and the binary origin as JSON', async () => {
    const r = await run(['info']);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout) as {
      isa: { supported: string[]; active: string };
      threads: number;
      binary: string;
      version: string;
    };
    expect(info.isa.supported).toContain('scalar');
    expect(info.isa.supported).toContain(info.isa.active);
    expect(info.threads).toBeGreaterThanOrEqual(1);
    expect(['prebuilt', 'source']).toContain(info.binary);
    expect(info.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('embed prints one normalised embedding per text', async () => {
    const r = await run([
      'embed',
      path.join(fixtures, 'bert-tiny-mlm'),
      'Hello, world!',
      'second text',
      '--threads',
      '1',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Array<{ text: string; embedding: number[] }>;
    expect(out.map((o) => o.text)).toEqual(['Hello, world!', 'second text']);
    for (const o of out) {
      expect(o.embedding.length).toBe(32);
      expect(Math.hypot(...o.embedding)).toBeCloseTo(1, 6);
    }
    const raw = JSON.parse(
      (
        await run([
          'embed',
          path.join(fixtures, 'bert-tiny-mlm'),
          'Hello, world!',
          '--no-normalize',
          '--pooling',
          'cls',
        ])
      ).stdout,
    ) as Array<{ embedding: number[] }>;
    expect(Math.abs(Math.hypot(...raw[0].embedding) - 1)).toBeGreaterThan(1e-3);
  });

  it('fill-mask and classify print JSON results', async () => {
    const fm = await run([
      'fill-mask',
      path.join(fixtures, 'bert-tiny-mlm'),
      'The capital of France is [MASK].',
      '--top-k',
      '3',
    ]);
    expect(fm.code).toBe(0);
    const candidates = JSON.parse(fm.stdout) as Array<
      Array<{ token: string; tokenId: number; score: number; sequence: string }>
    >;
    expect(candidates.length).toBe(1);
    expect(candidates[0].length).toBe(3);
    expect(candidates[0][0]).toEqual(
      expect.objectContaining({
        token: expect.any(String),
        tokenId: expect.any(Number),
        score: expect.any(Number),
        sequence: expect.any(String),
      }),
    );
    const cl = await run(['classify', path.join(fixtures, 'bert-tiny-cls'), 'good', 'bad']);
    expect(cl.code).toBe(0);
    const results = JSON.parse(cl.stdout) as Array<{ text: string; label: string; score: number; scores: number[] }>;
    expect(results.map((r) => r.text)).toEqual(['good', 'bad']);
    for (const r of results) {
      expect(['LABEL_0', 'LABEL_1', 'LABEL_2']).toContain(r.label);
      expect(r.scores.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    }
  });

  it('library errors exit 1 with the code and message', async () => {
    const r = await run(['embed', path.join(tmp, 'absent'), 'x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^fffbert: Model folder not found: .*absent \(ERR_FFF_FILE_NOT_FOUND\)\n$/);
    const cls = await run(['fill-mask', path.join(fixtures, 'bert-tiny-cls'), 'a [MASK]']);
    expect(cls.code).toBe(1);
    expect(cls.stderr).toMatch(/ERR_FFF_UNSUPPORTED_MODEL/);
    const isaBad = await run(['embed', path.join(fixtures, 'bert-tiny-mlm'), 'x', '--isa', 'sse9']);
    expect(isaBad.code).toBe(1);
    expect(isaBad.stderr).toMatch(/Expected isa to be one of scalar, avx2, avx512, neon but received string "sse9"/);
  });

  it('bench runs bench/layer.mjs (or e2e.mjs) with the other arguments and its exit code', async () => {
    const pkg = path.join(tmp, 'pkg');
    fs.mkdirSync(path.join(pkg, 'bench'), { recursive: true });
    const script = (name: string, code: number): string =>
      `require('node:fs').writeFileSync(${JSON.stringify(path.join(tmp, `${name}.json`))}, JSON.stringify(process.argv.slice(2))); process.exit(${code});`;
    fs.writeFileSync(
      path.join(pkg, 'bench', 'layer.mjs'),
      `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); ${script('layer', 0)}`,
    );
    fs.writeFileSync(
      path.join(pkg, 'bench', 'e2e.mjs'),
      `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url); ${script('e2e', 3)}`,
    );
    expect((await run(['bench', '--reps', '3', '--only', 'fff'], pkg)).code).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(tmp, 'layer.json'), 'utf8'))).toEqual(['--reps', '3', '--only', 'fff']);
    expect((await run(['bench', '--e2e', '--batch', '8'], pkg)).code).toBe(3);
    expect(JSON.parse(fs.readFileSync(path.join(tmp, 'e2e.json'), 'utf8'))).toEqual(['--batch', '8']);
    const missing = await run(['bench'], tmp);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/bench[/\\]layer.mjs not found/);
  });
});

describe('fffbert CLI: user errors are one line with the code, no stack', () => {
  /** `fffbert: <message> (<code>)` and nothing else. */
  const oneLine = (stderr: string, code: string) => {
    expect(stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(stderr).toMatch(new RegExp(`^fffbert: .* \\(${code}\\)\\n$`));
    expect(stderr).not.toMatch(/\n\s+at /);
  };

  it('missing model, EISDIR, bad args', async () => {
    const missing = await run(['embed', path.join(tmp, 'absent'), 'x']);
    expect(missing.code).toBe(1);
    oneLine(missing.stderr, 'ERR_FFF_FILE_NOT_FOUND');
    const dir = path.join(tmp, 'eisdir');
    fs.cpSync(path.join(fixtures, 'bert-tiny-mlm'), dir, { recursive: true });
    fs.rmSync(path.join(dir, 'tokenizer.json'));
    fs.mkdirSync(path.join(dir, 'tokenizer.json'));
    const eisdir = await run(['embed', dir, 'x']);
    expect(eisdir.code).toBe(1);
    oneLine(eisdir.stderr, 'ERR_FFF_INVALID_MODEL');
    expect(eisdir.stderr).toMatch(/tokenizer\.json is a directory/);
    const unknown = await run(['frobnicate']);
    expect(unknown.code).toBe(2);
    oneLine(unknown.stderr, 'ERR_FFF_INVALID_ARGUMENT');
    const option = await run(['embed', dir, 'x', '--colour']);
    expect(option.code).toBe(2);
    oneLine(option.stderr, 'ERR_PARSE_ARGS_UNKNOWN_OPTION');
  });

  it('EACCES, native and fs errors with a code print their code; anything else says how to get the stack', () => {
    const eacces = Object.assign(new Error("EACCES: permission denied, open '/m/config.json'"), { code: 'EACCES' });
    expect(errorLine(eacces)).toBe("fffbert: EACCES: permission denied, open '/m/config.json' (EACCES)");
    const nativeErr = Object.assign(new Error('hidden size must be in [1, 2^24]\n  at native'), {
      code: 'ERR_FFF_INVALID_MODEL',
    });
    expect(errorLine(nativeErr)).toBe('fffbert: hidden size must be in [1, 2^24] (ERR_FFF_INVALID_MODEL)');
    expect(errorLine(new TypeError('boom'))).toBe('fffbert: internal error: boom (set FFFBERT_DEBUG=1 for the stack)');
  });

  const cli = path.join(root, 'dist', 'cli.js');
  const built = fs.existsSync(cli);
  if (!built) console.log('skipped: the CLI process tests need dist/cli.js (npm run build)');

  it.skipIf(!built)('EPIPE on stdout (fffbert embed ... | head -c 10) exits quietly', () => {
    // ~300 KB of JSON: more than a pipe holds, so the writes after head leaves fail with EPIPE
    const texts = Array.from({ length: 400 }, (_, i) => `text number ${i}`)
      .map((t) => JSON.stringify(t))
      .join(' ');
    const r = spawnSync(
      'bash',
      [
        '-c',
        `set -o pipefail; node ${JSON.stringify(cli)} embed ${JSON.stringify(path.join(fixtures, 'bert-tiny-mlm'))} ${texts} | head -c 10`,
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, FFFBERT_THREADS: '1' },
      },
    );
    expect(r.stdout).toBe('[\n  {\n    ');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it.skipIf(!built)('FFFBERT_THREADS=abc and FFFBERT_ISA=bogus are reported on stderr, not ignored silently', () => {
    const info = (env: Record<string, string>) =>
      spawnSync(process.execPath, [cli, 'info'], { encoding: 'utf8', env: { ...process.env, ...env } });
    const threads = info({ FFFBERT_THREADS: 'abc' });
    expect(threads.status).toBe(0);
    expect(threads.stderr).toMatch(/FFFBERT_THREADS=abc is not an integer in \[1, 1024\]; using \d+ threads/);
    const isaBad = info({ FFFBERT_ISA: 'bogus' });
    expect(isaBad.stderr).toMatch(/FFFBERT_ISA=bogus names an instruction set that is unknown/);
    const fine = info({ FFFBERT_THREADS: '2' });
    expect(fine.stderr).toBe('');
    expect((JSON.parse(fine.stdout) as { threads: number }).threads).toBe(2);
  });
});
