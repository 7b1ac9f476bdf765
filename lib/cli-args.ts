/**
 * The command-line pieces that `fffbert` (lib/cli.ts) and `fffbert serve` (lib/server/serve-command.ts) share:
 * the usage error, the options that load a model, and numeric option values.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { LoadModelOptions } from './model';
import type { IsaName } from './runtime';

/** A command-line mistake: the command prints it with a pointer to its usage and exits 2. */
export class UsageError extends Error {}

/** Whether `err` is a usage error: ours, or node:util parseArgs's (unknown option, missing value, ...). */
export function isUsageError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'));
}

/** parseArgs options of every command that loads a model: --threads, --isa, --truncation, --quiet. */
export const MODEL_ARGS = {
  threads: { type: 'string' },
  isa: { type: 'string' },
  truncation: { type: 'boolean' },
  quiet: { type: 'boolean' },
} as const;

type CommandArgs<O> = { args: string[]; allowPositionals: true; strict: true; options: typeof MODEL_ARGS & O };

/** Parses a command's arguments (strict; positionals allowed): MODEL_ARGS and the command's own `options`. */
export function parseModelArgs<O extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: O,
): ReturnType<typeof parseArgs<CommandArgs<O>>> {
  return parseArgs({ args, allowPositionals: true, strict: true, options: { ...MODEL_ARGS, ...options } });
}

/**
 * The value of --`name` as a number >= `min` (an integer unless `integer` is false); undefined when the option
 * is absent. A UsageError names the option otherwise.
 */
export function numberArg(name: string, value: string | undefined, min: number, integer = true): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isSafeInteger(n))) {
    const what = !integer ? `a number >= ${min}` : min === 1 ? 'a positive integer' : `an integer >= ${min}`;
    throw new UsageError(`--${name} expects ${what} but received "${value}"`);
  }
  return n;
}

/** loadModel's options from --threads, --isa and --truncation; an option not given stays absent. */
export function modelOptions(values: { threads?: string; isa?: string; truncation?: boolean }): LoadModelOptions {
  const options: LoadModelOptions = {};
  const threads = numberArg('threads', values.threads, 1);
  if (threads !== undefined) options.threads = threads;
  if (values.isa !== undefined) options.isa = values.isa as IsaName;
  if (values.truncation) options.truncation = true;
  return options;
}
