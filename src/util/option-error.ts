// An error about an option, worded by whoever shows it: the library names fields (`temperature`),
// the command line its flags (`--T`). Any layer may throw one; it knows nothing of flags.

export class OptionError extends Error {
  /**
   * `describe(name)` words the error with each field it mentions named by `name`; `message` uses
   * the fields themselves.
   */
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly describe: (name: (field: string) => string) => string,
  ) {
    super(describe((f) => f));
    this.name = 'OptionError';
  }
}
