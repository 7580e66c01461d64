// One error type for every reader of bytes from outside (datasets, checkpoints), so a failing
// input always says which file, which field, and what was expected instead of what was found.

export class FormatError extends Error {
  override readonly name = 'FormatError';

  constructor(
    readonly file: string,
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${file}: ${field}: ${detail}`);
  }
}
