// Shared by the reader tests: `fn` must throw a FormatError whose message contains every fragment.
import { expect } from 'vitest';
import { FormatError } from '../src/util/format-error.js';

export function expectFormatError(fn: () => unknown, ...fragments: string[]): FormatError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected an error').toBeInstanceOf(FormatError);
  for (const f of fragments) expect((caught as Error).message).toContain(f);
  return caught as FormatError;
}
