// The run options, declared once: each field's type, default, range and help. The command line
// builds its flags from this table (src/cli/run-options.ts maps fields to flags), the page takes its
// defaults from it, distill() validates its options against it, and --resume compares the fields
// marked `identity`. Errors name fields and values; only the CLI knows flags.

import { MODEL_NAMES } from './nn/models.js';
import { DEFAULT_ONNX_INPUT, ONNX_LAYOUTS } from './interop/onnx-teacher.js';
import type { OptimizerRule } from './optim/optimizer.js';
import { DS_SCORE_NAMES, DS_SCORES } from './kd/selection.js';
import { parseNoisePairs } from './data/label-noise.js';
import { OptionError } from './util/option-error.js';

export { OptionError };

/**
 * The methods. A DS method selects Dt with the scorer `dsScore`; its "-random" twin is the same
 * method with a random subset of the same per-class size (its matched control), and
 * "kd+ds-correct" keeps the teacher-correct samples first (a control that needs the ground truth).
 */
export const METHODS = ['ce', 'kd', 'kd+lr', 'kd+ds', 'kd+lr+ds', 'dkd', 'dkd+lr+ds', 'kd+ds-random', 'kd+lr+ds-random', 'dkd+lr+ds-random', 'kd+ds-correct'] as const;
export type Method = (typeof METHODS)[number];

/** A method, parsed: its loss, whether it revises labels (LR), and how it selects the distilled subset (DS). */
export interface MethodParts {
  loss: 'ce' | 'kd' | 'dkd';
  revise: boolean;
  /** 'score': select with the run's dsScore; 'random' and 'teacher-correct': the controls' own order. */
  select: 'none' | 'score' | 'random' | 'teacher-correct';
}

const PARTS: Record<Method, MethodParts> = {
  ce: { loss: 'ce', revise: false, select: 'none' },
  kd: { loss: 'kd', revise: false, select: 'none' },
  'kd+lr': { loss: 'kd', revise: true, select: 'none' },
  'kd+ds': { loss: 'kd', revise: false, select: 'score' },
  'kd+lr+ds': { loss: 'kd', revise: true, select: 'score' },
  dkd: { loss: 'dkd', revise: false, select: 'none' },
  'dkd+lr+ds': { loss: 'dkd', revise: true, select: 'score' },
  'kd+ds-random': { loss: 'kd', revise: false, select: 'random' },
  'kd+lr+ds-random': { loss: 'kd', revise: true, select: 'random' },
  'dkd+lr+ds-random': { loss: 'dkd', revise: true, select: 'random' },
  'kd+ds-correct': { loss: 'kd', revise: false, select: 'teacher-correct' },
};

export function methodParts(method: Method): MethodParts {
  const parts = PARTS[method];
  if (!parts) throw new OptionError('method', method, (name) => `${name("method")} must be one of ${METHODS.join(', ')}, got ${JSON.stringify(method)}`);
  return parts;
}

/**
 * One option. `int` and `number` have a range (`min`/`max`, excluded when `minOpen`/`maxOpen`);
 * `keyword` is a word accepted in place of the number; `choice` has its `choices`; `numbers` is a
 * list (per channel). `group` says which commands take it ('training': train, distill and ablate;
 * 'train': train only; 'method': distill and ablate; 'teacher': distill); `identity`: a run resumed with --resume
 * must have the same value. `help` names another option as {field}, for the reader to word
 * (optionHelp).
 */
export interface OptionDecl {
  type: 'int' | 'number' | 'boolean' | 'choice' | 'numbers' | 'text';
  group: 'training' | 'train' | 'method' | 'teacher';
  help: string;
  default?: unknown;
  min?: number;
  max?: number;
  minOpen?: boolean;
  maxOpen?: boolean;
  keyword?: string;
  choices?: readonly string[];
  identity?: boolean;
  /** How the help shows the value (default by type: <n>, <x>, <name>…). */
  placeholder?: string;
}

const declare = <const T extends Record<string, OptionDecl>>(table: T): T => table;

export const RUN_OPTIONS = declare({
  // ---- training (train, distill, ablate) ----
  epochs: { type: 'int', group: 'training', min: 1, default: 10, identity: true, help: 'epochs' },
  batchSize: { type: 'int', group: 'training', min: 1, default: 128, identity: true, help: 'batch size' },
  // 0.05 killed the BN-free student-cnn's ReLUs in KD's first epoch for some seeds (KD's gradient
  // is λ2·T ≈ 3.6 times CE's); 0.02 was stable for every seed tried. `kdgpu train` uses 0.05.
  lr: { type: 'number', group: 'training', min: 0, minOpen: true, default: 0.02, identity: true, help: 'learning rate' },
  optimizer: { type: 'choice', group: 'training', choices: ['sgd', 'adam', 'adamw'], default: 'sgd', identity: true, help: 'optimizer' },
  momentum: { type: 'number', group: 'training', min: 0, max: 1, maxOpen: true, default: 0.9, identity: true, help: 'SGD momentum' },
  nesterov: { type: 'boolean', group: 'training', default: false, identity: true, help: 'Nesterov momentum' },
  weightDecay: { type: 'number', group: 'training', min: 0, max: 1, default: 5e-4, identity: true, help: 'weight decay' },
  schedule: { type: 'choice', group: 'training', choices: ['constant', 'cosine', 'step'], default: 'cosine', identity: true, help: 'learning-rate schedule' },
  seed: { type: 'int', group: 'training', min: 0, default: 1, identity: true, help: 'seed for initialisation, data order and augmentation' },
  trainSubset: { type: 'int', group: 'training', min: 1, identity: true, help: 'train on this many examples (a seeded subset) for quick runs' },
  testSubset: { type: 'int', group: 'training', min: 1, help: 'evaluate on the first n test examples only (quick runs)' },
  augment: { type: 'boolean', group: 'training', default: false, identity: true, help: 'random crop (pad 4) and, for colour images, horizontal flip' },
  stopAfter: { type: 'int', group: 'training', min: 1, help: 'stop after n epochs in this invocation (a resumed run continues from there)' },
  valSplit: { type: 'int', group: 'training', min: 0, identity: true, help: "training samples held out as the validation split (train: it chooses the epoch; distill: DS's validation gradient and the model choice, held out for every method); 0: none (for methods without DS). Default: 10% of the training set, at most 5,000" },

  // ---- supervised training only (train) ----
  save: { type: 'choice', group: 'train', choices: ['last', 'best'], default: 'last', help: "what {out} holds at the end: the last epoch's model, or the one with the best validation accuracy" },
  labelNoise: { type: 'number', group: 'train', min: 0, max: 1, identity: true, placeholder: 'p', help: 'relabel this fraction of the training labels (seeded, exact counts per class): a teacher that is wrong in a known way' },
  noisePairs: { type: 'text', group: 'train', identity: true, placeholder: 'a:b,...', help: 'with {labelNoise}: swap labels only within these class pairs, e.g. 6:0,2:4 (Fashion-MNIST: Shirt↔T-shirt/top, Pullover↔Coat); default: to a random other class' },

  // ---- the method (method.md; distill, ablate) ----
  method: { type: 'choice', group: 'method', choices: METHODS, default: 'kd+lr+ds', identity: true, help: 'distillation method' },
  student: { type: 'choice', group: 'method', choices: MODEL_NAMES, default: 'student-cnn', identity: true, help: 'student model' },
  temperature: { type: 'number', group: 'method', min: 0, minOpen: true, default: 4, identity: true, help: 'distillation temperature' },
  lambda1: { type: 'number', group: 'method', min: 0, default: 0.1, identity: true, help: 'weight of the cross-entropy term' },
  lambda2: { type: 'number', group: 'method', min: 0, default: 0.9, identity: true, help: 'weight of the KD term' },
  eta: { type: 'number', group: 'method', min: 0, max: 1, minOpen: true, maxOpen: true, default: 0.9, identity: true, help: 'label revision η, in (0, 1)' },
  lrScope: { type: 'choice', group: 'method', choices: ['all', 'wrong'], default: 'all', identity: true, help: 'revise all samples or only those the teacher gets wrong' },
  betaAtT1: { type: 'boolean', group: 'method', default: false, identity: true, help: 'compute β from the teacher at T = 1' },
  dsRatio: { type: 'number', group: 'method', min: 0, max: 1, minOpen: true, default: 0.7, identity: true, help: 'fraction of training samples kept for distillation, in (0, 1]' },
  dsRule: { type: 'choice', group: 'method', choices: ['ratio', 'sign'], default: 'ratio', identity: true, help: 'keep the lowest-score ratio, or every sample with a negative score' },
  dsBalance: { type: 'choice', group: 'method', choices: ['class', 'global'], default: 'class', identity: true, help: 'apply the selection rule within each ground-truth class, or over all samples together' },
  dsRestWeight: { type: 'number', group: 'method', min: 0, keyword: 'lambda1', default: 1 as number | 'lambda1', identity: true, help: 'cross-entropy weight of the samples left out of the selection: a number >= 0, or "lambda1"' },
  dsWarmupEpochs: { type: 'int', group: 'method', min: 0, default: 1, identity: true, help: 'epochs before the selection is made' },
  dsWarmupLoss: { type: 'choice', group: 'method', choices: ['method', 'ce'], default: 'method', identity: true, help: "loss of the warm-up epochs: the method's own on every sample, or cross-entropy only" },
  // Chosen on validation accuracy by the variant grid (ablation/grid): re-scoring every epoch was the
  // best KD+LR+DS arm (88.34% validation against 88.16-88.27% for the other rest-weight-1 arms).
  dsEvery: { type: 'int', group: 'method', min: 0, default: 1, identity: true, help: 're-score every n epochs (0: once)' },
  dsHessian: { type: 'choice', group: 'method', choices: ['identity', 'diag'], default: 'identity', identity: true, help: 'influence Hessian: identity (gradient alignment) or damped diagonal' },
  dsDamping: { type: 'number', group: 'method', min: 0, default: 0.01, identity: true, help: 'Hessian damping' },
  // Chosen on validation accuracy over the regimes' screenings (ablation/ds/README.md): the teacher's
  // entropy tied with its margin (86.23% mean validation) and needs no label; influence was 0.3 below.
  dsScore: { type: 'choice', group: 'method', choices: DS_SCORE_NAMES, default: 'teacher-entropy', identity: true, help: `what orders the samples for data selection, lower first: ${DS_SCORE_NAMES.map((n) => `${n} (${DS_SCORES[n]})`).join('; ')}` },
  ensembleMean: { type: 'choice', group: 'method', choices: ['probability', 'logit'], default: 'probability', identity: true, help: 'several teachers ({teacher} given more than once): their target is the mean of their probabilities at T, or of their logits' },
  dkdAlpha: { type: 'number', group: 'method', min: 0, default: 1, identity: true, help: 'DKD TCKD weight' },
  // mdistiller's 8 (CIFAR-100, students with batch norm) diverged for the BN-free student-cnn
  // at lr 0.05; 2 is among mdistiller's own per-pair settings (method.md §4).
  dkdBeta: { type: 'number', group: 'method', min: 0, default: 2, identity: true, help: 'DKD NCKD weight (mdistiller uses 8 on CIFAR-100 with BN students, 2 or 6 for some pairs; 8 diverges for the BN-free student-cnn)' },
  dkdWarmupEpochs: { type: 'int', group: 'method', min: 0, default: 1, identity: true, help: 'DKD linear warm-up of the KD terms, in epochs' },

  // ---- an ONNX teacher's input (distill) ----
  onnxLayout: { type: 'choice', group: 'teacher', choices: ONNX_LAYOUTS, identity: true, help: `ONNX teacher: the input layout (default ${DEFAULT_ONNX_INPUT.layout})` },
  onnxInputRange: { type: 'number', group: 'teacher', min: 0, minOpen: true, identity: true, help: `ONNX teacher: pixels in [0, 1] are multiplied by this first: 1 or 255 (default ${DEFAULT_ONNX_INPUT.inputRange})` },
  onnxMean: { type: 'numbers', group: 'teacher', identity: true, help: `ONNX teacher: then (x - mean) / std, per channel or one for all (default ${DEFAULT_ONNX_INPUT.mean.join(',')})` },
  onnxStd: { type: 'numbers', group: 'teacher', min: 0, minOpen: true, identity: true, help: `ONNX teacher: the std (default ${DEFAULT_ONNX_INPUT.std.join(',')})` },
  onnxBatch: { type: 'int', group: 'teacher', min: 1, help: `ONNX teacher: samples per onnxruntime run (default ${DEFAULT_ONNX_INPUT.batchSize}; a batch size fixed in the model wins)` },
});

export type OptionField = keyof typeof RUN_OPTIONS;

/** A declared option's help, with the options it mentions named by `name` (the CLI: their flags). */
export function optionHelp(d: OptionDecl, name: (field: string) => string = (f) => f): string {
  return d.help.replace(/\{(\w+)\}/g, (_, field: string) => name(field));
}
type Decls = typeof RUN_OPTIONS;

/** The value type of a declared option. */
type ValueOf<D> = D extends { type: 'choice'; choices: readonly (infer C)[] }
  ? C
  : D extends { type: 'boolean' }
    ? boolean
    : D extends { type: 'numbers' }
      ? number[]
      : D extends { type: 'text' }
        ? string
        : D extends { keyword: infer K }
          ? number | K
          : number;

type WithDefault = { [K in OptionField]: Decls[K] extends { default: unknown } ? K : never }[OptionField];
type WithoutDefault = Exclude<OptionField, WithDefault>;

/** The options' values: those with a default always present, the others optional. */
export type RunOptionValues = { [K in WithDefault]: ValueOf<Decls[K]> } & { [K in WithoutDefault]?: ValueOf<Decls[K]> };

/** The fields of one group, in declaration order. */
export function optionFields<G extends OptionDecl['group']>(group: G): Array<{ [K in OptionField]: Decls[K]['group'] extends G ? K : never }[OptionField]> {
  return (Object.keys(RUN_OPTIONS) as OptionField[]).filter((k) => RUN_OPTIONS[k].group === group) as never;
}

/** The fields a resumed run must share with the run that wrote its checkpoint. */
export const IDENTITY_FIELDS: OptionField[] = (Object.keys(RUN_OPTIONS) as OptionField[]).filter((k) => (RUN_OPTIONS[k] as OptionDecl).identity);

/** The declared defaults of `fields`. */
export function optionDefaults<K extends WithDefault>(fields: readonly K[]): Pick<RunOptionValues, K> {
  return Object.fromEntries(fields.map((k) => [k, RUN_OPTIONS[k].default])) as Pick<RunOptionValues, K>;
}

/** Every declared default: the options of a run that sets none. */
export function declaredDefaults(): Pick<RunOptionValues, WithDefault> {
  return optionDefaults((Object.keys(RUN_OPTIONS) as OptionField[]).filter((k): k is WithDefault => 'default' in RUN_OPTIONS[k]));
}

const show = (v: unknown) => (typeof v === 'number' ? String(v) : JSON.stringify(v));

/** What a declared option takes, in words ("a number in (0, 1]", "an integer >= 1"). */
export function expected(d: OptionDecl): string {
  if (d.type === 'boolean') return 'true or false';
  if (d.type === 'choice') return `one of ${d.choices!.join(', ')}`;
  if (d.type === 'text') return 'a text';
  const lo = d.min ?? -Infinity;
  const hi = d.max ?? Infinity;
  // Infinity is never accepted: a number without an upper bound reads "a finite number > 0".
  const what = d.type === 'int' ? 'an integer' : d.type === 'numbers' ? 'numbers separated by commas (one per channel, or one for all), each' : hi === Infinity ? 'a finite number' : 'a number';
  let range = '';
  if (lo > -Infinity && hi < Infinity) range = ` in ${d.minOpen ? '(' : '['}${lo}, ${hi}${d.maxOpen ? ')' : ']'}`;
  else if (lo > -Infinity) range = ` ${d.minOpen ? '>' : '>='} ${lo}`;
  else if (hi < Infinity) range = ` ${d.maxOpen ? '<' : '<='} ${hi}`;
  return `${what}${range}${d.keyword ? `, or "${d.keyword}"` : ''}`;
}

function inRange(d: OptionDecl, x: number): boolean {
  if (!Number.isFinite(x) || (d.type === 'int' && !Number.isInteger(x))) return false;
  if (d.min !== undefined && (d.minOpen ? !(x > d.min) : !(x >= d.min))) return false;
  if (d.max !== undefined && (d.maxOpen ? !(x < d.max) : !(x <= d.max))) return false;
  return true;
}

function fits(d: OptionDecl, v: unknown): boolean {
  switch (d.type) {
    case 'boolean':
      return typeof v === 'boolean';
    case 'choice':
      return d.choices!.includes(v as string);
    case 'text':
      return typeof v === 'string';
    case 'numbers':
      return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number' && inRange(d, x));
    default:
      return (d.keyword !== undefined && v === d.keyword) || (typeof v === 'number' && inRange(d, v));
  }
}

function fieldError(field: string, value: unknown, shown: string): OptionError {
  const d = (RUN_OPTIONS as Record<string, OptionDecl>)[field];
  return new OptionError(field, value, (name) => `${name(field)} must be ${expected(d)}, got ${shown}`);
}

/** One option's value from text (the command line's, a URL's): parsed as declared and checked, or an OptionError naming the text. */
export function parseOption(field: OptionField, text: string): unknown {
  const d: OptionDecl = RUN_OPTIONS[field];
  const number = (t: string) => (t.trim() === '' ? NaN : Number(t));
  let v: unknown;
  if (d.type === 'numbers') v = text.split(',').map(number);
  else if (d.type === 'int' || d.type === 'number') v = d.keyword !== undefined && text === d.keyword ? text : number(text);
  else if (d.type === 'boolean') v = text === 'true' ? true : text === 'false' ? false : text;
  else v = text;
  if (!fits(d, v)) throw fieldError(field, text, JSON.stringify(text));
  return v;
}

/** The rules between options (each names the fields it ties). */
function checkRelations(o: Partial<RunOptionValues>): void {
  if (o.method !== undefined && o.epochs !== undefined && o.dsWarmupEpochs !== undefined && methodParts(o.method).select !== 'none' && o.dsWarmupEpochs >= o.epochs) {
    const { dsWarmupEpochs: w, epochs, method } = o;
    throw new OptionError('dsWarmupEpochs', w, (name) => `${name('dsWarmupEpochs')} (${w}) must be smaller than ${name('epochs')} (${epochs}) for ${method}`);
  }
  if (o.noisePairs !== undefined) {
    if (o.labelNoise === undefined) throw new OptionError('noisePairs', o.noisePairs, (name) => `${name('noisePairs')} goes with ${name('labelNoise')} (the fraction of labels to swap)`);
    const pairs = o.noisePairs;
    try {
      parseNoisePairs(pairs, Infinity); // the pairs' form here; their classes against the data's when it is loaded
    } catch (e) {
      const why = (e as Error).message.replace(/^noise pairs: /, '');
      throw new OptionError('noisePairs', pairs, (name) => `${name('noisePairs')} ${why}`);
    }
  }
}

/**
 * Check every declared field present in `o` (fields it does not declare are left alone) and the
 * rules between them: the one validator of the run options. Throws an OptionError naming the field.
 */
export function validateOptions(o: object): void {
  const values = o as Record<string, unknown>;
  for (const field of Object.keys(RUN_OPTIONS) as OptionField[]) {
    const v = values[field];
    if (v !== undefined && !fits(RUN_OPTIONS[field], v)) throw fieldError(field, v, show(v));
  }
  checkRelations(o as Partial<RunOptionValues>);
}

/** The optimizer a run's flat options describe. */
export function optimizerRule(o: Pick<RunOptionValues, 'optimizer' | 'momentum' | 'nesterov' | 'weightDecay'>): OptimizerRule {
  if (o.optimizer === 'sgd') return { kind: 'sgd', momentum: o.momentum, nesterov: o.nesterov, weightDecay: o.weightDecay };
  return { kind: 'adam', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: o.weightDecay, decoupled: o.optimizer === 'adamw' };
}
