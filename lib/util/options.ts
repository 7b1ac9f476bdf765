/** The checks of options every public entry point starts with: an options object, a value from a list. */
import { ErrorCode, FffError, invalidArgument } from '../errors';

/** `value` as an options object: {} when undefined; ERR_FFF_INVALID_ARGUMENT naming `name` when not an object. */
export function expectOptions(name: string, value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new FffError(
      ErrorCode.INVALID_ARGUMENT,
      `Expected ${name} to be an object but received ${value === null ? 'null' : typeof value}`,
    );
  }
  return value as Record<string, unknown>;
}

/**
 * `value` when it is one of `choices` (`fallback` when it is undefined and a fallback is given); otherwise
 * ERR_FFF_INVALID_ARGUMENT naming `name` and listing the choices.
 */
export function expectOneOf<T extends string>(name: string, value: unknown, choices: readonly T[], fallback?: T): T {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value))
    throw invalidArgument(name, `one of ${choices.join(', ')}`, value);
  return value as T;
}
