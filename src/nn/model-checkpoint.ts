// A model (and, for --resume, its training state) as a safetensors checkpoint, in bytes: usable
// from Node and from a browser (on disk: model-file.ts). Model tensors keep their names
// ("conv1.weight"); training state goes under "train_state/", which loading a model for inference
// ignores.

import type { Engine } from '../gpu/engine.js';
import { CHECKPOINT_KEYS, decodeCheckpoint, encodeCheckpoint, type Checkpoint, type F32Tensor } from '../io/checkpoint-bytes.js';
import { FormatError } from '../util/format-error.js';
import type { DatasetSpec } from '../data/spec.js';
import { DATA_LIMITS } from '../data/dataset.js';
import { createModel, MODEL_NAMES, type InputSpec, type Model } from './models.js';

/** What a checkpoint's `config` records: enough to rebuild the model and its input pipeline. */
/** Which data a model was trained on (every checkpoint written by kdgpu train or distill). */
export interface DataIdentity {
  /** How to read it again (a DatasetSpec: kind, folder or files as absolute paths, shape, classes). */
  spec: DatasetSpec;
  /** [channels, height, width]. */
  inputShape: number[];
  classes: number;
  classNames?: string[];
  /** sha256 of the training set (labels and normalised images). */
  trainHash: string;
}

export interface ModelConfig {
  model: string;
  input: InputSpec;
  /** The dataset's kind (fashion-mnist, cifar10, idx, csv, folder…); `data` says which data exactly. */
  dataset: string;
  data?: DataIdentity;
  normalisation: { mean: number[]; std: number[] };
  seed: number;
  epoch?: number;
  testAccuracy?: number;
  /** The command's options, for --resume to check it continues the same run. */
  command?: Record<string, unknown>;
}

/** Everything beyond the weights that a resumed run needs to end bit-identical to an uninterrupted one. */
export interface TrainingState {
  /** Epochs completed. */
  epoch: number;
  best: number;
  last: number;
  optimizer: { m: Float32Array; v: Float32Array; step: number };
  /** Numbers a loop or its caller keeps (e.g. |Dt|, the best validation accuracy), JSON. */
  extra?: Record<string, number>;
  /** Vectors a caller keeps (e.g. distillation's selection mask, "ds.mask"); stored as train_state/<name>. */
  tensors?: Record<string, Float32Array>;
}

const STATE = 'train_state/';

export async function encodeModel(model: Model, config: ModelConfig, state?: TrainingState): Promise<Uint8Array> {
  const tensors = new Map<string, F32Tensor>();
  for (const [k, v] of await model.store.read()) tensors.set(k, v);
  const extraMetadata: Record<string, string> = { format: 'kdgpu-1' };
  if (state) {
    tensors.set(`${STATE}optimizer.m`, { shape: [state.optimizer.m.length], data: state.optimizer.m });
    if (state.optimizer.v.length > 0) tensors.set(`${STATE}optimizer.v`, { shape: [state.optimizer.v.length], data: state.optimizer.v });
    for (const [name, data] of Object.entries(state.tensors ?? {})) {
      if (name.startsWith('optimizer.')) throw new Error(`training state: the tensor name "${name}" is the optimizer's`);
      tensors.set(`${STATE}${name}`, { shape: [data.length], data });
    }
    extraMetadata.train_state = JSON.stringify({ epoch: state.epoch, best: state.best, last: state.last, step: state.optimizer.step, extra: state.extra ?? {} });
  }
  // Nothing non-finite is ever saved: such a checkpoint could only be refused when loaded.
  const bad = firstNonFinite(tensors);
  if (bad) throw new Error(`not saving a checkpoint with tensor "${bad.name}" element ${bad.index} = ${bad.value}: the run diverged`);
  return encodeCheckpoint({ model: model.name, config, tensors, extraMetadata });
}

/**
 * A checkpoint without its training state (the train_state/ tensors and metadata): what inference
 * and a teacher read, in a third of the bytes (SGD's momentum) or a fifth (Adam's moments).
 */
export function weightsOnly(ck: Checkpoint): Uint8Array {
  const tensors = new Map([...ck.tensors].filter(([name]) => !name.startsWith(STATE)));
  const dropped = new Set<string>([...Object.values(CHECKPOINT_KEYS), 'train_state']);
  const extraMetadata = Object.fromEntries(Object.entries(ck.metadata).filter(([k]) => !dropped.has(k)));
  return encodeCheckpoint({ model: ck.model, config: ck.config, tensors, extraMetadata });
}

export interface RestoredModel {
  model: Model;
  config: ModelConfig;
  /** The checkpoint's content hash (the teacher-target cache key). */
  hash: string;
  state?: TrainingState;
}

/**
 * Bounds on a checkpoint's `config.input`, checked before a model is built from it: the models
 * allocate host memory in proportion to these, so a corrupt value (1e9, -3) would otherwise fail
 * with "Invalid typed array length" or exhaust memory. Far above the datasets kdgpu reads
 * (28x28x1 and 32x32x3, 10 or 100 classes).
 */
export const INPUT_LIMITS: Readonly<Record<keyof InputSpec, number>> = DATA_LIMITS;

export interface RestoreOptions {
  /**
   * Parse the training state (train_state/ tensors and metadata) for --resume. Default true;
   * eval and teachers load weights only, so a checkpoint without (or with a broken) state serves.
   */
  state?: boolean;
}

/** Build the recorded model and load its weights; refuses a checkpoint whose tensors do not fit it. */
export function restoreModel(engine: Engine, ck: Checkpoint, fileName: string, expectName?: string, opts: RestoreOptions = {}): RestoredModel {
  const config = checkModelConfig(ck.config, fileName);
  if (expectName && config.model !== expectName) throw new Error(`${fileName}: holds a "${config.model}" model, expected "${expectName}"`);
  refuseNonFinite(ck, fileName);
  const model = createModel(engine, config.model, config.input, config.seed ?? 0);
  let state: TrainingState | undefined;
  try {
    const expected = new Map(model.store.entries.map((e) => [e.name, e.shape]));
    requireModelTensors(ck, fileName, config.model, expected);
    for (const name of ck.tensors.keys()) {
      if (!expected.has(name) && !name.startsWith(STATE)) throw new Error(`${fileName}: tensor "${name}" is not part of model "${config.model}"`);
    }
    if (opts.state ?? true) state = trainingState(ck, fileName, model.store.paramFloats);
    model.store.write(new Map([...ck.tensors].filter(([k]) => !k.startsWith(STATE)).map(([k, v]) => [k, v.data])));
  } catch (e) {
    model.store.destroy();
    throw e;
  }
  return { model, config, hash: ck.metadata.content_sha256, state };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v).slice(0, 60));

/** The checkpoint's config, checked field by field before anything is built from it. */
export function checkModelConfig(raw: unknown, fileName: string): ModelConfig {
  if (!isObject(raw) || !isObject(raw.input) || !raw.model) {
    throw new Error(`${fileName}: config: expected a kdgpu model config with "model" and "input", found ${JSON.stringify(raw).slice(0, 120)}`);
  }
  if (!(MODEL_NAMES as readonly unknown[]).includes(raw.model)) {
    throw new FormatError(fileName, 'config.model', `expected one of ${MODEL_NAMES.join(', ')}, found ${show(raw.model)}`);
  }
  const input = raw.input;
  for (const [k, max] of Object.entries(INPUT_LIMITS)) {
    const v = input[k];
    if (!Number.isSafeInteger(v) || (v as number) < 1 || (v as number) > max) {
      throw new FormatError(fileName, `config.input.${k}`, `expected an integer in [1, ${max}], found ${show(v)}`);
    }
  }
  const norm = raw.normalisation;
  if (norm !== undefined) {
    for (const k of ['mean', 'std'] as const) {
      const v = isObject(norm) ? norm[k] : undefined;
      const ok = Array.isArray(v) && v.length === input.channels && v.every((x) => Number.isFinite(x) && (k === 'mean' || x > 0));
      if (!ok) throw new FormatError(fileName, `config.normalisation.${k}`, `expected ${input.channels} finite numbers${k === 'std' ? ' > 0' : ''} (one per channel), found ${show(v)}`);
    }
  }
  if (raw.seed !== undefined && !Number.isSafeInteger(raw.seed)) throw new FormatError(fileName, 'config.seed', `expected an integer, found ${show(raw.seed)}`);
  return raw as unknown as ModelConfig;
}

/** The first value that is not finite among `tensors` (Inf or NaN), or null. A host loop over every float: cheap beside an epoch. */
function firstNonFinite(tensors: Iterable<[string, F32Tensor]>): { name: string; index: number; value: number } | null {
  for (const [name, t] of tensors) {
    const d = t.data;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return { name, index: i, value: d[i] };
  }
  return null;
}

/**
 * Refuses a checkpoint holding a value that is not finite, weights and training state alike,
 * naming the first: a model saved from a diverged run would otherwise evaluate to chance, export,
 * or poison a student's targets without a word. A host loop, once, at load.
 */
export function refuseNonFinite(ck: Checkpoint, fileName: string): void {
  const bad = firstNonFinite(ck.tensors);
  if (!bad) return;
  const what = bad.name.startsWith(STATE) ? 'a finite training-state value' : 'a finite weight';
  throw new FormatError(fileName, `tensor "${bad.name}" element ${bad.index}`, `expected ${what}, found ${bad.value}: the checkpoint holds non-finite values (saved from a diverged run?)`);
}

/** The training state recorded for --resume, if any; every field and tensor checked and named. */
function trainingState(ck: Checkpoint, fileName: string, paramFloats: number): TrainingState | undefined {
  const raw = ck.metadata.train_state;
  if (raw === undefined) return undefined;
  const field = '__metadata__.train_state';
  let s: unknown;
  try {
    s = JSON.parse(raw);
  } catch (e) {
    throw new FormatError(fileName, field, `expected JSON: ${(e as Error).message}`);
  }
  if (!isObject(s)) throw new FormatError(fileName, field, `expected a JSON object, found ${show(s)}`);
  const count = (k: string): number => {
    if (!Number.isSafeInteger(s[k]) || (s[k] as number) < 0) throw new FormatError(fileName, `${field}.${k}`, `expected an integer >= 0, found ${show(s[k])}`);
    return s[k] as number;
  };
  const fraction = (k: string): number => {
    if (typeof s[k] !== 'number' || !((s[k] as number) >= 0 && (s[k] as number) <= 1)) throw new FormatError(fileName, `${field}.${k}`, `expected an accuracy in [0, 1], found ${show(s[k])}`);
    return s[k] as number;
  };
  const extra = s.extra ?? {};
  if (!isObject(extra) || !Object.values(extra).every((v) => typeof v === 'number')) {
    throw new FormatError(fileName, `${field}.extra`, `expected an object of numbers, found ${show(s.extra)}`);
  }
  const vector = (name: string, required: boolean): Float32Array | undefined => {
    const t = ck.tensors.get(`${STATE}${name}`);
    if (!t) {
      if (required) throw new FormatError(fileName, `tensor "${STATE}${name}"`, `missing: ${field} records a training state, which needs this tensor to resume the run`);
      return undefined;
    }
    return t.data;
  };
  const fields = { epoch: count('epoch'), best: fraction('best'), last: fraction('last'), step: count('step') };
  const m = vector('optimizer.m', true)!;
  const v = vector('optimizer.v', false) ?? new Float32Array(0);
  for (const [name, x] of [['optimizer.m', m], ['optimizer.v', v]] as const) {
    if (x.length !== paramFloats && !(name === 'optimizer.v' && x.length === 0)) {
      throw new FormatError(fileName, `tensor "${STATE}${name}"`, `expected ${paramFloats} values (one per parameter of the model), found ${x.length}`);
    }
  }
  return {
    epoch: fields.epoch,
    best: fields.best,
    last: fields.last,
    optimizer: { m, v, step: fields.step },
    extra: extra as Record<string, number>,
    tensors: Object.fromEntries(
      [...ck.tensors.entries()].filter(([k]) => k.startsWith(STATE) && !k.startsWith(`${STATE}optimizer.`)).map(([k, t]) => [k.slice(STATE.length), t.data]),
    ),
  };
}

/** Decode bytes and restore (browser: bytes from fetch or a file input). */
export function modelFromBytes(engine: Engine, bytes: Uint8Array, fileName: string, expectName?: string, opts?: RestoreOptions): RestoredModel {
  return restoreModel(engine, decodeCheckpoint(bytes, fileName), fileName, expectName, opts);
}

/** Every tensor of model `model` (name → shape) is in the checkpoint, with its shape. */
export function requireModelTensors(ck: Checkpoint, fileName: string, model: string, shapes: Iterable<[string, number[]]>): void {
  for (const [name, shape] of shapes) {
    const t = ck.tensors.get(name);
    if (!t) throw new Error(`${fileName}: tensor "${name}" of model "${model}" is missing from the checkpoint`);
    if (t.shape.join(',') !== shape.join(',')) {
      throw new Error(`${fileName}: tensor "${name}" has shape [${t.shape.join(', ')}], model "${model}" expects [${shape.join(', ')}]`);
    }
  }
}
