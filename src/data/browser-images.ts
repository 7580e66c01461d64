// Browser-side image decoding for image folders, with the browser's own decoders:
// createImageBitmap for the file, an OffscreenCanvas to read its pixels (works in a page and in a
// worker). An ImageDecoder for imageFolderDatasets:
//
//   const listing = imageFolderListing(files.map((f) => relativePath(f)), 'D');
//   const byPath = new Map(files.map((f) => ['D/' + relativePath(f), f]));
//   const { train, test } = await imageFolderDatasets(listing,
//     async (p) => new Uint8Array(await byPath.get(p)!.arrayBuffer()), decodeImageInBrowser);
//
// A canvas always holds RGBA, so the file's own colour type is not known here: the channels are
// decided from the pixels. Any pixel with alpha below 255 returns 4 channels (imageFolderDatasets
// then refuses the image, naming it, as in Node); otherwise 1 channel when every pixel has
// R = G = B, else 3. So an RGB file whose pixels are all grey reads as 1 channel here and as 3 in
// Node; pass { channels: 3 } (or give imageFolderDatasets an imageShape with 3 channels) to read
// every image as colour. Colour management and alpha premultiplication are turned off, so the
// values are the file's; JPEG decoders differ slightly between browsers and from jpeg-js.

import { FormatError } from '../util/format-error.js';
import { MAX_IMAGE_PIXELS, type DecodedImage } from './image-folder.js';

export interface BrowserDecodeOptions {
  /** 1 or 3: the channels to return (colour to 1 is refused); absent: decided from the pixels (see above). */
  channels?: 1 | 3;
}

function mimeType(fileName: string): string {
  const lower = fileName.toLowerCase();
  return lower.endsWith('.png') ? 'image/png' : lower.endsWith('.jpg') || lower.endsWith('.jpeg') ? 'image/jpeg' : '';
}

/** Decodes an image file's bytes (or a Blob / File) with createImageBitmap and reads its pixels from an OffscreenCanvas. */
export async function decodeImageInBrowser(bytes: Uint8Array | Blob, fileName: string, options: BrowserDecodeOptions = {}): Promise<DecodedImage> {
  const blob = bytes instanceof Blob ? bytes : new Blob([bytes.slice()], { type: mimeType(fileName) });
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none', imageOrientation: 'from-image' });
  } catch (e) {
    throw new FormatError(fileName, 'image', `the browser could not decode it: ${(e as Error).message}`);
  }
  const { width, height } = bitmap;
  try {
    if (width * height > MAX_IMAGE_PIXELS) {
      throw new FormatError(fileName, 'image size', `${width}x${height} (width x height) is more than the ${MAX_IMAGE_PIXELS} pixels kdgpu decodes`);
    }
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new FormatError(fileName, 'image', 'no 2D canvas context to read the pixels with');
    ctx.drawImage(bitmap, 0, 0);
    const rgba = new Uint8Array(ctx.getImageData(0, 0, width, height).data.buffer);
    return fromRgba(rgba, width, height, options.channels);
  } finally {
    bitmap.close();
  }
}

/** RGBA pixels as the channels described above (exported for tests and for callers with their own RGBA source). */
export function fromRgba(rgba: Uint8Array, width: number, height: number, channels?: 1 | 3): DecodedImage {
  const pixels = width * height;
  let opaque = true;
  let grey = true;
  for (let p = 0; p < pixels; p++) {
    const o = 4 * p;
    if (rgba[o + 3] !== 255) opaque = false;
    if (rgba[o] !== rgba[o + 1] || rgba[o] !== rgba[o + 2]) grey = false;
  }
  if (!opaque) return { width, height, channels: 4, data: rgba };
  const out = channels ?? (grey ? 1 : 3);
  if (out === 1 && !grey) return { width, height, channels: 3, data: dropAlpha(rgba, pixels) }; // imageFolderDatasets refuses colour where 1 channel is wanted
  if (out === 3) return { width, height, channels: 3, data: dropAlpha(rgba, pixels) };
  const data = new Uint8Array(pixels);
  for (let p = 0; p < pixels; p++) data[p] = rgba[4 * p];
  return { width, height, channels: 1, data };
}

function dropAlpha(rgba: Uint8Array, pixels: number): Uint8Array {
  const data = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    data[3 * p] = rgba[4 * p];
    data[3 * p + 1] = rgba[4 * p + 1];
    data[3 * p + 2] = rgba[4 * p + 2];
  }
  return data;
}
