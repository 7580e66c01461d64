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
// A batch is a plan, not pixels: each example's dataset row and augmentation draw (4 u32 words),
// its label and row. The GPU gathers the pixels from it (src/device-images.ts, kernels/gather.ts),
// normalising and augmenting as it goes; filling a batch is per-example host work, never per
// value. fillImages() is the host twin of that gather, for host consumers (other frameworks'
// benchmark steps, tests).

import { Rng } from '../util/rng.js';
import { deriveSeed, SeedStream } from '../util/seed.js';
import { augmentInto, drawAugment, type AugmentDraw, type AugmentOptions } from './augment.js';
import { exampleSize, inputTable, inputValues, type Dataset } from './dataset.js';

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

/** Words per example in Batch.plan. */
export const PLAN_WORDS = 4;

/** One batch; the Batcher owns it and overwrites it on every fill. */
export interface Batch {
  /**
   * Capacity batchSize * PLAN_WORDS: per example its dataset row, shiftY and shiftX (i32 bits)
   * and flip (0 or 1), the augmentation augmentInto describes (0, 0, 0 without augmentation).
   */
  readonly plan: Uint32Array;
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
  /** The value augmentation's padding writes, per channel, in the model's input (normalised) space. */
  readonly padValue: Float32Array;
  private readonly draw: AugmentDraw = { shiftY: 0, shiftX: 0, flip: false };
  private epoch = -1;
  private augmentKey = 0;
  private table?: Float32Array;
  private scratch?: Float32Array;

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
      plan: new Uint32Array(batchSize * PLAN_WORDS),
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

  /** Fills this.batch with batch b of the current epoch: labels, rows and the gather plan. */
  fill(b: number): Batch {
    if (this.epoch < 0) throw new Error('Batcher.fill before startEpoch');
    if (!Number.isInteger(b) || b < 0 || b >= this.batchesPerEpoch) throw new RangeError(`batch ${b} outside [0, ${this.batchesPerEpoch})`);
    const batch = this.batch;
    const ds = this.dataset;
    const start = b * this.batchSize;
    const count = Math.min(this.batchSize, this.order.length - start);
    const aug = this.options.augment;
    const plan = batch.plan;
    for (let i = 0; i < count; i++) {
      const k = this.order[start + i];
      batch.labels[i] = ds.labels[k];
      batch.indices[i] = k;
      const w = i * PLAN_WORDS;
      plan[w] = k;
      if (aug) {
        const d = drawAugment(this.augmentKey, k, aug, this.draw);
        plan[w + 1] = d.shiftY >>> 0;
        plan[w + 2] = d.shiftX >>> 0;
        plan[w + 3] = d.flip ? 1 : 0;
      } else {
        plan[w + 1] = plan[w + 2] = plan[w + 3] = 0;
      }
    }
    batch.size = count;
    batch.epoch = this.epoch;
    batch.index = b;
    return batch;
  }

  /**
   * The model's input for a filled batch, computed on the host into `images` (at least size x C x
   * H x W floats): exactly what the GPU gather writes. For host consumers; training gathers on the GPU.
   */
  fillImages(batch: Batch, images: Float32Array): Float32Array {
    const ds = this.dataset;
    const size = exampleSize(ds);
    if (images.length < batch.size * size) throw new RangeError(`batch images too small: ${batch.size} examples need ${batch.size * size} floats, found ${images.length}`);
    this.table ??= inputTable(ds);
    this.scratch ??= new Float32Array(size);
    const one = new Uint32Array(1);
    for (let i = 0; i < batch.size; i++) {
      const w = i * PLAN_WORDS;
      one[0] = batch.plan[w];
      if (this.options.augment) {
        inputValues(ds, one, this.scratch, 0, this.table);
        augmentInto(this.scratch, 0, images, i * size, ds.channels, ds.height, ds.width, batch.plan[w + 1] | 0, batch.plan[w + 2] | 0, batch.plan[w + 3] === 1, this.padValue);
      } else {
        inputValues(ds, one, images, i * size, this.table);
      }
    }
    return images;
  }

  /** All batches of an epoch, in order; each yield is this.batch, refilled. */
  *epochBatches(epoch: number): Generator<Batch, void, undefined> {
    this.startEpoch(epoch);
    for (let b = 0; b < this.batchesPerEpoch; b++) yield this.fill(b);
  }
}
