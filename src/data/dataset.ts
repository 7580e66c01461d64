// The in-memory form every reader produces: images as float32 NCHW in [0, 1], labels as u32.
// Normalisation is a separate, explicit step so the readers stay format-only and the mean/std a
// model was trained with can be stored beside its checkpoint.

import { FormatError, type FieldNamer } from '../util/format-error.js';

export interface Dataset {
  /** n * channels * height * width floats, NCHW, one example after another. */
  images: Float32Array;
  /** n labels in [0, numClasses). */
  labels: Uint32Array;
  n: number;
  channels: number;
  height: number;
  width: number;
  numClasses: number;
  /** Where it came from, e.g. 'fashion-mnist/train'. */
  name: string;
  /** The name of each class, by label (Fashion-MNIST's names, an image folder's class folders); absent when the data has none. */
  classNames?: string[];
}

/**
 * Refuses a training set of fewer than 2 classes (nothing to classify: every model scores 100%),
 * saying what was read; `where` names the data, `hint` may say how it was probably misread.
 */
export function requireTwoClasses(train: Pick<Dataset, 'labels' | 'n'>, where: string, hint: (name: FieldNamer) => string = () => ''): void {
  const first = train.labels[0];
  if (train.labels.some((y) => y !== first)) return;
  const read = train.n === 0 ? 'no examples' : `${train.n} example${train.n === 1 ? '' : 's'}, every one labelled ${first}`;
  throw new FormatError(where, 'labels', (name) => `expected at least 2 classes to tell apart, found 1 (${read})${hint(name)}`);
}

/**
 * How a colour image's values are ordered in a file that holds them flat: 'hwc' (interleaved, a
 * pixel's channels together, as numpy flattens an H x W x C array; IDX 4-D files and CSV rows by
 * default) or 'chw' (planar, a whole channel after another, as CIFAR's binaries and kdgpu in memory).
 */
export type PixelLayout = 'hwc' | 'chw';

/**
 * The largest data kdgpu reads: a checkpoint holds no larger model input (nn/model-checkpoint.ts), so a
 * dataset beyond these could train a model that could never be loaded again, and host and GPU
 * memory grow with them (a model's last layer and every [batch, classes] buffer with the classes,
 * every activation with height × width). Far above the datasets kdgpu is for (28x28x1 and 32x32x3,
 * 10 or 100 classes). Checked where the values are read, before anything is allocated from them.
 */
export const DATA_LIMITS = { channels: 16, height: 256, width: 256, classes: 10_000 } as const;

/** Why DATA_LIMITS, for the errors that cite them. */
export const DATA_LIMITS_WHY = 'the most a kdgpu checkpoint holds (memory grows with it)';

/** What is wrong with an image shape beyond DATA_LIMITS, or null. */
export function imageShapeBeyondLimits(height: number, width: number, channels: number): string | null {
  for (const [name, v] of [['height', height], ['width', width], ['channels', channels]] as const) {
    if (v > DATA_LIMITS[name]) return `${name} ${v} is above ${DATA_LIMITS[name]}, ${DATA_LIMITS_WHY}`;
  }
  return null;
}

/** What is wrong with a class count beyond DATA_LIMITS, or null. */
export function classesBeyondLimits(classes: number): string | null {
  return classes > DATA_LIMITS.classes ? `${classes} classes is more than ${DATA_LIMITS.classes}, ${DATA_LIMITS_WHY}` : null;
}

/**
 * An image shape given by a caller (a spec, an option): [height, width] or [height, width,
 * channels] of integers >= 1 within DATA_LIMITS, as [height, width, channels] (channels 1 when absent).
 */
export function checkImageShape(shape: readonly unknown[], where: string, field = 'imageShape'): [number, number, number] {
  const dims = shape.length === 3 && shape[2] === undefined ? 2 : shape.length;
  const ok = (dims === 2 || dims === 3) && shape.slice(0, dims).every((v) => Number.isSafeInteger(v) && (v as number) >= 1);
  if (!ok) throw new FormatError(where, field, `expected [height, width] or [height, width, channels] of integers >= 1, found ${JSON.stringify(shape)}`);
  const out: [number, number, number] = [shape[0] as number, shape[1] as number, dims === 3 ? (shape[2] as number) : 1];
  const beyond = imageShapeBeyondLimits(...out);
  if (beyond) throw new FormatError(where, field, beyond);
  return out;
}

export function exampleSize(ds: Pick<Dataset, 'channels' | 'height' | 'width'>): number {
  return ds.channels * ds.height * ds.width;
}

/**
 * Converts u8 pixels (already in CHW order per example) to floats in [0, 1]. x / 255 rather than
 * x * (1/255): division is correctly rounded, so the value is the float nearest to the true ratio.
 */
export function pixelsToUnit(pixels: Uint8Array, out: Float32Array = new Float32Array(pixels.length), outOffset = 0): Float32Array {
  for (let i = 0; i < pixels.length; i++) out[outOffset + i] = pixels[i] / 255;
  return out;
}

/**
 * u8 pixels of consecutive examples (`channels` x `height` x `width` each, in `layout` order) to
 * floats in [0, 1] in CHW order, written to `out` from `outOffset`. Values are x / 255, as pixelsToUnit.
 */
export function pixelsToUnitCHW(
  pixels: Uint8Array,
  shape: { channels: number; height: number; width: number },
  layout: PixelLayout,
  out: Float32Array = new Float32Array(pixels.length),
  outOffset = 0,
): Float32Array {
  const { channels } = shape;
  if (channels === 1 || layout === 'chw') return pixelsToUnit(pixels, out, outOffset);
  const plane = shape.height * shape.width;
  const size = plane * channels;
  const n = pixels.length / size;
  for (let i = 0; i < n; i++) {
    const base = i * size;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < channels; c++) out[outOffset + base + c * plane + p] = pixels[base + p * channels + c] / 255;
    }
  }
  return out;
}

/**
 * The first channel whose u8 pixels (`layout` order) all hold one value, or null. Such training
 * images have a std of 0 and cannot be normalised: found here in one pass over the file's bytes,
 * before their floats (4 bytes each) are allocated.
 */
export function constantChannel(pixels: Uint8Array, shape: { channels: number; height: number; width: number }, layout: PixelLayout): { channel: number; value: number } | null {
  const { channels } = shape;
  const plane = shape.height * shape.width;
  // Element i's channel: hwc interleaves them; chw keeps a plane per channel.
  const channelOf = channels === 1 ? () => 0 : layout === 'hwc' ? (i: number) => i % channels : (i: number) => Math.floor(i / plane) % channels;
  const first = Array.from({ length: channels }, (_, c) => pixels[channels === 1 || layout === 'hwc' ? c : c * plane]);
  const varies = new Array<boolean>(channels).fill(false);
  let left = channels;
  for (let i = 0; i < pixels.length && left > 0; i++) {
    const c = channelOf(i);
    if (!varies[c] && pixels[i] !== first[c]) {
      varies[c] = true;
      left--;
    }
  }
  const c = varies.indexOf(false);
  return c < 0 ? null : { channel: c, value: first[c] };
}

export interface ChannelStats {
  mean: number[];
  std: number[];
}

/** Per-channel mean and (population) standard deviation over all examples, accumulated in float64. */
export function channelStats(ds: Dataset): ChannelStats {
  const plane = ds.height * ds.width;
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < ds.channels; c++) {
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < ds.n; i++) {
      const base = (i * ds.channels + c) * plane;
      for (let p = 0; p < plane; p++) {
        const v = ds.images[base + p];
        sum += v;
        sumSq += v * v;
      }
    }
    const count = ds.n * plane;
    const m = sum / count;
    mean.push(m);
    std.push(Math.sqrt(Math.max(0, sumSq / count - m * m)));
  }
  return { mean, std };
}

/**
 * (x - mean[c]) / std[c] per channel; a single number applies to every channel. Returns a new
 * dataset (the images are copied: a caller that wants to save memory can drop the original).
 */
export function normalize(ds: Dataset, mean: number | readonly number[], std: number | readonly number[]): Dataset {
  const means = perChannel(mean, ds.channels, 'mean', ds.name);
  const stds = perChannel(std, ds.channels, 'std', ds.name);
  stds.forEach((s, c) => {
    if (!(s > 0)) throw new Error(`normalize ${ds.name}: std[${c}] must be > 0, found ${s}`);
  });
  const plane = ds.height * ds.width;
  const out = new Float32Array(ds.images.length);
  for (let i = 0; i < ds.n; i++) {
    for (let c = 0; c < ds.channels; c++) {
      const base = (i * ds.channels + c) * plane;
      const m = means[c];
      const s = stds[c];
      for (let p = 0; p < plane; p++) out[base + p] = (ds.images[base + p] - m) / s;
    }
  }
  return { ...ds, images: out };
}

/** A new dataset holding copies of the given examples, in the given order. */
export function takeExamples(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const size = exampleSize(ds);
  const images = new Float32Array(indices.length * size);
  const labels = new Uint32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i];
    if (!(k >= 0 && k < ds.n)) throw new RangeError(`takeExamples ${ds.name}: index ${k} outside [0, ${ds.n})`);
    images.set(ds.images.subarray(k * size, (k + 1) * size), i * size);
    labels[i] = ds.labels[k];
  }
  return { ...ds, images, labels, n: indices.length, name };
}

function perChannel(v: number | readonly number[], channels: number, what: string, name: string): number[] {
  if (typeof v === 'number') return new Array<number>(channels).fill(v);
  if (v.length !== channels) {
    throw new Error(`normalize ${name}: ${what} has ${v.length} values, expected 1 or ${channels} (one per channel)`);
  }
  return [...v];
}
