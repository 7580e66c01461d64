// IDX reader (the MNIST / Fashion-MNIST format), pure: bytes in, Dataset out, so the browser can
// use it on fetched data. Decompression and file access live in node-files.ts.
//
// Layout: a big-endian u32 magic 0x000008DD (08 = unsigned byte, DD = number of dimensions), DD
// big-endian u32 dimension sizes, then the elements row-major. Images are [n, rows, cols] (magic
// 0x00000803), labels are [n] (magic 0x00000801).

import { FormatError } from '../util/format-error.js';
import { pixelsToUnit, type Dataset } from './dataset.js';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

export interface IdxImages {
  n: number;
  height: number;
  width: number;
  /** n * height * width bytes, row-major; a view into the input. */
  pixels: Uint8Array;
}

export const FASHION_MNIST_FILES = {
  train: { images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' },
  test: { images: 't10k-images-idx3-ubyte.gz', labels: 't10k-labels-idx1-ubyte.gz' },
} as const;

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
] as const;

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export function parseIdxImages(
  bytes: Uint8Array,
  fileName: string,
  expectSize?: { height: number; width: number },
): IdxImages {
  const { dims, data } = parseIdx(bytes, fileName, IDX_IMAGES_MAGIC, 'images');
  const [n, height, width] = dims;
  if (expectSize && (height !== expectSize.height || width !== expectSize.width)) {
    throw new FormatError(fileName, 'image size', `expected ${expectSize.height}x${expectSize.width}, found ${height}x${width}`);
  }
  return { n, height, width, pixels: data };
}

/** The labels as bytes (a view into the input). Range is checked by idxDataset, which knows numClasses. */
export function parseIdxLabels(bytes: Uint8Array, fileName: string): Uint8Array {
  return parseIdx(bytes, fileName, IDX_LABELS_MAGIC, 'labels').data;
}

export interface IdxPair {
  images: Uint8Array;
  labels: Uint8Array;
  imagesFile: string;
  labelsFile: string;
  name: string;
  numClasses: number;
  /** Refuse images of any other size. */
  expectSize?: { height: number; width: number };
}

/** Parses an images file and its labels file, checks they agree, and scales pixels to [0, 1]. */
export function idxDataset(pair: IdxPair): Dataset {
  const img = parseIdxImages(pair.images, pair.imagesFile, pair.expectSize);
  const labelBytes = parseIdxLabels(pair.labels, pair.labelsFile);
  if (labelBytes.length !== img.n) {
    throw new FormatError(
      pair.labelsFile,
      'label count',
      `expected ${img.n} (the number of images in ${pair.imagesFile}), found ${labelBytes.length}`,
    );
  }
  const labels = new Uint32Array(img.n);
  for (let i = 0; i < img.n; i++) {
    const y = labelBytes[i];
    if (y >= pair.numClasses) {
      throw new FormatError(pair.labelsFile, `label ${i}`, `expected a class in [0, ${pair.numClasses}), found ${y}`);
    }
    labels[i] = y;
  }
  return {
    images: pixelsToUnit(img.pixels),
    labels,
    n: img.n,
    channels: 1,
    height: img.height,
    width: img.width,
    numClasses: pair.numClasses,
    name: pair.name,
  };
}

/** Fashion-MNIST from the (decompressed) bytes of a split's two files; fileNames only label errors. */
export function fashionMnistDataset(
  split: 'train' | 'test',
  images: Uint8Array,
  labels: Uint8Array,
  fileNames: { images: string; labels: string } = FASHION_MNIST_FILES[split],
): Dataset {
  return idxDataset({
    images,
    labels,
    imagesFile: fileNames.images,
    labelsFile: fileNames.labels,
    name: `fashion-mnist/${split}`,
    numClasses: FASHION_MNIST_CLASSES.length,
    expectSize: { height: 28, width: 28 },
  });
}

export interface IdxHeader {
  dims: number[];
  /** 4 + 4 * dims.length. */
  headerBytes: number;
  /** Elements (bytes) the dimensions announce after the header. */
  count: number;
}

/**
 * The header of an IDX file of the given magic, from its first bytes (at least 4 + 4 * dimensions;
 * the data need not follow): lets a reader know the file's size before it has the rest, so
 * inflating a gzip file can stop at the size the header announces.
 */
export function parseIdxHeader(bytes: Uint8Array, fileName: string, magic: number, what: 'images' | 'labels'): IdxHeader {
  if (isGzip(bytes)) {
    throw new FormatError(
      fileName,
      'encoding',
      "expected raw IDX bytes, found gzip data (starts with 1f 8b): decompress it first " +
        "(readDataFile does in Node, DecompressionStream('gzip') in a browser)",
    );
  }
  if (bytes.length < 4) {
    throw new FormatError(fileName, 'magic number', `truncated: the file is ${bytes.length} bytes, shorter than the 4-byte magic number`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found = view.getUint32(0);
  if (found !== magic) {
    const other = magic === IDX_IMAGES_MAGIC ? IDX_LABELS_MAGIC : IDX_IMAGES_MAGIC;
    const hint = found === other ? ` (that is an IDX ${what === 'images' ? 'labels' : 'images'} file)` : '';
    throw new FormatError(
      fileName,
      'magic number',
      `expected ${hex32(magic)} (IDX ${what}: unsigned bytes, ${magic & 0xff} dimension${(magic & 0xff) > 1 ? 's' : ''}), found ${hex32(found)}${hint}`,
    );
  }
  const ndims = magic & 0xff;
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new FormatError(
      fileName,
      'header',
      `truncated: the header with ${ndims} dimension sizes needs ${headerBytes} bytes, the file is ${bytes.length}`,
    );
  }
  const dims: number[] = [];
  let count = 1;
  for (let d = 0; d < ndims; d++) {
    dims.push(view.getUint32(4 + 4 * d));
    count *= dims[d];
  }
  return { dims, headerBytes, count };
}

function parseIdx(
  bytes: Uint8Array,
  fileName: string,
  magic: number,
  what: 'images' | 'labels',
): { dims: number[]; data: Uint8Array } {
  const { dims, headerBytes, count } = parseIdxHeader(bytes, fileName, magic, what);
  const present = bytes.length - headerBytes;
  if (present !== count) {
    const shape = dims.join('x');
    const detail =
      present < count
        ? `truncated: dimensions ${shape} need ${count} bytes after the ${headerBytes}-byte header, found ${present}`
        : `dimensions ${shape} need exactly ${count} bytes after the ${headerBytes}-byte header, found ${present} (${present - count} extra)`;
    throw new FormatError(fileName, 'data', detail);
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

function hex32(x: number): string {
  return '0x' + (x >>> 0).toString(16).padStart(8, '0');
}
