// The in-memory form every reader produces: images NCHW, labels as u32. 8-bit sources (IDX files,
// CIFAR binaries, decoded PNG/JPEG images, 0-255 CSV) keep their bytes, a byte b meaning b/255 in
// [0, 1]: a quarter of the memory of floats. Sources whose values are not bytes (CSV fractions)
// keep float32 values in [0, 1]. Normalisation is recorded, not applied: the model's input is
// computed as a batch is gathered (on the GPU, kernels/gather.ts; inputValues() is its host twin),
// so the mean/std a model was trained with can be stored beside its checkpoint and no normalised
// copy of a dataset is ever held.

import { FormatError, type FieldNamer } from '../util/format-error.js';

export interface Dataset {
  /**
   * n * channels * height * width values, NCHW, one example after another: bytes (b means b/255)
   * or float32 values in [0, 1]. The model never sees these directly: see `normalisation`.
   */
  images: Uint8Array | Float32Array;
  /**
   * What the model sees of a value x in [0, 1] of channel c: (x - mean[c]) / std[c]; absent: x.
   * Set by normalize(), applied as batches are gathered (see inputTable for the exact rounding).
   */
  normalisation?: ChannelStats;
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
 * u8 pixels of consecutive examples (`channels` x `height` x `width` each, in `layout` order) as
 * bytes in CHW order: the input itself when it already is (one channel, or 'chw'), else a reordered copy.
 */
export function pixelsCHW(pixels: Uint8Array, shape: { channels: number; height: number; width: number }, layout: PixelLayout): Uint8Array {
  const { channels } = shape;
  if (channels === 1 || layout === 'chw') return pixels;
  const out = new Uint8Array(pixels.length);
  const plane = shape.height * shape.width;
  const size = plane * channels;
  const n = pixels.length / size;
  for (let i = 0; i < n; i++) {
    const base = i * size;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < channels; c++) out[base + c * plane + p] = pixels[base + p * channels + c];
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

/**
 * The float a byte stands for: b / 255 rounded to float32 (division, not x * (1/255): the value is
 * the float nearest to the true ratio).
 */
export const BYTE_VALUES: Float32Array = Float32Array.from({ length: 256 }, (_, b) => b / 255);

/**
 * How a dataset's stored values become the model's input, the one definition the GPU gather
 * (kernels/gather.ts) and the host (inputValues) share, per channel c:
 *
 *   bytes   a table of 256 floats per channel (channels x 256): entry b is
 *           fround((fround(b / 255) - mean[c]) / std[c]), the division done in float64 and
 *           rounded once; identical to normalising the float image on the host;
 *   floats  [mean'(channels), rstd'(channels)]: x becomes fround(fround(x - mean'[c]) * rstd'[c])
 *           with mean' = fround(mean[c]), rstd' = fround(1 / std[c]) (two correctly rounded f32
 *           operations, as WGSL computes them: within 1-2 ulps of the float64 value).
 *
 * Without a normalisation, mean 0 and std 1 (bytes: BYTE_VALUES; floats: x itself).
 */
export function inputTable(ds: Pick<Dataset, 'images' | 'channels' | 'normalisation'>): Float32Array {
  const { channels } = ds;
  const mean = ds.normalisation?.mean ?? new Array<number>(channels).fill(0);
  const std = ds.normalisation?.std ?? new Array<number>(channels).fill(1);
  if (ds.images instanceof Uint8Array) {
    const t = new Float32Array(channels * 256);
    for (let c = 0; c < channels; c++) for (let b = 0; b < 256; b++) t[c * 256 + b] = (BYTE_VALUES[b] - mean[c]) / std[c];
    return t;
  }
  const t = new Float32Array(2 * channels);
  for (let c = 0; c < channels; c++) {
    t[c] = mean[c];
    t[channels + c] = 1 / std[c];
  }
  return t;
}

/**
 * The model's input (see inputTable) for examples `rows` of `ds`, written one after another to
 * `out` from `outOffset`: the host twin of the GPU gather without augmentation, bit for bit. For
 * host consumers that need floats a chunk at a time (onnxruntime, hashing), never the whole set.
 */
export function inputValues(
  ds: Dataset,
  rows: ArrayLike<number>,
  out: Float32Array = new Float32Array(rows.length * exampleSize(ds)),
  outOffset = 0,
  table: Float32Array = inputTable(ds),
): Float32Array {
  const plane = ds.height * ds.width;
  const size = plane * ds.channels;
  const src = ds.images;
  const bytes = src instanceof Uint8Array;
  const C = ds.channels;
  for (let i = 0; i < rows.length; i++) {
    const k = rows[i];
    if (!(k >= 0 && k < ds.n)) throw new RangeError(`inputValues ${ds.name}: index ${k} outside [0, ${ds.n})`);
    for (let c = 0; c < C; c++) {
      const from = k * size + c * plane;
      const to = outOffset + i * size + c * plane;
      if (bytes) {
        const lut = table.subarray(c * 256, (c + 1) * 256);
        for (let p = 0; p < plane; p++) out[to + p] = lut[src[from + p]];
      } else {
        const m = table[c];
        const r = table[C + c];
        for (let p = 0; p < plane; p++) out[to + p] = Math.fround(src[from + p] - m) * r;
      }
    }
  }
  return out;
}

/**
 * Per-channel mean and (population) standard deviation of the model's input (the stored values,
 * normalised when the dataset is), accumulated in float64 in example order.
 */
export function channelStats(ds: Dataset): ChannelStats {
  const plane = ds.height * ds.width;
  const mean: number[] = [];
  const std: number[] = [];
  const chunk = Math.max(1, Math.floor(65536 / (plane * ds.channels)));
  const table = inputTable(ds);
  const rows = new Uint32Array(chunk);
  const values = new Float32Array(chunk * plane * ds.channels);
  const sum = new Float64Array(ds.channels);
  const sumSq = new Float64Array(ds.channels);
  for (let start = 0; start < ds.n; start += chunk) {
    const count = Math.min(chunk, ds.n - start);
    for (let i = 0; i < count; i++) rows[i] = start + i;
    inputValues(ds, rows.subarray(0, count), values, 0, table);
    for (let i = 0; i < count; i++) {
      for (let c = 0; c < ds.channels; c++) {
        const base = (i * ds.channels + c) * plane;
        let s = sum[c];
        let q = sumSq[c];
        for (let p = 0; p < plane; p++) {
          const v = values[base + p];
          s += v;
          q += v * v;
        }
        sum[c] = s;
        sumSq[c] = q;
      }
    }
  }
  for (let c = 0; c < ds.channels; c++) {
    const count = ds.n * plane;
    const m = sum[c] / count;
    mean.push(m);
    std.push(Math.sqrt(Math.max(0, sumSq[c] / count - m * m)));
  }
  return { mean, std };
}

/**
 * The dataset with (x - mean[c]) / std[c] per channel as the model's input; a single number
 * applies to every channel. Nothing is copied or computed: the normalisation is recorded and
 * applied as batches are gathered (see inputTable). Normalised data cannot be normalised again.
 */
export function normalize(ds: Dataset, mean: number | readonly number[], std: number | readonly number[]): Dataset {
  const means = perChannel(mean, ds.channels, 'mean', ds.name);
  const stds = perChannel(std, ds.channels, 'std', ds.name);
  stds.forEach((s, c) => {
    if (!(s > 0)) throw new Error(`normalize ${ds.name}: std[${c}] must be > 0, found ${s}`);
  });
  if (ds.normalisation) {
    throw new Error(`normalize ${ds.name}: already normalised (mean ${ds.normalisation.mean.join(',')}, std ${ds.normalisation.std.join(',')}); normalise the data as read instead`);
  }
  return { ...ds, normalisation: { mean: means, std: stds } };
}

/** A new dataset holding copies of the given examples, in the given order (bytes stay bytes). */
export function takeExamples(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const size = exampleSize(ds);
  const images = ds.images instanceof Uint8Array ? new Uint8Array(indices.length * size) : new Float32Array(indices.length * size);
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
