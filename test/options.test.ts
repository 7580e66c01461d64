// The run options are declared once (src/options.ts): the library validates them and names
// fields, the command line builds its flags from the declaration and names flags, and nothing
// below src/cli knows a flag.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { declaredDefaults, IDENTITY_FIELDS, METHODS, methodParts, OptionError, optionFields, parseOption, RUN_OPTIONS, validateOptions, type OptionField } from '../src/options.js';
import { DEFAULT_DISTILL, validateDistillOptions } from '../src/kd/distill.js';
import { addDistillOptions, addTrainingOptions } from '../src/cli/main.js';
import { addFieldOptions, flagOf, withFlags } from '../src/cli/run-options.js';
import { RUN_IDENTITY } from '../src/cli/train.js';

const thrown = (f: () => unknown): OptionError => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(OptionError);
    return e as OptionError;
  }
  throw new Error('no error');
};

describe('the run options, declared once', () => {
  it('the validator names the field and the value, never a flag', () => {
    const e = thrown(() => validateOptions({ temperature: 0 }));
    expect(e.field).toBe('temperature');
    expect(e.message).toBe('temperature must be a finite number > 0, got 0');
    expect(thrown(() => validateOptions({ eta: 1 })).message).toBe('eta must be a number in (0, 1), got 1');
    expect(thrown(() => validateOptions({ dsRestWeight: 'lambda2' })).message).toBe('dsRestWeight must be a finite number >= 0, or "lambda1", got "lambda2"');
    expect(thrown(() => validateOptions({ batchSize: 2.5 })).message).toBe('batchSize must be an integer >= 1, got 2.5');
    expect(thrown(() => validateOptions({ method: 'kd+magic' })).message).toMatch(/^method must be one of ce, kd, /);
    expect(() => validateOptions({ ...declaredDefaults(), epochs: 3 })).not.toThrow();
  });

  it("distill()'s checks are the declaration's: a rule between options names both fields", () => {
    const e = thrown(() => validateDistillOptions({ ...DEFAULT_DISTILL, method: 'kd+lr+ds', student: 'student-cnn', epochs: 1 }));
    expect(e.message).toBe('dsWarmupEpochs (1) must be smaller than epochs (1) for kd+lr+ds');
    expect(e.describe(flagOf)).toBe('--ds-warmup-epochs (1) must be smaller than --epochs (1) for kd+lr+ds');
    expect(DEFAULT_DISTILL.temperature).toBe(RUN_OPTIONS.temperature.default);
  });

  it('the command line maps fields to flags in one place, and rewords library errors with them', () => {
    expect(flagOf('temperature')).toBe('--T');
    expect(flagOf('batchSize')).toBe('--batch');
    expect(flagOf('dsRestWeight')).toBe('--ds-rest-weight');
    expect((withFlags(thrown(() => validateOptions({ temperature: -1 }))) as Error).message).toBe('--T must be a finite number > 0, got -1');
    expect(thrown(() => parseOption('eta', '1.5')).describe(flagOf)).toBe('--eta must be a number in (0, 1), got "1.5"');
  });

  it("every declared training and method option is a flag of distill, parsed into the field's name", () => {
    const cmd = addDistillOptions(addTrainingOptions(new Command('distill')));
    const attributes = cmd.options.map((o) => o.attributeName());
    for (const field of [...optionFields('training'), ...optionFields('method')].filter((f) => f !== 'method' && f !== 'student')) {
      expect(attributes, field).toContain(field);
    }
    cmd.parse(['--T', '2', '--batch', '8', '--ds-rest-weight', 'lambda1', '--nesterov'], { from: 'user' });
    expect(cmd.opts()).toMatchObject({ temperature: 2, batchSize: 8, dsRestWeight: 'lambda1', nesterov: true, eta: RUN_OPTIONS.eta.default });
  });

  it("the options of data selection, ensembles and label noise are declared and checked there too", () => {
    expect(thrown(() => validateOptions({ dsScore: 'loudness' })).message).toMatch(/^dsScore must be one of influence, influence-avg, teacher-margin, .*, got "loudness"$/);
    expect(thrown(() => validateOptions({ ensembleMean: 'median' })).message).toBe('ensembleMean must be one of probability, logit, got "median"');
    expect(thrown(() => validateOptions({ labelNoise: 1.5 })).message).toBe('labelNoise must be a number in [0, 1], got 1.5');
    expect(thrown(() => validateOptions({ valSplit: -1 })).message).toBe('valSplit must be an integer >= 0, got -1');
    const alone = thrown(() => validateOptions({ noisePairs: '6:0' }));
    expect(alone.describe(flagOf)).toBe('--noise-pairs goes with --label-noise (the fraction of labels to swap)');
    expect(thrown(() => validateOptions({ labelNoise: 0.2, noisePairs: '6-0' })).describe(flagOf)).toBe('--noise-pairs "6-0" is not a pair of class numbers "a:b" (e.g. 6:0,2:4)');
    expect(() => validateOptions({ labelNoise: 0.2, noisePairs: '6:0,2:4', dsScore: 'teacher-margin', ensembleMean: 'logit' })).not.toThrow();
    // Help that mentions another option names it by field in the library and by flag on the command line.
    expect(RUN_OPTIONS.noisePairs.help).toMatch(/^with \{labelNoise\}: /);
    const train = addTrainingOptions(new Command('train'));
    addFieldOptions(train, optionFields('train'));
    expect(train.options.find((o) => o.attributeName() === 'noisePairs')!.description).toMatch(/^with --label-noise: /);
    train.parse(['--label-noise', '0.1', '--save', 'best', '--val-split', '0'], { from: 'user' });
    expect(train.opts()).toMatchObject({ labelNoise: 0.1, save: 'best', valSplit: 0 });
  });

  it("--resume compares every identity field", () => {
    for (const field of IDENTITY_FIELDS) expect(RUN_IDENTITY).toContain(field);
    expect(IDENTITY_FIELDS).toContain('temperature');
  });

  it('every method parses into its parts', () => {
    for (const m of METHODS) expect(['ce', 'kd', 'dkd']).toContain(methodParts(m).loss);
    expect(methodParts('dkd+lr+ds')).toEqual({ loss: 'dkd', revise: true, select: 'score' });
  });

  it('no source file below src/cli names a flag of the command line', () => {
    const cliFiles = readdirSync('src/cli').map((f) => readFileSync(join('src/cli', f), 'utf8'));
    const flags = new Set((Object.keys(RUN_OPTIONS) as OptionField[]).map(flagOf));
    for (const text of cliFiles) for (const m of text.matchAll(/['"`](--(?:no-)?[a-zA-Z][\w-]*)/g)) flags.add(m[1].replace(/^--no-/, '--'));
    const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
    const named: string[] = [];
    for (const file of files('src').filter((f) => f.endsWith('.ts') && !f.startsWith(join('src', 'cli')))) {
      const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
      for (const m of code.matchAll(/--(?:no-)?([a-zA-Z][\w-]*)/g)) if (flags.has(`--${m[1]}`)) named.push(`${file}: ${m[0]}`);
    }
    expect(named).toEqual([]);
  });
});
