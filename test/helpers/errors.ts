/** The assertion the error tests share: a call throws an FffError with a given code (and message). */
import { expect } from 'vitest';
import { FffError } from '../../lib/errors';

/** Asserts that fn() throws an FffError with `code` and, when given, a message matching `message`. */
export function expectFffError(fn: () => unknown, code: string, message?: RegExp): FffError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected an FffError').toBeInstanceOf(FffError);
  const err = caught as FffError;
  expect(err.code).toBe(code);
  if (message) expect(err.message).toMatch(message);
  return err;
}
