// Datasets by name for the command line, normalised with the training split's statistics.

import { join } from 'node:path';
import { CIFAR10_FILES, CIFAR100_FILES } from '../data/cifar.js';
import { channelStats, normalize, takeExamples, type Dataset } from '../data/dataset.js';
import { FASHION_MNIST_FILES } from '../data/idx.js';
import { FASHION_MNIST_DIR, loadCifar10, loadCifar100, loadFashionMnist } from '../data/node-files.js';

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
}

/** testSubset: evaluate on the first n test examples only (quick runs). */
export async function loadDataset(name: string, dir?: string, normalisation?: Normalisation, testSubset?: number): Promise<LoadedData> {
  let train: Dataset;
  let test: Dataset;
  switch (name) {
    case 'fashion-mnist':
      [train, test] = await Promise.all([loadFashionMnist('train', dir ?? FASHION_MNIST_DIR), loadFashionMnist('test', dir ?? FASHION_MNIST_DIR)]);
      break;
    case 'cifar10':
    case 'cifar100': {
      if (!dir) throw new Error(`--dataset ${name} needs --data-dir pointing at the binary CIFAR files`);
      const load = name === 'cifar10' ? loadCifar10 : (d: string, s: 'train' | 'test') => loadCifar100(d, s);
      [train, test] = await Promise.all([load(dir, 'train'), load(dir, 'test')]);
      break;
    }
    default:
      throw new Error(`unknown dataset "${name}" (known: ${DATASET_NAMES.join(', ')})`);
  }
  const norm = normalisation ?? channelStats(train);
  if (testSubset !== undefined) {
    if (testSubset > test.n) throw new Error(`--test-subset ${testSubset} is larger than the ${test.n} test examples`);
    test = takeExamples(test, Array.from({ length: testSubset }, (_, i) => i), `${test.name}[0:${testSubset}]`);
  }
  return { train: normalize(train, norm.mean, norm.std), test: normalize(test, norm.mean, norm.std), normalisation: norm };
}

/** Every path a dataset may be read from (each spelling the loaders accept), for refusing outputs that would overwrite one. */
export function datasetFiles(name: string, dir?: string): string[] {
  const names: string[] =
    name === 'fashion-mnist'
      ? Object.values(FASHION_MNIST_FILES).flatMap((f) => [f.images, f.labels]).flatMap((n) => [n, n.slice(0, -'.gz'.length)])
      : name === 'cifar10'
        ? [...CIFAR10_FILES.train, ...CIFAR10_FILES.test]
        : name === 'cifar100'
          ? [...CIFAR100_FILES.train, ...CIFAR100_FILES.test]
          : [];
  const base = name === 'fashion-mnist' ? (dir ?? FASHION_MNIST_DIR) : dir;
  return base === undefined ? [] : names.map((n) => join(base, n));
}
