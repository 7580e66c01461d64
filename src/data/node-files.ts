// Node-only file access for the dataset readers: reads files, inflates gzip, and hands the bytes
// to the pure parsers in idx.ts and cifar.ts (which the browser bundle uses without this module).
// Gzip is inflated as a stream and stopped at the size the format allows (for IDX, the size its
// header announces), so a small corrupt or malicious file cannot inflate to gigabytes first.

import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { readRegularFile } from '../io/regular-file.js';
import { FormatError } from '../util/format-error.js';
import { CIFAR10_FILES, CIFAR100_FILES, cifarDataset, cifarRecordBytes, type CifarVariant } from './cifar.js';
import type { Dataset } from './dataset.js';
import { FASHION_MNIST_FILES, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, fashionMnistDataset, isGzip, parseIdxHeader } from './idx.js';

/** How many bytes a gzip data file may inflate to, decided from its first bytes. */
export interface InflateLimit {
  /** Inflated bytes needed to decide (the format's header; 0: none). */
  headerBytes: number;
  /** The most bytes the file may inflate to, from its first headerBytes (fewer if that is all there is); may throw a FormatError. */
  maxBytes(head: Uint8Array): number;
  /** Where the limit comes from, for the error. */
  describe: string;
}

/** The most any data file may inflate to: 1 GiB, seven times the largest file kdgpu reads (CIFAR-100's train.bin). */
export const MAX_DATA_BYTES = 2 ** 30;
const ANY_DATA: InflateLimit = { headerBytes: 0, maxBytes: () => MAX_DATA_BYTES, describe: "kdgpu's limit for a data file" };

/**
 * An IDX file inflates to exactly the size its header announces; a header announcing more than
 * MAX_DATA_BYTES, or images of another size than `expectSize`, is refused from the header alone.
 */
export function idxLimit(what: 'images' | 'labels', fileName: string, expectSize?: { height: number; width: number }): InflateLimit {
  const magic = what === 'images' ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC;
  return {
    headerBytes: 4 + 4 * (magic & 0xff),
    maxBytes(head) {
      const h = parseIdxHeader(head, fileName, magic, what);
      if (expectSize && (h.dims[1] !== expectSize.height || h.dims[2] !== expectSize.width)) {
        throw new FormatError(fileName, 'image size', `expected ${expectSize.height}x${expectSize.width}, found ${h.dims[1]}x${h.dims[2]}`);
      }
      const size = h.headerBytes + h.count;
      if (size > MAX_DATA_BYTES) throw new FormatError(fileName, 'header', `dimensions ${h.dims.join('x')} announce ${size} bytes, more than the ${MAX_DATA_BYTES} kdgpu reads from a data file`);
      return size;
    },
    describe: 'its IDX header announces',
  };
}

/** A CIFAR file holds at most the whole dataset's 60,000 records. */
function cifarLimit(variant: CifarVariant): InflateLimit {
  const max = 60_000 * cifarRecordBytes(variant);
  return { headerBytes: 0, maxBytes: () => max, describe: `60,000 ${variant} records (the whole dataset) take` };
}

/** Where Debian's `dataset-fashion-mnist` package installs the files. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/**
 * A file's bytes, inflated when they start with the gzip magic (1f 8b), whatever the name says,
 * to at most what `limit` allows. Directories, devices and pipes are refused by name.
 */
export async function readDataFile(path: string, limit: InflateLimit = ANY_DATA): Promise<Uint8Array> {
  const raw = await readRegularFile(path, 'a data file');
  const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  return isGzip(bytes) ? inflateCapped(bytes, path, limit) : bytes;
}

/** Inflates a chunk at a time: reads the header first, then stops with an error past the limit. */
async function inflateCapped(gz: Uint8Array, path: string, limit: InflateLimit): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let total = 0;
  let max: number | null = limit.headerBytes === 0 ? limit.maxBytes(new Uint8Array(0)) : null;
  const gunzip = createGunzip();
  gunzip.end(gz);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      total += chunk.length;
      if (max === null && total >= limit.headerBytes) max = limit.maxBytes(Buffer.concat(chunks, total));
      if (max !== null && total > max) {
        throw new FormatError(path, 'gzip stream', `inflates to more than ${max} bytes, the size ${limit.describe}: a corrupt file or a gzip bomb; stopped inflating`);
      }
    }
  } catch (e) {
    gunzip.destroy();
    if (e instanceof FormatError) throw e;
    throw new FormatError(path, 'gzip stream', `expected a complete gzip stream: ${(e as Error).message}`);
  }
  const out = Buffer.concat(chunks, total);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/**
 * Fashion-MNIST's train (60,000) or test (10,000) split from `dir`. Each file may be gzip
 * (`*-ubyte.gz`, as distributed) or already inflated (the same name without `.gz`).
 */
export async function loadFashionMnist(split: 'train' | 'test', dir = FASHION_MNIST_DIR): Promise<Dataset> {
  const names = FASHION_MNIST_FILES[split];
  const imagesPath = await findFile(dir, names.images, 'Fashion-MNIST');
  const labelsPath = await findFile(dir, names.labels, 'Fashion-MNIST');
  const size = { height: 28, width: 28 };
  const [images, labels] = await Promise.all([readDataFile(imagesPath, idxLimit('images', imagesPath, size)), readDataFile(labelsPath, idxLimit('labels', labelsPath))]);
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
  const files = await Promise.all(paths.map(async (fileName) => ({ fileName, bytes: await readDataFile(fileName, cifarLimit(variant)) })));
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
