// IDX reader (the MNIST / Fashion-MNIST format), pure: bytes in, Dataset out, so the browser can
// use it on fetched data. Decompression and file access live in node-files.ts.
//
// Layout: a big-endian u32 magic 0x000008DD (08 = unsigned byte, DD = number of dimensions), DD
// big-endian u32 dimension sizes, then the elements row-major. Images are [n, rows, cols] (magic
// 0x00000803, one channel) or [n, rows, cols, channels] (magic 0x00000804, a pixel's channels
// together; layout 'chw' reads [n, channels, rows, cols] instead); labels are [n] (magic 0x00000801).

import { FormatError } from '../util/format-error.js';
import { classesBeyondLimits, constantChannel, imageShapeBeyondLimits, pixelsCHW, type Dataset, type PixelLayout } from './dataset.js';

export const IDX_IMAGES_MAGIC = 0x00000803;
/** 4-D images: [n, height, width, channels] (or [n, channels, height, width] with layout 'chw'). */
export const IDX_IMAGES4_MAGIC = 0x00000804;
export const IDX_LABELS_MAGIC = 0x00000801;
/** The magic numbers an images file may have. */
export const IDX_IMAGES_MAGICS: readonly number[] = [IDX_IMAGES_MAGIC, IDX_IMAGES4_MAGIC];

/** An image shape; `channels` absent means 1 where a size is expected. */
export interface ImageSize {
  height: number;
  width: number;
  channels?: number;
}

export interface IdxImages {
  n: number;
  height: number;
  width: number;
  /** 1 for a 3-D file; the channel dimension of a 4-D one. */
  channels: number;
  /** How `pixels` orders a colour image's values: the file's layout. */
  layout: PixelLayout;
  /** n * height * width * channels bytes, row-major as in the file; a view into the input. */
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

/** 'HxW' for one channel, 'HxWxC' otherwise. */
export function describeSize(s: ImageSize): string {
  return (s.channels ?? 1) === 1 ? `${s.height}x${s.width}` : `${s.height}x${s.width}x${s.channels}`;
}

/**
 * An images file's shape from its dimension sizes (3 or 4 of them). A 4-D file read as
 * [n, height, width, channels] whose last dimension is over 4 while its second is at most 4 looks
 * like [n, channels, height, width]: without an explicit layout that is refused, naming both readings.
 */
export function idxImageShape(dims: readonly number[], fileName: string, layout?: PixelLayout): { n: number; height: number; width: number; channels: number; layout: PixelLayout } {
  let shape: { n: number; height: number; width: number; channels: number; layout: PixelLayout };
  if (dims.length === 3) {
    shape = { n: dims[0], height: dims[1], width: dims[2], channels: 1, layout: layout ?? 'hwc' };
  } else if (layout === 'chw') {
    shape = { n: dims[0], channels: dims[1], height: dims[2], width: dims[3], layout };
  } else {
    shape = { n: dims[0], height: dims[1], width: dims[2], channels: dims[3], layout: 'hwc' };
    if (layout === undefined && dims[3] > 4 && dims[1] <= 4) {
      throw new FormatError(
        fileName,
        'dimensions',
        `${dims.join('x')} read as [n, height, width, channels] is ${dims[3]} channels of ${dims[1]}x${dims[2]} images; ` +
          `if the file is [n, channels, height, width] (${dims[1]} channels of ${dims[2]}x${dims[3]}), set layout 'chw'; to read it as it is, set layout 'hwc'`,
      );
    }
  }
  const zero = (['height', 'width', 'channels'] as const).find((k) => shape[k] === 0);
  if (zero) throw new FormatError(fileName, 'dimensions', `${dims.join('x')}: images with ${zero} 0`);
  const beyond = imageShapeBeyondLimits(shape.height, shape.width, shape.channels);
  if (beyond) throw new FormatError(fileName, 'dimensions', `${dims.join('x')}: ${beyond}`);
  return shape;
}

/** Throws unless `found` is `expected` (whose absent channels mean 1). */
export function checkImageSize(fileName: string, expected: ImageSize, found: ImageSize, why = ''): void {
  if (expected.height !== found.height || expected.width !== found.width || (expected.channels ?? 1) !== (found.channels ?? 1)) {
    throw new FormatError(fileName, 'image size', `expected ${describeSize(expected)}${why}, found ${describeSize(found)}`);
  }
}

export function parseIdxImages(bytes: Uint8Array, fileName: string, expectSize?: ImageSize, layout?: PixelLayout): IdxImages {
  const { dims, data } = parseIdx(bytes, fileName, IDX_IMAGES_MAGICS, 'images');
  const shape = idxImageShape(dims, fileName, layout);
  if (expectSize) checkImageSize(fileName, expectSize, shape);
  return { ...shape, pixels: data };
}

/** The labels as bytes (a view into the input). Range is checked by idxDataset, which knows numClasses. */
export function parseIdxLabels(bytes: Uint8Array, fileName: string): Uint8Array {
  return parseIdx(bytes, fileName, [IDX_LABELS_MAGIC], 'labels').data;
}

export interface IdxPair {
  images: Uint8Array;
  labels: Uint8Array;
  imagesFile: string;
  labelsFile: string;
  name: string;
  /** Labels must be below it; absent: the largest label + 1. */
  numClasses?: number;
  /** Said after a refused label, e.g. where numClasses came from. */
  numClassesFrom?: string;
  /** Refuse images of any other size (absent channels: 1). */
  expectSize?: ImageSize;
  /** Said after a refused size, e.g. ' (the size of the train images)'. */
  expectSizeFrom?: string;
  /** How a 4-D file orders its dimensions; absent: [n, height, width, channels], refusing one that looks like [n, channels, height, width]. */
  layout?: PixelLayout;
  classNames?: readonly string[];
  /** The training split: constant images (std 0, which cannot be normalised) are refused before their floats are allocated. */
  training?: boolean;
}

/** Parses an images file and its labels file, checks they agree, and keeps the pixels as bytes in NCHW order. */
export function idxDataset(pair: IdxPair): Dataset {
  const img = parseIdxImages(pair.images, pair.imagesFile, undefined, pair.layout);
  if (pair.expectSize) checkImageSize(pair.imagesFile, pair.expectSize, img, pair.expectSizeFrom);
  if (img.n === 0) throw new FormatError(pair.imagesFile, 'dimensions', `expected at least one image, found 0`);
  const constant = pair.training ? constantChannel(img.pixels, img, img.layout) : null;
  if (constant) {
    throw new FormatError(pair.imagesFile, `channel ${constant.channel}`, `every pixel of every image is ${constant.value}: constant training images have no spread (std 0) to normalise by`);
  }
  const labelBytes = parseIdxLabels(pair.labels, pair.labelsFile);
  if (labelBytes.length !== img.n) {
    throw new FormatError(
      pair.labelsFile,
      'label count',
      `expected ${img.n} (the number of images in ${pair.imagesFile}), found ${labelBytes.length}`,
    );
  }
  let numClasses = pair.numClasses;
  if (numClasses !== undefined && !(Number.isSafeInteger(numClasses) && numClasses >= 1)) {
    throw new FormatError(pair.labelsFile, 'numClasses', `expected an integer >= 1, found ${numClasses}`);
  }
  const beyond = numClasses === undefined ? null : classesBeyondLimits(numClasses);
  if (beyond) throw new FormatError(pair.labelsFile, 'numClasses', beyond);
  if (numClasses === undefined) {
    numClasses = 1;
    for (const y of labelBytes) numClasses = Math.max(numClasses, y + 1);
  }
  const labels = new Uint32Array(img.n);
  for (let i = 0; i < img.n; i++) {
    const y = labelBytes[i];
    if (y >= numClasses) {
      throw new FormatError(pair.labelsFile, `label ${i}`, `expected a class in [0, ${numClasses})${pair.numClassesFrom ?? ''}, found ${y}`);
    }
    labels[i] = y;
  }
  const ds: Dataset = {
    images: pixelsCHW(img.pixels, img, img.layout),
    labels,
    n: img.n,
    channels: img.channels,
    height: img.height,
    width: img.width,
    numClasses,
    name: pair.name,
  };
  if (pair.classNames) ds.classNames = [...pair.classNames];
  return ds;
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
    classNames: FASHION_MNIST_CLASSES,
    training: split === 'train',
  });
}

export interface IdxHeader {
  dims: number[];
  /** 4 + 4 * dims.length. */
  headerBytes: number;
  /** Elements (bytes) the dimensions announce after the header. */
  count: number;
}

const ELEMENT_TYPES: Record<number, string> = { 0x08: 'unsigned byte', 0x09: 'signed byte', 0x0b: 'int16', 0x0c: 'int32', 0x0d: 'float32', 0x0e: 'float64' };

function describeMagic(magic: number): string {
  const d = magic & 0xff;
  const what = magic === IDX_LABELS_MAGIC ? 'IDX labels' : 'IDX images';
  const axes = d === 1 ? ' [n]' : d === 3 ? ' [n, height, width]' : d === 4 ? ' [n, height, width, channels]' : '';
  return `${hex32(magic)} (${what}: unsigned bytes, ${d} dimension${d > 1 ? 's' : ''}${axes})`;
}

/**
 * The header of an IDX file with one of the given magics, from its first bytes (at least 4 + 4 *
 * dimensions; the data need not follow): lets a reader know the file's size before it has the rest,
 * so inflating a gzip file can stop at the size the header announces.
 */
export function parseIdxHeader(bytes: Uint8Array, fileName: string, magic: number | readonly number[], what: 'images' | 'labels'): IdxHeader {
  const magics = typeof magic === 'number' ? [magic] : magic;
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
  if (!magics.includes(found)) {
    let hint = '';
    if (what === 'images' && found === IDX_LABELS_MAGIC) hint = ' (that is an IDX labels file)';
    else if (what === 'labels' && IDX_IMAGES_MAGICS.includes(found)) hint = ' (that is an IDX images file)';
    else if (found >>> 16 === 0 && (found & 0xff00) !== 0x0800 && ELEMENT_TYPES[(found >>> 8) & 0xff]) {
      hint = ` (an IDX file of ${ELEMENT_TYPES[(found >>> 8) & 0xff]} elements: kdgpu reads unsigned bytes only)`;
    }
    throw new FormatError(fileName, 'magic number', `expected ${magics.map(describeMagic).join(' or ')}, found ${hex32(found)}${hint}`);
  }
  const ndims = found & 0xff;
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
  magic: readonly number[],
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
