// Datasets read from files (Node), by name (loadDataset) or by spec (loadDatasetSpec: the built-in
// ones and the user's own IDX, CSV and image-folder data), normalised with the training split's statistics.

import { isAbsolute, join, resolve } from 'node:path';
import { OptionError } from '../util/option-error.js';
import { CIFAR10_FILES, CIFAR100_FILES } from './cifar.js';
import { channelStats, normalize, requireTwoClasses, takeExamples, type Dataset } from './dataset.js';
import { FASHION_MNIST_FILES, describeSize } from './idx.js';
import {
  allInOrder, CSV_FILE_NAMES, FASHION_MNIST_DIR, IDX_FILE_NAMES, csvFilesIn, idxCandidates, idxFilesIn, listImageFolder, loadCifar10, loadCifar100, loadCsv,
  loadFashionMnist, loadIdx, loadImageFolder, type IdxFiles,
} from './node-files.js';
import { DATASET_KINDS, checkDatasetSpec, parseImageShape, type DatasetFiles, type DatasetKind, type DatasetSpec } from './spec.js';

/** The datasets known by name; DATASET_KINDS adds idx, csv and folder, which need a spec. */
export const DATASET_NAMES = ['fashion-mnist', 'cifar10', 'cifar100'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

export interface Normalisation {
  mean: number[];
  std: number[];
}

export interface LoadedData {
  train: Dataset;
  test: Dataset;
  normalisation: Normalisation;
  /** The name of each class, by label, when the data has them (Fashion-MNIST, CIFAR-10, an image folder's class folders). */
  classNames?: string[];
}

/** testSubset: evaluate on the first n test examples only (quick runs). */
export async function loadDataset(name: string, dir?: string, normalisation?: Normalisation, testSubset?: number): Promise<LoadedData> {
  if (!(DATASET_NAMES as readonly string[]).includes(name)) throw new Error(`unknown dataset "${name}" (known: ${DATASET_NAMES.join(', ')})`);
  if (name !== 'fashion-mnist' && !dir) throw new OptionError('dataDir', dir, (option) => `${option('dataset')} ${name} needs ${option('dataDir')}: the folder of the binary CIFAR files`);
  return loadDatasetSpec(dir === undefined ? { kind: name as DatasetName } : { kind: name as DatasetName, dir }, normalisation, testSubset);
}

/**
 * The data a spec names (checked first: see checkDatasetSpec), normalised with `normalisation` or,
 * absent, the training split's per-channel mean and std. testSubset: the first n test examples only.
 * `check` sees the training split first (its shape and classes), before anything is normalised.
 */
export async function loadDatasetSpec(spec: DatasetSpec, normalisation?: Normalisation, testSubset?: number, check?: (train: Dataset) => void): Promise<LoadedData> {
  const s = checkDatasetSpec(spec, 'dataset spec');
  let { train, test } = await readSpec(s);
  requireTwoClasses(train, s.files?.trainLabels ?? s.files?.train ?? (s.dir ? `${s.dir} (${train.name})` : train.name));
  check?.(train); // e.g. a model's input shape and classes, before normalising with its statistics
  if (testSubset !== undefined) {
    if (testSubset > test.n) throw new OptionError('testSubset', testSubset, (option) => `${option('testSubset')} ${testSubset} is larger than the ${test.n} test examples`);
    test = takeExamples(test, Array.from({ length: testSubset }, (_, i) => i), `${test.name}[0:${testSubset}]`);
  }
  const norm = normalisation ?? channelStats(train);
  const flat = norm.std.findIndex((v) => !(v > 0));
  if (flat >= 0) {
    const where = Object.values(s.files ?? {}).join(', ') || s.dir || FASHION_MNIST_DIR;
    throw new Error(`${s.kind} data (${where}): channel ${flat} of the training images is constant (every pixel ${(norm.mean[flat] * 255).toFixed(0)}/255): with a std of 0 it cannot be normalised`);
  }
  const out: LoadedData = { train: normalize(train, norm.mean, norm.std), test: normalize(test, norm.mean, norm.std), normalisation: norm };
  if (train.classNames) out.classNames = [...train.classNames];
  return out;
}

async function readSpec(s: DatasetSpec): Promise<{ train: Dataset; test: Dataset }> {
  const { imageShape, numClasses } = s;
  switch (s.kind) {
    case 'fashion-mnist':
    case 'cifar10':
    case 'cifar100': {
      let split: (which: 'train' | 'test') => Promise<Dataset>;
      if (s.kind === 'fashion-mnist') split = (w) => loadFashionMnist(w, s.dir ?? FASHION_MNIST_DIR);
      else if (s.kind === 'cifar10') split = (w) => loadCifar10(s.dir!, w);
      else split = (w) => loadCifar100(s.dir!, w);
      const [train, test] = await allInOrder([split('train'), split('test')]);
      if (imageShape) {
        const [h, w, c = 1] = imageShape;
        if (h !== train.height || w !== train.width || c !== train.channels) {
          throw new Error(`dataset ${s.kind}: its images are ${describeSize(train)}, not the ${describeSize({ height: h, width: w, channels: c })} given as the image shape`);
        }
      }
      if (numClasses !== undefined && numClasses !== train.numClasses) {
        throw new Error(`dataset ${s.kind}: it has ${train.numClasses} classes, not the ${numClasses} given as the number of classes`);
      }
      return { train, test };
    }
    case 'idx': {
      const files = await idxFilesIn(s.dir, s.files as Partial<IdxFiles> | undefined);
      return loadIdx(files, { numClasses, imageShape, layout: s.layout });
    }
    case 'csv': {
      const files = await csvFilesIn(s.dir, s.files);
      return loadCsv(files, { numClasses, imageShape, layout: s.layout, pixelRange: s.pixelRange, labelColumn: s.labelColumn });
    }
    case 'folder':
      return loadImageFolder(s.dir!, { numClasses, imageShape });
  }
}

/** The spec with its paths made absolute (against `base`), so a checkpoint's spec reads the same data from any working folder. */
export function resolveDatasetSpec(spec: DatasetSpec, base = process.cwd()): DatasetSpec {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const out: DatasetSpec = { ...spec };
  if (spec.dir !== undefined) out.dir = abs(spec.dir);
  if (spec.files) out.files = Object.fromEntries(Object.entries(spec.files).map(([k, v]) => [k, abs(v as string)])) as DatasetFiles;
  if (spec.imageShape) out.imageShape = [...spec.imageShape];
  return out;
}

/**
 * Every path a dataset may be read from (each spelling the loaders accept; an image folder's
 * images as they are now), for refusing outputs that would overwrite one. By name and folder
 * (the built-in datasets) or by spec (any kind).
 */
export function datasetFiles(nameOrSpec: string | DatasetSpec, dir?: string): string[] {
  const spec: DatasetSpec | undefined =
    typeof nameOrSpec !== 'string'
      ? nameOrSpec
      : (DATASET_NAMES as readonly string[]).includes(nameOrSpec)
        ? { kind: nameOrSpec as DatasetName, ...(dir === undefined ? {} : { dir }) }
        : undefined;
  if (!spec) return [];
  const d = spec.kind === 'fashion-mnist' ? (spec.dir ?? FASHION_MNIST_DIR) : spec.dir;
  const inDir = (names: readonly string[]) => (d === undefined ? [] : names.map((n) => join(d, n)));
  const given = Object.values(spec.files ?? {}).filter((v): v is string => typeof v === 'string');
  switch (spec.kind) {
    case 'fashion-mnist':
      return inDir(Object.values(FASHION_MNIST_FILES).flatMap((f) => [f.images, f.labels]).flatMap((n) => [n, n.slice(0, -'.gz'.length)]));
    case 'cifar10':
      return inDir([...CIFAR10_FILES.train, ...CIFAR10_FILES.test]);
    case 'cifar100':
      return inDir([...CIFAR100_FILES.train, ...CIFAR100_FILES.test]);
    case 'idx':
      return [...given, ...inDir((Object.keys(IDX_FILE_NAMES) as (keyof IdxFiles)[]).flatMap(idxCandidates))];
    case 'csv':
      return [...given, ...inDir([...CSV_FILE_NAMES.train, ...CSV_FILE_NAMES.test])];
    case 'folder': {
      if (d === undefined) return [];
      try {
        const listing = listImageFolder(d);
        return [...listing.train, ...listing.test].map((e) => e.path);
      } catch {
        return []; // loading will report what is wrong with the folder
      }
    }
    default:
      return [];
  }
}

/** Whether `kind` is one of DATASET_KINDS. */
export function isDatasetKind(kind: string): kind is DatasetKind {
  return (DATASET_KINDS as readonly string[]).includes(kind);
}
