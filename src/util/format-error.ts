// One error type for every reader of bytes from outside (datasets, checkpoints), so a failing
// input always says which file, which field, and what was expected instead of what was found.

/** Words a field by how the reader names it: the library by the field, the command line by its flag. */
export type FieldNamer = (field: string) => string;

export class FormatError extends Error {
  override readonly name = 'FormatError';
  readonly detail: string;

  /**
   * `detail` may name an option that would read the input differently: then it is a function of
   * how options are named, and `describe(name)` words it for whoever shows the error (the CLI: flags).
   */
  constructor(
    readonly file: string,
    readonly field: string,
    private readonly describeDetail: string | ((name: FieldNamer) => string),
  ) {
    const detail = typeof describeDetail === 'string' ? describeDetail : describeDetail((f) => f);
    super(`${file}: ${field}: ${detail}`);
    this.detail = detail;
  }

  /** The message, with the options it suggests named by `name`. */
  describe(name: FieldNamer): string {
    return typeof this.describeDetail === 'string' ? this.message : `${this.file}: ${this.field}: ${this.describeDetail(name)}`;
  }
}
