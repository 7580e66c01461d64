// The run options (src/options.ts) as command-line flags: the one place that maps a field to its
// flag. Each flag's commander option is built from the field's declaration and parses into the
// field's own name (`--T` fills `temperature`), and a library error about an option is reworded
// here with the flags a CLI user typed.

import { InvalidArgumentError, Option, type Command } from 'commander';
import { FormatError } from '../util/format-error.js';
import { OptionError, RUN_OPTIONS, optionHelp, parseOption, type OptionDecl, type OptionField } from '../options.js';

/** Flags that are not the field's name in kebab case. */
const FLAG_NAMES: Partial<Record<OptionField, string>> = { temperature: '--T', batchSize: '--batch' };

const kebab = (field: string) => field.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());

/** The flag of an option's field (`temperature` → `--T`, `adapter` → `--adapter`). */
export function flagOf(field: string): string {
  return FLAG_NAMES[field as OptionField] ?? `--${kebab(field)}`;
}

/** The name commander would have given the flag's value: how checkpoints before the declaration recorded it (`T`, `batch`). */
export const flagAttribute = (field: string): string => flagOf(field).slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** An error for a CLI user: an OptionError (or a FormatError that suggests an option) reworded with flags, anything else as it is. */
export function withFlags(e: unknown): unknown {
  return e instanceof OptionError || e instanceof FormatError ? new Error(e.describe(flagOf)) : e;
}

/** A commander option that stores its value under the field's name. */
class FieldOption extends Option {
  constructor(
    private readonly field: OptionField,
    flags: string,
    help: string,
  ) {
    super(flags, help);
  }
  override attributeName(): string {
    return this.field;
  }
}

const PLACEHOLDER: Record<OptionDecl['type'], string> = { int: '<n>', number: '<x>', numbers: '<list>', choice: '<name>', text: '<text>', boolean: '' };

/** The commander option of a declared field; `defaultValue` replaces the declared default (train's learning rate). */
export function fieldOption(field: OptionField, defaultValue?: unknown): Option {
  const d: OptionDecl = RUN_OPTIONS[field];
  const fallback = defaultValue ?? d.default;
  const flag = flagOf(field);
  const help = optionHelp(d, flagOf);
  if (d.type === 'boolean') return new FieldOption(field, fallback === true ? `--no-${flag.slice(2)}` : flag, help).default(fallback);
  const option = new FieldOption(field, `${flag} ${d.placeholder ? `<${d.placeholder}>` : PLACEHOLDER[d.type]}`, help);
  if (d.type === 'choice') option.choices([...d.choices!]);
  else {
    option.argParser((text: string) => {
      try {
        return parseOption(field, text);
      } catch (e) {
        throw e instanceof OptionError ? new InvalidArgumentError(e.describe(flagOf)) : e;
      }
    });
  }
  return fallback === undefined ? option : option.default(fallback);
}

/** Add the flags of these fields to a command. */
export function addFieldOptions(cmd: Command, fields: readonly OptionField[], defaults: Partial<Record<OptionField, unknown>> = {}): Command {
  for (const field of fields) cmd.addOption(fieldOption(field, defaults[field]));
  return cmd;
}
