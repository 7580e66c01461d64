// Node-only file access for the dataset readers: reads files, inflates gzip, and hands the bytes
// to the pure parsers in idx.ts and cifar.ts (which the browser bundle uses without this module).
// Gzip is inflated as a stream and stopped at the size the format allows (for IDX, the size its
// header announces), so a small corrupt or malicious file cannot inflate to gigabytes first.

import { readdirSync, statSync, type Stats } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { fileKind, readRegularFile } from '../io/regular-file.js';
import { FormatError } from '../util/format-error.js';
import { CIFAR10_FILES, CIFAR100_FILES, cifarDataset, cifarRecordBytes, type CifarVariant } from './cifar.js';
import { csvDatasets, type CsvDatasetOptions } from './csv.js';
import { checkImageShape, type Dataset, type PixelLayout } from './dataset.js';
import { imageFolderDatasets, imageFolderListing, isImageFileName, type ImageFolderListing, type ImageFolderOptions } from './image-folder.js';
import {
  FASHION_MNIST_FILES, IDX_IMAGES_MAGICS, IDX_LABELS_MAGIC, checkImageSize, fashionMnistDataset, idxDataset, idxImageShape, isGzip, parseIdxHeader, type ImageSize,
} from './idx.js';
import { decodeImageFile } from './node-images.js';

/** How many bytes a gzip data file may inflate to, decided from its first bytes. */
export interface InflateLimit {
  /** Inflated bytes needed to decide (the format's header; 0: none). */
  headerBytes: number;
  /** The most bytes the file may inflate to, from its first headerBytes (fewer if that is all there is); may throw a FormatError. */
  maxBytes(head: Uint8Array): number;
  /** Where the limit comes from, for the error. */
  describe: string;
  /** The limit is the file's size (an IDX header's): inflate into one buffer of it, not chunks copied together at the end (twice the memory). */
  exact?: boolean;
}

/** The most any data file may inflate to: 1 GiB, seven times the largest file kdgpu reads (CIFAR-100's train.bin). */
export const MAX_DATA_BYTES = 2 ** 30;
const ANY_DATA: InflateLimit = { headerBytes: 0, maxBytes: () => MAX_DATA_BYTES, describe: "kdgpu's limit for a data file" };

/**
 * An IDX file inflates to exactly the size its header announces; a header announcing more than
 * MAX_DATA_BYTES, or images of another size than `expectSize` (absent channels: 1), is refused from
 * the header alone. An images file may be 3-D (magic 0x803) or 4-D (0x804, read with `layout`).
 */
export function idxLimit(what: 'images' | 'labels', fileName: string, expectSize?: ImageSize, layout?: PixelLayout): InflateLimit {
  const magics = what === 'images' ? IDX_IMAGES_MAGICS : [IDX_LABELS_MAGIC];
  return {
    headerBytes: Math.max(...magics.map((m) => 4 + 4 * (m & 0xff))),
    maxBytes(head) {
      const h = parseIdxHeader(head, fileName, magics, what);
      if (what === 'images') {
        const shape = idxImageShape(h.dims, fileName, layout);
        if (expectSize) checkImageSize(fileName, expectSize, shape);
      }
      const size = h.headerBytes + h.count;
      if (size > MAX_DATA_BYTES) throw new FormatError(fileName, 'header', `dimensions ${h.dims.join('x')} announce ${size} bytes, more than the ${MAX_DATA_BYTES} kdgpu reads from a data file`);
      return size;
    },
    describe: 'its IDX header announces',
    exact: true,
  };
}

/** A CIFAR file holds at most the whole dataset's 60,000 records. */
function cifarLimit(variant: CifarVariant): InflateLimit {
  const max = 60_000 * cifarRecordBytes(variant);
  return { headerBytes: 0, maxBytes: () => max, describe: `60,000 ${variant} records (the whole dataset) take` };
}

/**
 * Like Promise.all, but when several fail, the error of the first in order wins (train before
 * test, images before labels), so a message never depends on which read finished first.
 */
export async function allInOrder<T extends readonly unknown[]>(ps: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(ps as readonly Promise<unknown>[]);
  for (const r of settled) if (r.status === 'rejected') throw r.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
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
  let whole: Buffer | null = null; // an exact limit's buffer, once the header has told its size
  const tooBig = (max: number) => new FormatError(path, 'gzip stream', `inflates to more than ${max} bytes, the size ${limit.describe}: a corrupt file or a gzip bomb; stopped inflating`);
  const gunzip = createGunzip();
  gunzip.end(gz);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      if (max !== null && total + chunk.length > max) throw tooBig(max);
      if (whole) chunk.copy(whole, total);
      else chunks.push(chunk);
      total += chunk.length;
      if (max === null && total >= limit.headerBytes) {
        max = limit.maxBytes(Buffer.concat(chunks, total));
        if (total > max) throw tooBig(max);
      }
      if (max !== null && limit.exact && !whole) {
        whole = Buffer.allocUnsafe(max);
        Buffer.concat(chunks, total).copy(whole);
        chunks.length = 0;
      }
    }
  } catch (e) {
    gunzip.destroy();
    if (e instanceof FormatError) throw e;
    throw new FormatError(path, 'gzip stream', `expected a complete gzip stream: ${(e as Error).message}`);
  }
  const out = whole ? whole.subarray(0, total) : Buffer.concat(chunks, total);
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
  const [images, labels] = await allInOrder([readDataFile(imagesPath, idxLimit('images', imagesPath, size)), readDataFile(labelsPath, idxLimit('labels', labelsPath))]);
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
  const files = await allInOrder(paths.map(async (fileName) => ({ fileName, bytes: await readDataFile(fileName, cifarLimit(variant)) })));
  return cifarDataset(variant, files, name);
}

/** `name` in `dir`, or the same name without `.gz`; a missing file says what was looked for. */
async function findFile(dir: string, name: string, what: string): Promise<string> {
  return findOneOf(dir, name.endsWith('.gz') ? [name, name.slice(0, -3)] : [name], what);
}

/** The first of `candidates` present in `dir`; none: an error naming the first and listing them all. */
async function findOneOf(dir: string, candidates: readonly string[], what: string): Promise<string> {
  for (const c of candidates) {
    const path = join(dir, c);
    try {
      await access(path);
      return path;
    } catch {
      // try the next spelling
    }
  }
  throw new FormatError(join(dir, candidates[0]), 'file', `not found: expected the ${what} file ${candidates.join(' or ')} in ${dir}`);
}

// ---- IDX files of any image size ---------------------------------------------------------------

export interface IdxFiles {
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
}

/**
 * The names an IDX dataset's files may have in a folder, most usual first; each may also end in
 * .gz. The idx3 / idx4 in an images file's name is not checked: its magic number says whether it is 3-D or 4-D.
 */
export const IDX_FILE_NAMES: Readonly<Record<keyof IdxFiles, readonly string[]>> = {
  trainImages: ['train-images-idx3-ubyte', 'train-images-idx4-ubyte'],
  trainLabels: ['train-labels-idx1-ubyte'],
  testImages: ['t10k-images-idx3-ubyte', 't10k-images-idx4-ubyte', 'test-images-idx3-ubyte', 'test-images-idx4-ubyte'],
  testLabels: ['t10k-labels-idx1-ubyte', 'test-labels-idx1-ubyte'],
};

/** Every spelling of an IDX file in a folder: each name with .gz, then without. */
export function idxCandidates(key: keyof IdxFiles): string[] {
  return IDX_FILE_NAMES[key].flatMap((n) => [`${n}.gz`, n]);
}

const IDX_WHAT: Record<keyof IdxFiles, string> = { trainImages: 'train images', trainLabels: 'train labels', testImages: 'test images', testLabels: 'test labels' };

/** The four files of an IDX dataset: those given, the others found in `dir` by IDX_FILE_NAMES. */
export async function idxFilesIn(dir: string | undefined, given: Partial<IdxFiles> = {}): Promise<IdxFiles> {
  const out: Partial<IdxFiles> = {};
  for (const key of Object.keys(IDX_FILE_NAMES) as (keyof IdxFiles)[]) {
    const g = given[key];
    if (g) out[key] = g;
    else if (dir === undefined) throw new Error(`idx data: no ${IDX_WHAT[key]} file given and no folder to find it in`);
    else out[key] = await findOneOf(dir, idxCandidates(key), `IDX ${IDX_WHAT[key]}`);
  }
  return out as IdxFiles;
}

export interface IdxLoadOptions {
  /** Labels must be below it; absent: the largest train label + 1 (and test labels must be below that). */
  numClasses?: number;
  /** [height, width] (one channel) or [height, width, channels] every image must have; absent: the train images'. */
  imageShape?: readonly [number, number, number?];
  /** How 4-D files order their dimensions (see idxImageShape). */
  layout?: PixelLayout;
  classNames?: readonly string[];
  /** Dataset names are `${name}/train` and `${name}/test`; default 'idx'. */
  name?: string;
}

/**
 * An IDX dataset of any image size and channel count (gzip or not): the test images must have the
 * train images' size, the test labels must be below the class count.
 */
export async function loadIdx(files: IdxFiles, options: IdxLoadOptions = {}): Promise<{ train: Dataset; test: Dataset }> {
  let expect: ImageSize | undefined;
  if (options.imageShape) {
    const [height, width, channels] = checkImageShape(options.imageShape, files.trainImages);
    expect = { height, width, channels };
  }
  const { layout } = options;
  const [trainImages, trainLabels, testImages, testLabels] = await allInOrder([
    readDataFile(files.trainImages, idxLimit('images', files.trainImages, expect, layout)),
    readDataFile(files.trainLabels, idxLimit('labels', files.trainLabels)),
    readDataFile(files.testImages, idxLimit('images', files.testImages, expect, layout)),
    readDataFile(files.testLabels, idxLimit('labels', files.testLabels)),
  ]);
  const name = options.name ?? 'idx';
  const given = options.numClasses !== undefined;
  const train = idxDataset({
    images: trainImages, labels: trainLabels, imagesFile: files.trainImages, labelsFile: files.trainLabels, name: `${name}/train`,
    numClasses: options.numClasses, numClassesFrom: given ? ' (numClasses)' : undefined,
    expectSize: expect, expectSizeFrom: ' (the image shape given)', layout, classNames: options.classNames, training: true,
  });
  const test = idxDataset({
    images: testImages, labels: testLabels, imagesFile: files.testImages, labelsFile: files.testLabels, name: `${name}/test`,
    numClasses: train.numClasses,
    numClassesFrom: given ? ' (numClasses)' : ` (the classes of ${files.trainLabels}: its largest label + 1; set numClasses for more)`,
    expectSize: train, expectSizeFrom: expect ? ' (the image shape given)' : ` (the size of the images in ${files.trainImages})`,
    layout: layout ?? (train.channels > 1 ? 'hwc' : undefined), classNames: options.classNames,
  });
  return { train, test };
}

// ---- CSV ---------------------------------------------------------------------------------------

/** The names a CSV dataset's files may have in a folder. */
export const CSV_FILE_NAMES = { train: ['train.csv', 'train.csv.gz'], test: ['test.csv', 'test.csv.gz'] } as const;

/** The train and test CSV files: those given, the others found in `dir`. */
export async function csvFilesIn(dir: string | undefined, given: { train?: string; test?: string } = {}): Promise<{ train: string; test: string }> {
  const out: { train?: string; test?: string } = {};
  for (const key of ['train', 'test'] as const) {
    const g = given[key];
    if (g) out[key] = g;
    else if (dir === undefined) throw new Error(`csv data: no ${key} file given and no folder to find it in`);
    else out[key] = await findOneOf(dir, CSV_FILE_NAMES[key], `${key} CSV`);
  }
  return out as { train: string; test: string };
}

/** A file's text (gzip inflated, UTF-8). */
export async function readTextFile(path: string): Promise<string> {
  const bytes = await readDataFile(path);
  try {
    return new TextDecoder().decode(bytes);
  } catch (e) {
    throw new FormatError(path, 'size', `${bytes.length} bytes are too many to read as one text (${(e as Error).message}); convert the data to IDX`);
  }
}

/** A train and a test CSV file (gzip or not) as datasets; see csv.ts for the format. */
export async function loadCsv(files: { train: string; test: string }, options: CsvDatasetOptions = {}): Promise<{ train: Dataset; test: Dataset }> {
  const [train, test] = await allInOrder([readTextFile(files.train), readTextFile(files.test)]);
  return csvDatasets({ fileName: files.train, text: train }, { fileName: files.test, text: test }, options);
}

// ---- Image folders -----------------------------------------------------------------------------

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

/**
 * The images of an image folder dataset (see image-folder.ts), listed synchronously. Refused, by
 * name: a missing train or test folder, an empty train class folder, a subfolder in a class folder.
 */
export function listImageFolder(dir: string): ImageFolderListing {
  const rels: string[] = [];
  for (const split of ['train', 'test'] as const) {
    const splitDir = join(dir, split);
    const s = statOrNull(splitDir);
    if (!s) throw new FormatError(splitDir, 'folder', `not found: an image folder dataset holds ${join(dir, 'train')}/<class>/<image> and ${join(dir, 'test')}/<class>/<image>`);
    if (!s.isDirectory()) throw new FormatError(splitDir, 'folder', `expected a folder, found ${fileKind(s)}`);
    for (const entry of readdirSync(splitDir).sort()) {
      if (entry.startsWith('.')) continue;
      const classDir = join(splitDir, entry);
      const cs = statOrNull(classDir);
      if (!cs?.isDirectory()) {
        rels.push(`${split}/${entry}`);
        continue;
      }
      let images = 0;
      for (const file of readdirSync(classDir)) {
        if (file.startsWith('.')) continue;
        const path = join(classDir, file);
        if (statOrNull(path)?.isDirectory()) {
          throw new FormatError(path, 'folder layout', `expected image files directly in the class folder ${classDir}, found a subfolder (subfolders are not read)`);
        }
        if (isImageFileName(file)) images++;
        rels.push(`${split}/${entry}/${file}`);
      }
      if (images === 0 && split === 'train') throw new FormatError(classDir, 'class folder', 'expected .png, .jpg or .jpeg images, found none');
    }
  }
  return imageFolderListing(rels, dir);
}

/** An image folder dataset, PNG and JPEG decoded with pngjs and jpeg-js; see image-folder.ts for the rules. */
export async function loadImageFolder(dir: string, options: ImageFolderOptions = {}): Promise<{ train: Dataset; test: Dataset; classNames: string[] }> {
  const listing = listImageFolder(dir);
  return imageFolderDatasets(listing, (path) => readRegularFile(path, 'an image'), decodeImageFile, options);
}
