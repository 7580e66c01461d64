// Node-only image decoding for image folders: PNG with pngjs, JPEG with jpeg-js (both pure JS, no
// native code). The format is told by the file's first bytes, whatever its extension says. The
// channels are the ones the file declares: a grey PNG or a one-component JPEG is 1 channel (2 with
// alpha), a colour or palette PNG or a colour JPEG (YCbCr, CMYK converted) 3 (4 with alpha, tRNS
// included). 16-bit PNG samples are rounded to 8 bits. image-folder.ts decides what to keep.

import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { FormatError } from '../util/format-error.js';
import { MAX_IMAGE_PIXELS, type DecodedImage } from './image-folder.js';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function startsWith(bytes: Uint8Array, sig: readonly number[]): boolean {
  return bytes.length >= sig.length && sig.every((b, i) => bytes[i] === b);
}

function checkPixels(fileName: string, width: number, height: number): void {
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new FormatError(fileName, 'image size', `${width}x${height} (width x height) is more than the ${MAX_IMAGE_PIXELS} pixels kdgpu decodes`);
  }
}

/** A PNG or JPEG file's pixels (see the file's comment for the channels). */
export function decodeImageFile(bytes: Uint8Array, fileName: string): DecodedImage {
  if (startsWith(bytes, PNG_SIGNATURE)) return decodePng(bytes, fileName);
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return decodeJpeg(bytes, fileName);
  const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new FormatError(fileName, 'image format', `expected a PNG (starts 89 50 4e 47) or JPEG (starts ff d8 ff) file, found ${bytes.length === 0 ? 'an empty file' : `bytes ${head}`}`);
}

function decodePng(bytes: Uint8Array, fileName: string): DecodedImage {
  // The IHDR chunk comes first: its width and height are at bytes 16 and 20.
  if (bytes.length >= 24) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    checkPixels(fileName, view.getUint32(16), view.getUint32(20));
  }
  let png: pngjs.PNGWithMetadata;
  try {
    png = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (e) {
    throw new FormatError(fileName, 'PNG', `could not decode it: ${(e as Error).message}`);
  }
  const { width, height } = png;
  const colour = png.color ? 3 : 1;
  const channels = (colour + (png.alpha ? 1 : 0)) as DecodedImage['channels'];
  const rgba = png.data;
  const data = new Uint8Array(width * height * channels);
  for (let p = 0, o = 0; p < width * height; p++) {
    if (colour === 3) {
      data[o++] = rgba[4 * p];
      data[o++] = rgba[4 * p + 1];
      data[o++] = rgba[4 * p + 2];
    } else {
      data[o++] = rgba[4 * p];
    }
    if (png.alpha) data[o++] = rgba[4 * p + 3];
  }
  return { width, height, channels, data };
}

/** The number of components a JPEG's frame header (SOFn) declares, with the frame's size; undefined if none comes before the scan. */
export function jpegFrame(b: Uint8Array): { components: number; width: number; height: number } | undefined {
  let i = 2;
  while (i + 4 <= b.length) {
    if (b[i] !== 0xff) return undefined;
    const m = b[i + 1];
    if (m === 0xff) {
      i++; // fill byte
      continue;
    }
    if (m === 0x01 || (m >= 0xd0 && m <= 0xd8)) {
      i += 2; // markers without a length
      continue;
    }
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (i + 10 > b.length) return undefined;
      return { height: (b[i + 5] << 8) | b[i + 6], width: (b[i + 7] << 8) | b[i + 8], components: b[i + 9] };
    }
    if (m === 0xda || m === 0xd9) return undefined;
    i += 2 + ((b[i + 2] << 8) | b[i + 3]);
  }
  return undefined;
}

function decodeJpeg(bytes: Uint8Array, fileName: string): DecodedImage {
  const frame = jpegFrame(bytes);
  if (!frame) throw new FormatError(fileName, 'JPEG', 'could not decode it: no frame header (SOF marker) before the image data');
  checkPixels(fileName, frame.width, frame.height);
  let img: { width: number; height: number; data: Uint8Array };
  try {
    img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: MAX_IMAGE_PIXELS / 1e6 });
  } catch (e) {
    throw new FormatError(fileName, 'JPEG', `could not decode it: ${(e as Error).message}`);
  }
  const { width, height, data } = img; // RGB, grey repeated in each channel
  if (frame.components !== 1) return { width, height, channels: 3, data };
  const grey = new Uint8Array(width * height);
  for (let p = 0; p < grey.length; p++) grey[p] = data[3 * p];
  return { width, height, channels: 1, data: grey };
}
