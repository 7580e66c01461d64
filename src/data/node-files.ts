// Node-only file access for the dataset readers: reads files, inflates gzip, and hands the bytes
// to the pure parsers in idx.ts and cifar.ts (which the browser bundle uses without this module).

import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { FormatError } from '../util/format-error.js';
import { CIFAR10_FILES, CIFAR100_FILES, cifarDataset, type CifarVariant } from './cifar.js';
import type { Dataset } from './dataset.js';
import { FASHION_MNIST_FILES, fashionMnistDataset, isGzip } from './idx.js';

/** Where Debian's `dataset-fashion-mnist` package installs the files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** A file's bytes, inflated when they start with the gzip magic (1f 8b), whatever the name says. */
export async function readDataFile(path: string): Promise<Uint8Array> {
  const raw = await readFile(path);
  const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  if (!isGzip(bytes)) return bytes;
  try {
    const inflated = gunzipSync(bytes);
    return new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength);
  } catch (e) {
    throw new FormatError(path, 'gzip stream', `expected a complete gzip stream: ${(e as Error).message}`);
  }
}

/**
 * Fashion-MNIST's train (60,000) or test (10,000) split from `dir`. Each file may be gzip
 * (`*-ubyte.gz`, as distributed) or already inflated (the same name without `.gz`).
 */
export async function loadFashionMnist(split: 'train' | 'test', dir = FASHION_MNIST_DIR): Promise<Dataset> {
  const names = FASHION_MNIST_FILES[split];
  const imagesPath = await findFile(dir, names.images, 'Fashion-MNIST');
  const labelsPath = await findFile(dir, names.labels, 'Fashion-MNIST');
  const [images, labels] = await Promise.all([readDataFile(imagesPath), readDataFile(labelsPath)]);
  return fashionMnistDataset(split, images, labels, { images: imagesPath, labels: labelsPath });
}

/** CIFAR-10, binary version (the `cifar-10-batches-bin` directory): 50,000 train / 10,000 test. */
export function loadCifar10(dir: string, split: 'train' | 'test'): Promise<Dataset> {
  return loadCifar('cifar-10', dir, CIFAR10_FILES[split], `cifar-10/${split}`);
}

/** CIFAR-100, binary version (the `cifar-100-binary` directory), with its fine (100) or coarse (20) labels. */
export function loadCifar100(dir: string, split: 'train' | 'test', labels: 'fine' | 'coarse' = 'fine'): Promise<Dataset> {
  return loadCifar(`cifar-100-${labels}`, dir, CIFAR100_FILES[split], `cifar-100-${labels}/${split}`);
}

async function loadCifar(variant: CifarVariant, dir: string, names: readonly string[], name: string): Promise<Dataset> {
  const paths: string[] = [];
  for (const n of names) paths.push(await findFile(dir, n, name)); // in order, so the first missing file is the one reported
  const files = await Promise.all(paths.map(async (fileName) => ({ fileName, bytes: await readDataFile(fileName) })));
  return cifarDataset(variant, files, name);
}

/** `name` in `dir`, or the same name without `.gz`; a missing file says what was looked for. */
async function findFile(dir: string, name: string, what: string): Promise<string> {
  const candidates = name.endsWith('.gz') ? [name, name.slice(0, -3)] : [name];
  for (const c of candidates) {
    const path = join(dir, c);
    try {
      await access(path);
      return path;
    } catch {
      // try the next spelling
    }
  }
  throw new FormatError(join(dir, name), 'file', `not found: expected the ${what} file ${candidates.join(' or ')} in ${dir}`);
}
