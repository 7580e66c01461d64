// Image folders (the ImageFolder convention), pure: file paths, a way to read a file's bytes and an
// image decoder in, Datasets out. Node lists a folder and decodes with pngjs / jpeg-js
// (node-files.ts, node-images.ts); a browser can list a directory picker's files and decode with
// its own decoders (browser-images.ts).
//
//   D/train/<class>/*.png|jpg|jpeg     the classes are the train folder's subfolders, sorted
//   D/test/<class>/*.png|jpg|jpeg      a subset of the train classes (a class may have no test images)
//
// Rules, each refusal naming the folder or the image:
// - names starting with '.' are ignored everywhere (.DS_Store, .git); other entries of D than
//   train/ and test/, and non-image files directly in D/train or D/test, are ignored too;
// - in a class folder every file must be a .png, .jpg or .jpeg image (case-insensitive), and there
//   must be no subfolders: data that would silently not be read is refused instead;
// - every image has one size and channel count: grey images (and grey + alpha) are 1 channel,
//   colour ones (RGB, palette, RGBA) 3; alpha is dropped when every pixel is opaque and refused
//   otherwise. Without an image shape the first train image sets them; with imageShape
//   [h, w, 3], grey images are read as colour (each channel the grey value); [h, w, 1] refuses colour.
// - images are in class order, each class's files sorted by name (code-point order).

import { FormatError } from '../util/format-error.js';
import { checkImageShape, type Dataset } from './dataset.js';

/** A decoded image: 8-bit values, a pixel's channels together (HWC), rows top to bottom. */
export interface DecodedImage {
  width: number;
  height: number;
  /** 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA. */
  channels: 1 | 2 | 3 | 4;
  /** width * height * channels bytes. */
  data: Uint8Array;
}

/** Decodes an image file's bytes; `fileName` names it in errors (and may tell the type by its extension). */
export type ImageDecoder = (bytes: Uint8Array, fileName: string) => DecodedImage | Promise<DecodedImage>;

/** The most pixels (width x height) an image may have: larger ones are refused before they are decoded. */
export const MAX_IMAGE_PIXELS = 64_000_000;

export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg'];

export function isImageFileName(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((e) => lower.endsWith(e));
}

export interface ImageFolderEntry {
  /** The image's path as given (root + '/' + the relative path): what `read` is called with and errors name. */
  path: string;
  label: number;
}

export interface ImageFolderListing {
  /** The dataset folder D, as given. */
  root: string;
  /** The train folder's class folders, sorted. */
  classNames: string[];
  train: ImageFolderEntry[];
  test: ImageFolderEntry[];
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function joinPath(root: string, rel: string): string {
  return root === '' ? rel : root.endsWith('/') ? root + rel : `${root}/${rel}`;
}

/**
 * Sorts files (paths relative to D, '/'-separated: 'train/cat/1.png') into classes by the
 * convention above. `root` (D) only prefixes the paths and names folders in errors. A folder with
 * no images is invisible here (a browser's file list does not show it): listImageFolder (Node) refuses empty class folders.
 */
export function imageFolderListing(paths: readonly string[], root: string): ImageFolderListing {
  const splits: Record<'train' | 'test', Map<string, string[]>> = { train: new Map(), test: new Map() };
  for (const rel of paths) {
    const parts = rel.split('/').filter((p) => p !== '');
    if (parts.some((p) => p.startsWith('.'))) continue;
    const split = parts[0];
    if (split !== 'train' && split !== 'test') continue;
    const path = joinPath(root, parts.join('/'));
    if (parts.length === 2) {
      if (isImageFileName(parts[1])) {
        throw new FormatError(path, 'folder layout', `expected the images in class folders (${joinPath(root, split)}/<class>/<image>), found one directly in ${joinPath(root, split)}`);
      }
      continue;
    }
    if (parts.length === 1) continue;
    const classDir = joinPath(root, `${split}/${parts[1]}`);
    if (parts.length > 3) {
      throw new FormatError(path, 'folder layout', `expected image files directly in the class folder ${classDir}, found one in a subfolder (subfolders are not read)`);
    }
    if (!isImageFileName(parts[2])) {
      throw new FormatError(path, 'file type', `expected a ${IMAGE_EXTENSIONS.join(', ')} image in the class folder ${classDir}`);
    }
    const files = splits[split].get(parts[1]) ?? [];
    files.push(parts[2]);
    splits[split].set(parts[1], files);
  }
  const classNames = [...splits.train.keys()].sort(byCodePoint);
  if (classNames.length === 0) {
    throw new FormatError(joinPath(root, 'train'), 'classes', 'expected class folders holding .png, .jpg or .jpeg images (train/<class>/<image>), found none');
  }
  const index = new Map(classNames.map((c, i) => [c, i]));
  for (const c of [...splits.test.keys()].sort(byCodePoint)) {
    if (!index.has(c)) {
      const list = classNames.length > 20 ? `${classNames.slice(0, 20).join(', ')}, …` : classNames.join(', ');
      throw new FormatError(
        joinPath(root, `test/${c}`),
        'class',
        `"${c}" is not one of the ${classNames.length} train classes (the folders of ${joinPath(root, 'train')}: ${list}); the test classes must be train classes`,
      );
    }
  }
  if (splits.test.size === 0) {
    throw new FormatError(joinPath(root, 'test'), 'classes', 'expected class folders holding .png, .jpg or .jpeg images (test/<class>/<image>), found none');
  }
  const entries = (split: 'train' | 'test'): ImageFolderEntry[] =>
    [...splits[split].keys()]
      .sort((a, b) => index.get(a)! - index.get(b)!)
      .flatMap((c) => splits[split].get(c)!.sort(byCodePoint).map((f) => ({ path: joinPath(root, `${split}/${c}/${f}`), label: index.get(c)! })));
  return { root, classNames, train: entries('train'), test: entries('test') };
}

function channelWord(c: number): string {
  return c === 1 ? '1 (grey)' : `${c} (colour)`;
}

/**
 * An image's values as 1 or 3 channels (HWC): alpha dropped when every pixel is opaque (refused
 * otherwise, naming the first transparent pixel); grey expanded to 3 channels when `want` is 3;
 * colour refused when `want` is 1.
 */
export function imageChannels(img: DecodedImage, path: string, want?: 1 | 3, why = ''): { channels: 1 | 3; data: Uint8Array } {
  const { width, height, channels, data } = img;
  if (![1, 2, 3, 4].includes(channels) || !(width >= 1 && height >= 1) || data.length !== width * height * channels) {
    throw new FormatError(path, 'decoded image', `expected width * height * channels bytes with 1 to 4 channels, found ${data.length} bytes for ${width}x${height} with ${channels} channels`);
  }
  const pixels = width * height;
  const colour = channels >= 3 ? 3 : 1;
  if (channels === 2 || channels === 4) {
    for (let p = 0; p < pixels; p++) {
      const a = data[p * channels + channels - 1];
      if (a !== 255) {
        throw new FormatError(
          path,
          'alpha',
          `transparent pixels (alpha ${a} at x=${p % width}, y=${Math.floor(p / width)}): kdgpu reads opaque images only; flatten the image onto a background first`,
        );
      }
    }
  }
  const out = want ?? colour;
  if (out === 1 && colour === 3) throw new FormatError(path, 'channels', `expected ${channelWord(1)}${why}, found ${channelWord(3)}`);
  if (channels === out) return { channels: out, data };
  const res = new Uint8Array(pixels * out);
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < out; c++) res[p * out + c] = data[p * channels + (colour === 1 ? 0 : c)];
  }
  return { channels: out, data: res };
}

export interface ImageFolderOptions {
  /** [height, width] or [height, width, channels] every image must have (channels 3 reads grey images as colour); absent: the first train image's. */
  imageShape?: readonly [number, number, number?];
  /** At least the number of classes (extra outputs that no image has); absent: the number of class folders. */
  numClasses?: number;
  /** Dataset names are `${name}/train` and `${name}/test`; default 'folder'. */
  name?: string;
}

interface Shape {
  height: number;
  width: number;
  channels: 1 | 3;
}

/** Decodes a split's images one at a time into one NCHW byte array (b means b/255). */
async function decodeSplit(
  entries: readonly ImageFolderEntry[],
  read: (path: string) => Uint8Array | Promise<Uint8Array>,
  decode: ImageDecoder,
  given: { shape?: Shape; from: string; fixedChannels: boolean },
  name: string,
  numClasses: number,
  classNames: string[],
): Promise<Dataset> {
  let shape = given.shape;
  let from = given.from;
  let images = new Uint8Array(0);
  const labels = new Uint32Array(entries.length);
  for (const [i, e] of entries.entries()) {
    const img = await decode(await read(e.path), e.path);
    const want = shape && given.fixedChannels ? shape.channels : undefined;
    const { channels, data } = imageChannels(img, e.path, want, from);
    if (!shape) {
      shape = { height: img.height, width: img.width, channels };
      from = ` (like ${e.path}, the first image)`;
    }
    if (img.height !== shape.height || img.width !== shape.width) {
      throw new FormatError(e.path, 'image size', `expected ${shape.height}x${shape.width} (height x width)${from}, found ${img.height}x${img.width}; every image must have one size`);
    }
    if (channels !== shape.channels) {
      throw new FormatError(
        e.path,
        'channels',
        `expected ${channelWord(shape.channels)}${from}, found ${channelWord(channels)}; every image must have one channel count` +
          (shape.channels === 3 ? ` (give the image shape [${shape.height}, ${shape.width}, 3] to read grey images as colour)` : ''),
      );
    }
    const plane = shape.height * shape.width;
    const size = plane * shape.channels;
    if (images.length === 0) images = new Uint8Array(entries.length * size);
    const base = i * size;
    if (channels === 1) images.set(data.subarray(0, plane), base);
    else for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) images[base + c * plane + p] = data[p * 3 + c];
    labels[i] = e.label;
  }
  const s = shape!;
  return { images, labels, n: entries.length, channels: s.channels, height: s.height, width: s.width, numClasses, name, classNames: [...classNames] };
}

/**
 * The train and test datasets of a listing: `read` gives a file's bytes (Node: readRegularFile; a
 * browser: File.arrayBuffer), `decode` its pixels (Node: decodeImageFile; a browser:
 * decodeImageInBrowser). The test images must have the train images' size and channels.
 */
export async function imageFolderDatasets(
  listing: ImageFolderListing,
  read: (path: string) => Uint8Array | Promise<Uint8Array>,
  decode: ImageDecoder,
  options: ImageFolderOptions = {},
): Promise<{ train: Dataset; test: Dataset; classNames: string[] }> {
  const { classNames } = listing;
  let numClasses = classNames.length;
  if (options.numClasses !== undefined) {
    if (!Number.isSafeInteger(options.numClasses) || options.numClasses < classNames.length) {
      throw new FormatError(
        joinPath(listing.root, 'train'),
        'numClasses',
        `expected an integer >= ${classNames.length} (the number of class folders), found ${options.numClasses}`,
      );
    }
    numClasses = options.numClasses;
  }
  let shape: Shape | undefined;
  if (options.imageShape) {
    const [height, width, channels] = checkImageShape(options.imageShape, listing.root);
    if (channels !== 1 && channels !== 3) throw new FormatError(listing.root, 'imageShape', `expected 1 or 3 channels for images, found ${channels}`);
    shape = { height, width, channels };
  }
  const from = shape ? ' (the image shape given)' : '';
  const name = options.name ?? 'folder';
  const train = await decodeSplit(listing.train, read, decode, { shape, from, fixedChannels: shape !== undefined }, `${name}/train`, numClasses, classNames);
  const trainShape: Shape = { height: train.height, width: train.width, channels: train.channels as 1 | 3 };
  const test = await decodeSplit(
    listing.test,
    read,
    decode,
    { shape: trainShape, from: shape ? from : ` (the size of the train images, like ${listing.train[0].path})`, fixedChannels: shape !== undefined },
    `${name}/test`,
    numClasses,
    classNames,
  );
  return { train, test, classNames: [...classNames] };
}
