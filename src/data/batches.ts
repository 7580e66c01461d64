// Which examples a run sees, in which order, and the batch buffers they are copied into.
//
// Reproducibility rules (part of the contract: a run with the same seed sees the same data):
//   subset      trainSubset(indices, N, seed): p = new Rng(deriveSeed(seed, SeedStream.subset, 0))
//               .permutation(indices.length); keep indices[p[0..N)], sorted ascending. A smaller N
//               gives a subset of a larger N's.
//   validation  validationSplit(indices, K, seed): p = new Rng(deriveSeed(seed, SeedStream.validation,
//               0)).permutation(n); val = indices[p[n-K..n)], train = indices[p[0..n-K)], each sorted.
//   epoch order epochOrder(indices, seed, e)[i] = indices[p[i]], p = new Rng(deriveSeed(seed,
//               SeedStream.shuffle, e)).permutation(indices.length).
//   augment     example k in epoch e: drawAugment(deriveSeed(seed, SeedStream.augment, e), k, ...).
// Recommended composition: split off validation from the full training set first, then take the
// subset of its train part, so the validation set does not move when --train-subset changes.
//
// Pipelining: Batcher.fill(b) runs on the CPU while the GPU executes batch b-1. WebGPU's
// queue.writeBuffer copies the bytes when it is called, so one host buffer can be refilled as soon
// as the previous batch was uploaded; filling allocates nothing and touches each value once.

import { Rng } from '../util/rng.js';
import { deriveSeed, SeedStream } from '../util/seed.js';
import { augmentInto, drawAugment, type AugmentDraw, type AugmentOptions } from './augment.js';
import { exampleSize, type Dataset } from './dataset.js';

/** 0, 1, ..., n-1. */
export function allIndices(n: number): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}

/** The order in which epoch `epoch` visits `indices` (see the rules above). */
export function epochOrder(indices: Uint32Array, seed: number, epoch: number, out: Uint32Array = new Uint32Array(indices.length)): Uint32Array {
  const p = new Rng(deriveSeed(seed, SeedStream.shuffle, epoch)).permutation(indices.length);
  for (let i = 0; i < p.length; i++) out[i] = indices[p[i]];
  return out;
}

/** `--train-subset N`: N examples of `indices`, chosen by a seeded shuffle, in ascending order. */
export function trainSubset(indices: Uint32Array, size: number, seed: number): Uint32Array {
  if (!Number.isInteger(size) || size < 1 || size > indices.length) {
    throw new RangeError(`train subset size: expected an integer in [1, ${indices.length}] (the training examples available), found ${size}`);
  }
  const p = new Rng(deriveSeed(seed, SeedStream.subset, 0)).permutation(indices.length);
  const out = new Uint32Array(size);
  for (let i = 0; i < size; i++) out[i] = indices[p[i]];
  return out.sort();
}

/** Holds out `holdOut` examples of `indices` (the last of a seeded permutation) for validation. */
export function validationSplit(indices: Uint32Array, holdOut: number, seed: number): { train: Uint32Array; val: Uint32Array } {
  const n = indices.length;
  if (!Number.isInteger(holdOut) || holdOut < 0 || holdOut >= n) {
    throw new RangeError(`validation hold-out: expected an integer in [0, ${n - 1}] (fewer than the ${n} training examples), found ${holdOut}`);
  }
  const p = new Rng(deriveSeed(seed, SeedStream.validation, 0)).permutation(n);
  const train = new Uint32Array(n - holdOut);
  const val = new Uint32Array(holdOut);
  for (let i = 0; i < n - holdOut; i++) train[i] = indices[p[i]];
  for (let i = n - holdOut; i < n; i++) val[i - (n - holdOut)] = indices[p[i]];
  return { train: train.sort(), val: val.sort() };
}

export interface BatcherOptions {
  batchSize: number;
  seed: number;
  /** The examples to draw from (a subset or a split's train part); default all of the dataset. */
  indices?: Uint32Array;
  /** Shuffle each epoch (training); false visits `indices` in order (evaluation). Default true. */
  shuffle?: boolean;
  /** Skip the last, smaller batch. Default false. */
  dropLast?: boolean;
  augment?: AugmentOptions;
}

/** One batch; the Batcher owns it and overwrites it on every fill. */
export interface Batch {
  /** Capacity batchSize * C * H * W; the first size * C * H * W values are this batch. */
  readonly images: Float32Array;
  /** Capacity batchSize; the first `size` are this batch. */
  readonly labels: Uint32Array;
  /** Dataset index of each example (for per-example state such as cached teacher targets). */
  readonly indices: Uint32Array;
  size: number;
  epoch: number;
  /** Batch number within the epoch. */
  index: number;
}

export class Batcher {
  readonly batchSize: number;
  readonly batchesPerEpoch: number;
  readonly batch: Batch;
  private readonly indices: Uint32Array;
  private readonly order: Uint32Array;
  private readonly padValue: Float32Array;
  private readonly draw: AugmentDraw = { shiftY: 0, shiftX: 0, flip: false };
  private epoch = -1;
  private augmentKey = 0;

  constructor(
    readonly dataset: Dataset,
    readonly options: BatcherOptions,
  ) {
    const { batchSize } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size: expected a positive integer, found ${batchSize}`);
    this.batchSize = batchSize;
    this.indices = options.indices ?? allIndices(dataset.n);
    for (let i = 0; i < this.indices.length; i++) {
      if (this.indices[i] >= dataset.n) throw new RangeError(`Batcher ${dataset.name}: index ${this.indices[i]} outside [0, ${dataset.n})`);
    }
    const n = this.indices.length;
    this.batchesPerEpoch = options.dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
    this.order = new Uint32Array(n);
    this.batch = {
      images: new Float32Array(batchSize * exampleSize(dataset)),
      labels: new Uint32Array(batchSize),
      indices: new Uint32Array(batchSize),
      size: 0,
      epoch: -1,
      index: -1,
    };
    const aug = options.augment;
    const pv = aug?.padValue ?? 0;
    this.padValue = new Float32Array(dataset.channels).fill(typeof pv === 'number' ? pv : 0);
    if (typeof pv !== 'number') {
      if (pv.length !== dataset.channels) throw new RangeError(`augment padValue: expected ${dataset.channels} values (one per channel), found ${pv.length}`);
      this.padValue.set(pv);
    }
    if (aug && (!Number.isInteger(aug.pad) || aug.pad < 0 || aug.pad >= Math.min(dataset.height, dataset.width))) {
      throw new RangeError(`augment pad: expected an integer in [0, ${Math.min(dataset.height, dataset.width) - 1}], found ${aug.pad}`);
    }
  }

  /** Number of examples an epoch visits, including a dropped last batch. */
  get length(): number {
    return this.indices.length;
  }

  /** Computes the epoch's order (the one allocation per epoch, inside Rng.permutation). */
  startEpoch(epoch: number): void {
    if (this.options.shuffle ?? true) epochOrder(this.indices, this.options.seed, epoch, this.order);
    else this.order.set(this.indices);
    this.epoch = epoch;
    this.augmentKey = deriveSeed(this.options.seed, SeedStream.augment, epoch);
  }

  /** Fills this.batch with batch b of the current epoch. */
  fill(b: number): Batch {
    const batch = this.batch;
    batch.size = this.fillInto(b, batch.images, batch.labels, batch.indices);
    batch.epoch = this.epoch;
    batch.index = b;
    return batch;
  }

  /**
   * Batch b of the current epoch into caller-owned buffers (a mapped staging buffer, say); returns
   * the number of examples written.
   */
  fillInto(b: number, images: Float32Array, labels: Uint32Array, indices?: Uint32Array): number {
    if (this.epoch < 0) throw new Error('Batcher.fill before startEpoch');
    if (!Number.isInteger(b) || b < 0 || b >= this.batchesPerEpoch) throw new RangeError(`batch ${b} outside [0, ${this.batchesPerEpoch})`);
    const ds = this.dataset;
    const size = exampleSize(ds);
    const start = b * this.batchSize;
    const count = Math.min(this.batchSize, this.order.length - start);
    if (images.length < count * size || labels.length < count) {
      throw new RangeError(`batch buffers too small: ${count} examples need ${count * size} floats and ${count} labels`);
    }
    const aug = this.options.augment;
    const src = ds.images;
    for (let i = 0; i < count; i++) {
      const k = this.order[start + i];
      labels[i] = ds.labels[k];
      if (indices) indices[i] = k;
      if (aug) {
        const d = drawAugment(this.augmentKey, k, aug, this.draw);
        augmentInto(src, k * size, images, i * size, ds.channels, ds.height, ds.width, d.shiftY, d.shiftX, d.flip, this.padValue);
      } else {
        const from = k * size;
        const to = i * size;
        for (let j = 0; j < size; j++) images[to + j] = src[from + j];
      }
    }
    return count;
  }

  /** All batches of an epoch, in order; each yield is this.batch, refilled. */
  *epochBatches(epoch: number): Generator<Batch, void, undefined> {
    this.startEpoch(epoch);
    for (let b = 0; b < this.batchesPerEpoch; b++) yield this.fill(b);
  }
}
