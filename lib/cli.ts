#!/usr/bin/env node
/**
 * The `fffbert` command: runtime info, the three pipelines on a model folder (JSON on stdout), and the
 * benchmarks of bench/ (run in a child process with the remaining arguments passed through).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { DenseDtype } from './bert/encoder';
import { isUsageError, modelOptions, numberArg, parseModelArgs, UsageError } from './cli-args';
import { classifyTable, fillMaskTable, loadProgress } from './cli-format';
import { ErrorCode, FffError } from './errors';
import type { LoadModelOptions, Model } from './model';

const USAGE = `Usage: fffbert <command> [options]

Commands:
  info                          instruction sets, threads, version and origin of the native binary
  embed <model> <text...>       sentence embeddings (JSON)
  fill-mask <model> <text>      candidates for each mask token of the text (a table on a terminal, else JSON)
  classify <model> <text...>    label and probabilities per text (a table on a terminal, else JSON)
  <model> is a folder or a hub id (org/name, e.g. pbelcak/UltraFastBERT-1x11-long) loaded through the
  Hugging Face cache (HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE as in Python)
  bench [--e2e] [args...]       run bench/layer.mjs (or bench/e2e.mjs with --e2e); other args pass through
                                (--quick: a result in under a minute; --threads 1,2,4; --out DIR; --quiet)
  serve <dir> [options]         HTTP service: /embed, /classify, /fill-mask, /health, /ready, /metrics
                                (fffbert serve --help)

Options of embed, fill-mask, classify:
  --threads <n>                 compute threads (default: FFFBERT_THREADS, else all cores)
  --isa <name>                  force scalar, avx2, avx512 or neon (default: the best this CPU supports)
  --truncation                  truncate texts longer than the model's maximum (default: refuse them)
  --dtype fp32|int8|bf16        arithmetic of the dense layers (default fp32)
  --pooling mean|cls            embed: pooling (default mean)
  --no-normalize                embed: keep the raw pooled vector (default: L2-normalised)
  --top-k <n>                   fill-mask: candidates per mask (default 5)
  --batch-size <n>              embed, classify: texts per forward (default 32)
  --json                        fill-mask, classify: JSON even on a terminal (a table is printed there otherwise;
                                JSON whenever stdout is a pipe or file)
  --quiet                       no progress lines on stderr (they appear only when it is a terminal)
  --revision <rev>              hub id: branch, tag or commit (default main)
  --offline                     hub id: use only the cache (as HF_HUB_OFFLINE=1)

  -h, --help                    this help
  -v, --version                 the package version
`;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether stderr is a terminal: download progress is shown there (default: process.stderr.isTTY). */
  stderrIsTTY?: boolean;
  /** Whether stdout is a terminal: fill-mask and classify print tables there, JSON otherwise (default: process.stdout.isTTY). */
  stdoutIsTTY?: boolean;
  /** Package root holding bench/ (default: the folder above dist/). */
  packageRoot?: string;
}

const defaultIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  stderrIsTTY: process.stderr.isTTY,
  stdoutIsTTY: process.stdout.isTTY,
};

function packageRoot(io: CliIo): string {
  return io.packageRoot ?? path.resolve(__dirname, '..');
}

function version(io: CliIo): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(io), 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}

async function info(io: CliIo): Promise<number> {
  const { isa, threads, nativeOrigin } = await import('./index');
  const i = isa();
  const report = {
    version: version(io),
    isa: { active: i.active, best: i.best, supported: i.supported },
    threads: threads(),
    binary: nativeOrigin,
    platform: `${process.platform}-${process.arch}`,
    node: process.version,
    features: i.features,
  };
  io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  return 0;
}

async function runBench(args: string[], io: CliIo): Promise<number> {
  const e2e = args.includes('--e2e');
  const rest = args.filter((a) => a !== '--e2e');
  const script = path.join(packageRoot(io), 'bench', e2e ? 'e2e.mjs' : 'layer.mjs');
  if (!fs.existsSync(script)) {
    io.stderr(`fffbert bench: ${script} not found (the package ships bench/: reinstall fffbert)\n`);
    return 1;
  }
  const child = spawn(process.execPath, [script, ...rest], { stdio: 'inherit' });
  return new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** One line per downloading file, rewritten in place (\r) at most every 100 ms and once at the end. */
function downloadProgress(io: CliIo): NonNullable<LoadModelOptions['onProgress']> {
  let last = 0;
  return ({ file, loaded, total }) => {
    const now = Date.now();
    if (loaded < total && now - last < 100) return;
    last = now;
    const mb = (n: number): string => (n / 1e6).toFixed(1);
    const pct = total === 0 ? 100 : Math.floor((100 * loaded) / total);
    io.stderr(`\rdownloading ${file}: ${mb(loaded)} / ${mb(total)} MB (${pct}%)${loaded === total ? '\n' : ''}`);
  };
}

async function runPipeline(command: string, args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseModelArgs(args, {
    dtype: { type: 'string' },
    pooling: { type: 'string' },
    'no-normalize': { type: 'boolean' },
    'top-k': { type: 'string' },
    'batch-size': { type: 'string' },
    revision: { type: 'string' },
    offline: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  const [dir, first, ...more] = positionals;
  if (dir === undefined) throw new UsageError(`${command} needs a model folder or hub id`);
  if (first === undefined) throw new UsageError(`${command} needs at least one text`);
  if (command === 'fill-mask' && more.length > 0) throw new UsageError('fill-mask takes one text (quote it)');
  const texts = [first, ...more];
  const options = modelOptions(values);
  if (values.dtype !== undefined) options.dtype = values.dtype as DenseDtype;
  if (values.revision !== undefined) options.revision = values.revision;
  if (values.offline) options.offline = true;
  if (io.stderrIsTTY && !values.quiet) {
    options.onProgress = downloadProgress(io);
    options.onLoadProgress = loadProgress(io.stderr, 'weights');
  }
  const asTable = io.stdoutIsTTY === true && !values.json;
  const batchSize = numberArg('batch-size', values['batch-size'], 1);

  const { loadModel } = await import('./model');
  const model: Model = await loadModel(dir, options);
  try {
    let result: unknown;
    let text: string | undefined; // the table, when stdout is a terminal
    if (command === 'embed') {
      const pooling = values.pooling ?? 'mean';
      if (pooling !== 'mean' && pooling !== 'cls')
        throw new UsageError(`--pooling expects mean or cls but received "${pooling}"`);
      const vectors = await model.embed(texts, { pooling, normalize: !values['no-normalize'], batchSize });
      result = vectors.map((v, i) => ({ text: texts[i], embedding: Array.from(v) }));
    } else if (command === 'fill-mask') {
      const masks = await model.fillMask(first, { topK: numberArg('top-k', values['top-k'], 1) });
      result = masks;
      if (asTable) text = fillMaskTable(first, masks);
    } else {
      const results = await model.classify(texts, { batchSize });
      result = results.map((r, i) => ({ text: texts[i], ...r }));
      if (asTable) text = classifyTable(texts, results);
    }
    io.stdout(text ?? `${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } finally {
    model.dispose();
  }
}

/** Runs the CLI on `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
      (command === undefined ? io.stderr : io.stdout)(USAGE);
      return command === undefined ? 2 : 0;
    }
    if (command === '-v' || command === '--version') {
      io.stdout(`${version(io)}\n`);
      return 0;
    }
    if (command === 'bench') return await runBench(rest, io);
    if (command === 'serve') return await (await import('./server/serve-command')).serveCommand(rest, io);
    if (rest.includes('-h') || rest.includes('--help')) {
      io.stdout(USAGE);
      return 0;
    }
    if (command === 'info') return await info(io);
    if (command === 'embed' || command === 'fill-mask' || command === 'classify')
      return await runPipeline(command, rest, io);
    throw new UsageError(`unknown command "${command}"`);
  } catch (err) {
    if (isUsageError(err)) {
      const code = (err as { code?: string }).code ?? ErrorCode.INVALID_ARGUMENT;
      io.stderr(`fffbert: ${(err as Error).message.split('\n')[0]}; see fffbert --help (${code})\n`);
      return 2;
    }
    io.stderr(`${errorLine(err)}\n`);
    return 1;
  }
}

/**
 * One line for an error: `fffbert: <message> (<code>)`. A user error (an FffError, a coded native or fs
 * error) prints no stack; anything else is a bug and says how to get the stack (FFFBERT_DEBUG=1).
 */
export function errorLine(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = (err instanceof Error ? err.message : String(err)).split('\n')[0];
  if (err instanceof FffError || (typeof code === 'string' && code.length > 0))
    return `fffbert: ${message} (${String(code)})`;
  if (process.env.FFFBERT_DEBUG && err instanceof Error && err.stack) return `fffbert: ${err.stack}`;
  return `fffbert: internal error: ${message} (set FFFBERT_DEBUG=1 for the stack)`;
}

if (typeof require !== 'undefined' && require.main === module) {
  // `fffbert embed ... | head -c 10`: the reader left; stop quietly as other Unix tools do.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    process.stderr.write(`${errorLine(err)}\n`);
    process.exit(1);
  });
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${errorLine(err)}\n`);
      process.exitCode = 1;
    },
  );
}
