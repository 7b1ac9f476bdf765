/** The options-object check every public entry point starts with. */
import { ErrorCode, FffError } from '../errors';

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
