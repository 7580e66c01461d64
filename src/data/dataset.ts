// The in-memory form every reader produces: images as float32 NCHW in [0, 1], labels as u32.
// Normalisation is a separate, explicit step so the readers stay format-only and the mean/std a
// model was trained with can be stored beside its checkpoint.

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
