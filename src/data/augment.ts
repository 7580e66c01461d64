// Augmentation: random crop with padding, then horizontal flip (torchvision's
// RandomCrop(size, padding=p) followed by RandomHorizontalFlip). The host draws each example's
// shift and flip (drawAugment, per example); the GPU applies them as it gathers the batch
// (shaders/gather_batch.wgsl), on the normalised values, padding with padValue: the same
// definition as augmentInto, its host twin (Batcher.fillImages), so batches are identical to the
// ones the host used to build, value for value.
//
// Each example's draw is a hash of (derived seed, example index), not a draw from a running
// generator: the augmentation of example k in epoch e does not depend on batch size or on which
// batches were filled before it (resume mid-epoch reproduces it exactly).

import { mix32 } from '../util/seed.js';

export interface AugmentOptions {
  /** Zero padding on each side before cropping back to HxW; shifts are drawn from [-pad, pad]. */
  pad: number;
  /** Flip left-right with probability 1/2. */
  flip: boolean;
  /**
   * The value padding writes, per channel or one for all; default 0. On normalised data,
   * -mean[c]/std[c] pads with black, as torchvision does when it pads before normalising.
   */
  padValue?: number | readonly number[];
}

export interface AugmentDraw {
  shiftY: number;
  shiftX: number;
  flip: boolean;
}

/**
 * The crop shift and flip of example `exampleIndex` under `key` (a derived per-epoch seed). Writes
 * into `out` (and returns it) so the batch loop allocates nothing.
 */
export function drawAugment(key: number, exampleIndex: number, opts: AugmentOptions, out: AugmentDraw): AugmentDraw {
  const h1 = mix32((key + Math.imul(exampleIndex + 1, 0x9e3779b9)) >>> 0);
  const h2 = mix32((h1 ^ 0x68e31da4) >>> 0);
  const h3 = mix32((h2 ^ 0xb5297a4d) >>> 0);
  const span = 2 * opts.pad + 1;
  out.shiftY = Math.floor((h1 / 4294967296) * span) - opts.pad;
  out.shiftX = Math.floor((h2 / 4294967296) * span) - opts.pad;
  out.flip = opts.flip && h3 >>> 31 === 1;
  return out;
}

/**
 * One example, CHW, from src at srcOffset to dst at dstOffset:
 *
 *     dst(c, y, x) = src(c, y + shiftY, xs),  xs = (flip ? W-1-x : x) + shiftX
 *
 * and padValue[c] where (y + shiftY, xs) falls outside the image. That is the HxW window at
 * (pad + shiftY, pad + shiftX) of the padded image, then mirrored if flip: content moves up by
 * shiftY and left by shiftX. shiftY = shiftX = 0 and no flip copies the example unchanged.
 */
export function augmentInto(
  src: Float32Array,
  srcOffset: number,
  dst: Float32Array,
  dstOffset: number,
  channels: number,
  height: number,
  width: number,
  shiftY: number,
  shiftX: number,
  flip: boolean,
  padValue: ArrayLike<number>,
): void {
  // Output columns [lo, hi) read inside the source row; the rest is padding.
  const lo = flip ? Math.max(0, shiftX) : Math.max(0, -shiftX);
  const hi = flip ? Math.min(width, width + shiftX) : Math.min(width, width - shiftX);
  for (let c = 0; c < channels; c++) {
    const pv = padValue[c];
    for (let y = 0; y < height; y++) {
      const o = dstOffset + (c * height + y) * width;
      const sy = y + shiftY;
      if (sy < 0 || sy >= height || lo >= hi) {
        for (let x = 0; x < width; x++) dst[o + x] = pv;
        continue;
      }
      const row = srcOffset + (c * height + sy) * width;
      for (let x = 0; x < lo; x++) dst[o + x] = pv;
      if (flip) {
        const base = row + width - 1 + shiftX;
        for (let x = lo; x < hi; x++) dst[o + x] = src[base - x];
      } else {
        const base = row + shiftX;
        for (let x = lo; x < hi; x++) dst[o + x] = src[base + x];
      }
      for (let x = hi; x < width; x++) dst[o + x] = pv;
    }
  }
}
