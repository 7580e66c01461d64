// The dataset of a command: from its options (--dataset, --data-dir, the files named one by one,
// --image-shape, --num-classes), or, when they name none, the one a checkpoint records. And the
// identity every checkpoint stores: the spec, input shape, classes and a hash of the training set.

import { createHash } from 'node:crypto';
import { classesBeyondLimits, exampleSize, inputTable, inputValues, type Dataset } from '../data/dataset.js';
import type { DataIdentity, ModelConfig } from '../nn/model-checkpoint.js';
import { resolveDatasetSpec, type LoadedData } from '../data/load-dataset.js';
import { checkDatasetSpec, parseImageShape, type DatasetSpec } from '../data/spec.js';

export interface DataOptions {
  dataset?: string;
  dataDir?: string;
  trainImages?: string;
  trainLabels?: string;
  testImages?: string;
  testLabels?: string;
  trainCsv?: string;
  testCsv?: string;
  imageShape?: string;
  numClasses?: number;
  labelColumn?: 'first' | 'last';
}

/** The options that name one data file each: the option's key, its flag, and the spec's file key. */
export const DATA_FILE_OPTIONS = [
  ['trainImages', '--train-images', 'trainImages'],
  ['trainLabels', '--train-labels', 'trainLabels'],
  ['testImages', '--test-images', 'testImages'],
  ['testLabels', '--test-labels', 'testLabels'],
  ['trainCsv', '--train-csv', 'train'],
  ['testCsv', '--test-csv', 'test'],
] as const;

/** Whether the options name a dataset at all (otherwise a checkpoint's is used). */
export function namesData(o: DataOptions): boolean {
  return o.dataset !== undefined || o.dataDir !== undefined || DATA_FILE_OPTIONS.some(([k]) => o[k] !== undefined) || o.imageShape !== undefined || o.numClasses !== undefined || o.labelColumn !== undefined;
}

/**
 * The dataset the options name (paths made absolute), checked field by field; `fallback` when
 * they name none. The kind defaults to idx when IDX files are named, csv when CSV files are.
 */
export function specFromOptions(o: DataOptions, fallback: DatasetSpec | null): DatasetSpec {
  if (!namesData(o)) {
    if (!fallback) throw new Error('no dataset: give --dataset (and --data-dir or the files)');
    return fallback;
  }
  const files = Object.fromEntries(DATA_FILE_OPTIONS.filter(([k]) => o[k] !== undefined).map(([k, , f]) => [f, o[k] as string]));
  const named = Object.keys(files);
  const kind = o.dataset ?? (named.some((f) => f === 'train' || f === 'test') ? 'csv' : named.length ? 'idx' : (fallback?.kind ?? 'fashion-mnist'));
  const raw: Record<string, unknown> = { kind };
  if (o.dataDir !== undefined) raw.dir = o.dataDir;
  if (named.length) raw.files = files;
  if (o.imageShape !== undefined) raw.imageShape = parseImageShape(o.imageShape, '--image-shape');
  if (o.numClasses !== undefined) {
    const beyond = classesBeyondLimits(o.numClasses);
    if (beyond) throw new Error(`--num-classes ${o.numClasses}: ${beyond}`);
    raw.numClasses = o.numClasses;
  }
  if (o.labelColumn !== undefined) raw.labelColumn = o.labelColumn;
  // A fallback of the same kind lends what the options leave out (e.g. its folder).
  if (fallback && fallback.kind === kind && !named.length && o.dataDir === undefined) Object.assign(raw, { ...fallback, ...raw });
  return resolveDatasetSpec(checkDatasetSpec(raw, 'the dataset options', 'dataset'));
}

/** The dataset a checkpoint records: its spec, or (older checkpoints) the built-in dataset's name. */
export function specOfCheckpoint(config: ModelConfig, file: string): DatasetSpec {
  if (config.data) return checkDatasetSpec(config.data.spec, file, 'config.data.spec');
  return checkDatasetSpec({ kind: config.dataset }, file, 'config.dataset');
}

/**
 * sha256 over the training set's labels and the model's input (the normalised float32 images,
 * computed a chunk at a time: inputValues): the same data gives the same hash, whether it is
 * stored as bytes or floats, and the hash of 8-bit data is the one kdgpu gave when it held its
 * images normalised in memory (the values are bit-identical), so cached logits and recorded
 * checkpoints stay valid.
 */
export function trainingSetHash(train: Dataset): string {
  const h = createHash('sha256');
  h.update(`${train.n}x${train.channels}x${train.height}x${train.width}:${train.numClasses}\n`);
  h.update(new Uint8Array(train.labels.buffer, train.labels.byteOffset, train.labels.byteLength));
  const chunk = Math.max(1, Math.floor(2 ** 20 / exampleSize(train)));
  const table = inputTable(train);
  const rows = new Uint32Array(chunk);
  const values = new Float32Array(chunk * exampleSize(train));
  for (let start = 0; start < train.n; start += chunk) {
    const count = Math.min(chunk, train.n - start);
    for (let i = 0; i < count; i++) rows[i] = start + i;
    inputValues(train, rows.subarray(0, count), values, 0, table);
    h.update(new Uint8Array(values.buffer, 0, count * exampleSize(train) * 4));
  }
  return h.digest('hex');
}

export function dataIdentity(spec: DatasetSpec, data: LoadedData): DataIdentity {
  const t = data.train;
  return {
    spec,
    inputShape: [t.channels, t.height, t.width],
    classes: t.numClasses,
    ...(data.classNames ? { classNames: data.classNames } : {}),
    trainHash: trainingSetHash(t),
  };
}

/** "idx (/data/digits)", "csv (train.csv, test.csv)", "fashion-mnist": for messages. */
export function describeSpec(spec: DatasetSpec): string {
  const where = spec.dir ?? Object.values(spec.files ?? {}).join(', ');
  return where ? `${spec.kind} (${where})` : spec.kind;
}

/** Input shape and classes of a model against the data's, refused naming both (distill's teacher, eval's checkpoint). */
export function checkModelFitsData(what: string, model: { channels: number; height: number; width: number; classes: number }, data: Dataset, spec: DatasetSpec): void {
  const m = `${model.channels}x${model.height}x${model.width}, ${model.classes} classes`;
  const d = `${data.channels}x${data.height}x${data.width}, ${data.numClasses} classes`;
  if (m !== d) throw new Error(`${what} takes ${m}; the data, ${describeSpec(spec)}, is ${d}`);
}
