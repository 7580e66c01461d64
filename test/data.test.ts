// Dataset readers, batching and augmentation (host side, no GPU).
import { idxBytes } from './helpers.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { augmentInto, drawAugment, type AugmentDraw } from '../src/data/augment.js';
import { allIndices, Batcher, epochOrder, trainSubset, validationSplit } from '../src/data/batches.js';
import { cifarDataset, cifarRecordBytes, CIFAR_PIXELS, type CifarVariant } from '../src/data/cifar.js';
import { channelStats, inputValues, normalize, takeExamples, type Dataset } from '../src/data/dataset.js';
import { fashionMnistDataset, idxDataset, parseIdxImages, parseIdxLabels } from '../src/data/idx.js';
import { FASHION_MNIST_DIR, loadCifar10, loadCifar100, loadFashionMnist, readDataFile } from '../src/data/node-files.js';
import { Rng } from '../src/util/rng.js';
import { deriveSeed, SeedStream } from '../src/util/seed.js';
import { expectFormatError } from './format-error.js';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'kdgpu-data-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

// ---- helpers -------------------------------------------------------------------------------


function images(n: number, h: number, w: number): Uint8Array {
  return idxBytes(0x803, [n, h, w], Array.from({ length: n * h * w }, (_, i) => i % 256));
}

function labels(values: number[]): Uint8Array {
  return idxBytes(0x801, [values.length], values);
}

/** The thrown error, checked to be a FormatError whose message contains every fragment. */

/** A small dataset whose pixel values encode (example, channel, y, x). */
function synthetic(n: number, channels: number, height: number, width: number, numClasses = 10): Dataset {
  const size = channels * height * width;
  const imagesF = new Float32Array(n * size);
  for (let i = 0; i < imagesF.length; i++) imagesF[i] = i + 1; // never 0, so padding is visible
  const lab = new Uint32Array(n);
  for (let i = 0; i < n; i++) lab[i] = (i * 7) % numClasses;
  return { images: imagesF, labels: lab, n, channels, height, width, numClasses, name: 'synthetic' };
}

function sortedCopy(a: Uint32Array): number[] {
  return Array.from(a).sort((x, y) => x - y);
}

// ---- Fashion-MNIST -------------------------------------------------------------------------

describe('Fashion-MNIST (installed files)', () => {
  it('loads the train split: 60000 28x28 images, labels 0..9, the first label is 9', async () => {
    const ds = await loadFashionMnist('train');
    expect([ds.n, ds.channels, ds.height, ds.width, ds.numClasses]).toEqual([60000, 1, 28, 28, 10]);
    expect(ds.name).toBe('fashion-mnist/train');
    expect(ds.images.length).toBe(60000 * 784);
    expect(ds.labels.length).toBe(60000);
    expect(ds.labels[0]).toBe(9);
    expect(Array.from(ds.labels.subarray(0, 10))).toEqual([9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    const perClass = new Array(10).fill(0);
    for (const y of ds.labels) perClass[y]++;
    expect(perClass).toEqual(new Array(10).fill(6000));
    // First image, checked against the raw bytes read independently (Python gzip): sum 76247, pixel (14,14) = 217.
    // Kept as bytes (a quarter of the memory of floats); the model's input is b / 255 before normalising.
    expect(ds.images).toBeInstanceOf(Uint8Array);
    let sum = 0;
    for (let i = 0; i < 784; i++) sum += ds.images[i];
    expect(sum).toBe(76247);
    expect(ds.images[14 * 28 + 14]).toBe(217);
    expect(inputValues(ds, [0])[14 * 28 + 14]).toBe(Math.fround(217 / 255));
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of ds.images) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    expect([lo, hi]).toEqual([0, 255]);
    const stats = channelStats(ds);
    expect(stats.mean[0]).toBeCloseTo(0.286, 3);
    expect(stats.std[0]).toBeCloseTo(0.353, 3);
  });

  it('loads the test split: 10000 images, 1000 per class, first label 9', async () => {
    const ds = await loadFashionMnist('test');
    expect([ds.n, ds.height, ds.width]).toEqual([10000, 28, 28]);
    expect(ds.labels[0]).toBe(9);
    const perClass = new Array(10).fill(0);
    for (const y of ds.labels) perClass[y]++;
    expect(perClass).toEqual(new Array(10).fill(1000));
  });

  it('reads raw (already inflated) IDX files the same as gzip ones', async () => {
    const dir = join(scratch, 'fmnist-raw');
    await mkdir(dir);
    for (const f of ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
      await writeFile(join(dir, f), await readDataFile(join(FASHION_MNIST_DIR, `${f}.gz`)));
    }
    const raw = await loadFashionMnist('test', dir);
    const gz = await loadFashionMnist('test');
    expect(raw.n).toBe(gz.n);
    expect(Buffer.from(raw.images.buffer).equals(Buffer.from(gz.images.buffer))).toBe(true);
    expect(Array.from(raw.labels)).toEqual(Array.from(gz.labels));
  });

  it('names the directory and the files when they are missing', async () => {
    await expect(loadFashionMnist('train', join(scratch, 'nowhere'))).rejects.toThrow(/train-images-idx3-ubyte\.gz.*not found/);
  });

  it('names the file when its gzip stream is corrupt', async () => {
    const path = join(scratch, 'broken.gz');
    const gz = gzipSync(images(2, 4, 4));
    await writeFile(path, gz.subarray(0, gz.length - 12));
    await expect(readDataFile(path)).rejects.toThrow(/broken\.gz: gzip stream: expected a complete gzip stream/);
  });
});

describe('IDX errors name the file, the field and what was expected', () => {
  it('accepts a well-formed pair', () => {
    const ds = idxDataset({ images: images(3, 2, 2), labels: labels([0, 1, 2]), imagesFile: 'i', labelsFile: 'l', name: 't', numClasses: 3 });
    expect([ds.n, ds.height, ds.width]).toEqual([3, 2, 2]);
    expect(ds.images).toBeInstanceOf(Uint8Array);
    expect(Array.from(ds.images.subarray(0, 4))).toEqual([0, 1, 2, 3]);
    expect(Array.from(inputValues(ds, [0]))).toEqual([0, 1, 2, 3].map((x) => Math.fround(x / 255)));
  });

  it('truncated: shorter than the magic number', () => {
    expectFormatError(() => parseIdxImages(new Uint8Array([0, 0, 8]), 'img.idx'), 'img.idx: magic number: truncated', '3 bytes');
  });

  it('truncated: header shorter than its dimension sizes', () => {
    const bytes = images(2, 3, 3).subarray(0, 10);
    expectFormatError(() => parseIdxImages(bytes, 'img.idx'), 'img.idx: header: truncated', 'needs 16 bytes', 'file is 10');
  });

  it('truncated: data shorter than the dimensions say', () => {
    const bytes = images(5, 28, 28);
    expectFormatError(
      () => parseIdxImages(bytes.subarray(0, bytes.length - 100), 'train-images-idx3-ubyte.gz'),
      'train-images-idx3-ubyte.gz: data: truncated',
      'dimensions 5x28x28 need 3920 bytes',
      'found 3820',
    );
    const lab = labels([1, 2, 3]);
    expectFormatError(() => parseIdxLabels(lab.subarray(0, lab.length - 1), 'lab.idx'), 'lab.idx: data: truncated', 'dimensions 3 need 3 bytes', 'found 2');
  });

  it('trailing bytes after the data', () => {
    const bytes = new Uint8Array([...labels([1, 2]), 7, 7]);
    expectFormatError(() => parseIdxLabels(bytes, 'lab.idx'), 'lab.idx: data:', 'need exactly 2 bytes', '2 extra');
  });

  it('wrong magic number, with a hint when the files are swapped', () => {
    expectFormatError(
      () => parseIdxImages(labels([1, 2]), 'train-labels-idx1-ubyte.gz'),
      'train-labels-idx1-ubyte.gz: magic number: expected 0x00000803',
      'found 0x00000801',
      'IDX labels file',
    );
    expectFormatError(() => parseIdxLabels(images(1, 2, 2), 'x'), 'x: magic number: expected 0x00000801', 'found 0x00000803');
    expectFormatError(() => parseIdxImages(idxBytes(0x00000c03, [1, 1, 1], [0, 0, 0, 0]), 'x'), 'expected 0x00000803', 'found 0x00000c03');
  });

  it('gzip bytes handed to the pure parser', () => {
    expectFormatError(() => parseIdxImages(gzipSync(images(1, 2, 2)), 'a.gz'), 'a.gz: encoding: expected raw IDX bytes, found gzip');
  });

  it('mismatched image and label counts', () => {
    expectFormatError(
      () => idxDataset({ images: images(3, 2, 2), labels: labels([0, 1]), imagesFile: 'imgs', labelsFile: 'labs', name: 't', numClasses: 10 }),
      'labs: label count: expected 3 (the number of images in imgs), found 2',
    );
  });

  it('labels out of range', () => {
    expectFormatError(
      () => idxDataset({ images: images(3, 2, 2), labels: labels([0, 10, 1]), imagesFile: 'imgs', labelsFile: 'labs', name: 't', numClasses: 10 }),
      'labs: label 1: expected a class in [0, 10), found 10',
    );
  });

  it('wrong image size for Fashion-MNIST', () => {
    expectFormatError(
      () => fashionMnistDataset('train', images(2, 32, 32), labels([0, 1])),
      'train-images-idx3-ubyte.gz: image size: expected 28x28, found 32x32',
    );
  });
});

// ---- CIFAR ----------------------------------------------------------------------------------

function cifarFile(variant: CifarVariant, labelsPerRecord: number[][], fill: (record: number, p: number) => number): Uint8Array {
  const rec = cifarRecordBytes(variant);
  const out = new Uint8Array(labelsPerRecord.length * rec);
  labelsPerRecord.forEach((ls, r) => {
    out.set(ls, r * rec);
    for (let p = 0; p < CIFAR_PIXELS; p++) out[r * rec + ls.length + p] = fill(r, p);
  });
  return out;
}

describe('CIFAR binary', () => {
  it('CIFAR-10: label byte then planar RGB, pixels kept as bytes, files concatenated in order', () => {
    const a = cifarFile('cifar-10', [[3], [7]], (r, p) => (p < 1024 ? 10 + r : p < 2048 ? 20 + r : 30 + r));
    const b = cifarFile('cifar-10', [[9]], () => 255);
    const ds = cifarDataset('cifar-10', [{ fileName: 'a.bin', bytes: a }, { fileName: 'b.bin', bytes: b }], 'cifar-10/train');
    expect([ds.n, ds.channels, ds.height, ds.width, ds.numClasses]).toEqual([3, 3, 32, 32, 10]);
    expect(Array.from(ds.labels)).toEqual([3, 7, 9]);
    const at = (i: number, c: number, y: number, x: number) => ds.images[((i * 3 + c) * 32 + y) * 32 + x];
    expect(ds.images).toBeInstanceOf(Uint8Array);
    expect([at(0, 0, 0, 0), at(0, 1, 5, 5), at(0, 2, 31, 31)]).toEqual([10, 20, 30]);
    expect([at(1, 0, 0, 0), at(1, 2, 0, 0)]).toEqual([11, 31]);
    expect(at(2, 1, 3, 4)).toBe(255);
  });

  it('CIFAR-100: coarse then fine label byte', () => {
    const bytes = cifarFile('cifar-100-fine', [[4, 99], [19, 0]], () => 0);
    expect(Array.from(cifarDataset('cifar-100-fine', [{ fileName: 't.bin', bytes }], 'x').labels)).toEqual([99, 0]);
    const coarse = cifarDataset('cifar-100-coarse', [{ fileName: 't.bin', bytes }], 'x');
    expect(Array.from(coarse.labels)).toEqual([4, 19]);
    expect(coarse.numClasses).toBe(20);
  });

  it('refuses a file whose size is not a multiple of the record size, naming file, size and record size', () => {
    const bytes = cifarFile('cifar-10', [[1], [2]], () => 0);
    expectFormatError(
      () => cifarDataset('cifar-10', [{ fileName: 'data_batch_3.bin', bytes: bytes.subarray(0, 5000) }], 'x'),
      'data_batch_3.bin: file size: expected a multiple of the 3073-byte CIFAR-10 record',
      'found 5000 bytes',
      '1 whole records and 1927 bytes over',
    );
    expectFormatError(
      () => cifarDataset('cifar-100-fine', [{ fileName: 'train.bin', bytes }], 'x'), // 2 CIFAR-10 records = 6146 bytes
      'train.bin: file size: expected a multiple of the 3074-byte CIFAR-100 record',
      'found 6146 bytes',
    );
    expectFormatError(() => cifarDataset('cifar-10', [{ fileName: 'e.bin', bytes: new Uint8Array(0) }], 'x'), 'e.bin: file size:', 'empty file');
  });

  it('refuses labels out of range', () => {
    const bytes = cifarFile('cifar-10', [[1], [10]], () => 0);
    expectFormatError(() => cifarDataset('cifar-10', [{ fileName: 'b.bin', bytes }], 'x'), 'b.bin: label of record 1: expected a class in [0, 10), found 10');
    const c100 = cifarFile('cifar-100-coarse', [[20, 5]], () => 0);
    expectFormatError(() => cifarDataset('cifar-100-coarse', [{ fileName: 't.bin', bytes: c100 }], 'x'), 't.bin: coarse label of record 0: expected a class in [0, 20), found 20');
  });

  it('loads CIFAR-10 and CIFAR-100 directories with the standard file names', async () => {
    const dir10 = join(scratch, 'cifar-10-batches-bin');
    const dir100 = join(scratch, 'cifar-100-binary');
    await mkdir(dir10);
    await mkdir(dir100);
    for (let k = 1; k <= 5; k++) await writeFile(join(dir10, `data_batch_${k}.bin`), cifarFile('cifar-10', [[k], [k]], () => k));
    await writeFile(join(dir10, 'test_batch.bin'), cifarFile('cifar-10', [[0]], () => 0));
    await writeFile(join(dir100, 'train.bin'), cifarFile('cifar-100-fine', [[1, 11], [2, 22], [3, 33]], () => 0));
    await writeFile(join(dir100, 'test.bin'), cifarFile('cifar-100-fine', [[4, 44]], () => 0));
    const train = await loadCifar10(dir10, 'train');
    expect(train.n).toBe(10);
    expect(Array.from(train.labels)).toEqual([1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    expect(train.name).toBe('cifar-10/train');
    expect((await loadCifar10(dir10, 'test')).n).toBe(1);
    expect(Array.from((await loadCifar100(dir100, 'train')).labels)).toEqual([11, 22, 33]);
    expect(Array.from((await loadCifar100(dir100, 'test', 'coarse')).labels)).toEqual([4]);
    await expect(loadCifar10(dir100, 'train')).rejects.toThrow(/data_batch_1\.bin: file: not found/);
  });
});

// ---- normalisation --------------------------------------------------------------------------

describe('normalize', () => {
  it('maps each channel to (x - mean) / std and leaves the input untouched', () => {
    const ds = synthetic(4, 3, 2, 2);
    const stats = channelStats(ds);
    const out = normalize(ds, stats.mean, stats.std);
    const after = channelStats(out);
    for (let c = 0; c < 3; c++) {
      expect(after.mean[c]).toBeCloseTo(0, 5);
      expect(after.std[c]).toBeCloseTo(1, 5);
    }
    expect(ds.images[0]).toBe(1);
    expect(out.images).toBe(ds.images); // recorded, not applied: no copy
    expect(inputValues(normalize(ds, 1, 2), [0])[0]).toBe(0);
    expect(() => normalize(out, 0, 1)).toThrow(/already normalised/);
  });

  it('refuses per-channel values of the wrong length or a non-positive std', () => {
    const ds = synthetic(1, 3, 2, 2);
    expect(() => normalize(ds, [0.5, 0.5], 1)).toThrow(/mean has 2 values, expected 1 or 3/);
    expect(() => normalize(ds, 0, [1, 0, 1])).toThrow(/std\[1\] must be > 0/);
  });
});

// ---- shuffling, subsets, splits -------------------------------------------------------------

describe('seeded order', () => {
  const idx = allIndices(1000);

  it('same seed, same order; another seed or epoch, another order; always a permutation', () => {
    const a = epochOrder(idx, 42, 0);
    expect(Array.from(epochOrder(idx, 42, 0))).toEqual(Array.from(a));
    expect(Array.from(epochOrder(idx, 43, 0))).not.toEqual(Array.from(a));
    expect(Array.from(epochOrder(idx, 42, 1))).not.toEqual(Array.from(a));
    expect(Array.from(a)).not.toEqual(Array.from(idx));
    for (const o of [a, epochOrder(idx, 43, 0), epochOrder(idx, 42, 7)]) expect(sortedCopy(o)).toEqual(Array.from(idx));
  });

  it('follows the documented rule, and the rule is pinned so orders stay the same across versions', () => {
    const pool = new Uint32Array([10, 20, 30, 40, 50, 60, 70, 80]);
    const p = new Rng(deriveSeed(7, SeedStream.shuffle, 3)).permutation(pool.length);
    expect(Array.from(epochOrder(pool, 7, 3))).toEqual(Array.from(p, (i) => pool[i]));
    // Golden values (the seeds recomputed independently in Python from the documented formula):
    // a change here changes every run's data order.
    expect([deriveSeed(0, 0, 0), deriveSeed(1, SeedStream.shuffle, 0), deriveSeed(1, SeedStream.shuffle, 1)]).toEqual([
      2710294937, 3721277838, 134528784,
    ]);
    expect(Array.from(epochOrder(allIndices(10), 42, 0))).toEqual([0, 6, 2, 7, 5, 3, 8, 4, 9, 1]);
  });

  it('trainSubset: N of the indices, sorted, nested across N, deterministic', () => {
    const s100 = trainSubset(idx, 100, 5);
    const s300 = trainSubset(idx, 300, 5);
    expect(s100.length).toBe(100);
    expect(new Set(s100).size).toBe(100);
    expect(Array.from(s100)).toEqual(sortedCopy(s100));
    expect(Array.from(s100).every((k) => s300.includes(k))).toBe(true);
    expect(Array.from(trainSubset(idx, 100, 5))).toEqual(Array.from(s100));
    expect(Array.from(trainSubset(idx, 100, 6))).not.toEqual(Array.from(s100));
    expect(Array.from(trainSubset(idx, 1000, 5))).toEqual(Array.from(idx));
    // Over a non-trivial pool, only pool members are taken.
    const pool = new Uint32Array([5, 9, 13, 200]);
    expect(Array.from(trainSubset(pool, 4, 1))).toEqual([5, 9, 13, 200]);
    expect(() => trainSubset(idx, 1001, 5)).toThrow('train subset size: expected an integer in [1, 1000]');
    expect(() => trainSubset(idx, 0, 5)).toThrow(/found 0/);
  });

  it('validationSplit: disjoint, covers the pool, deterministic', () => {
    const { train, val } = validationSplit(idx, 100, 9);
    expect([train.length, val.length]).toEqual([900, 100]);
    expect(sortedCopy(new Uint32Array([...train, ...val]))).toEqual(Array.from(idx));
    expect(Array.from(validationSplit(idx, 100, 9).val)).toEqual(Array.from(val));
    expect(Array.from(validationSplit(idx, 100, 10).val)).not.toEqual(Array.from(val));
    // The held-out examples are the last K of the seeded permutation.
    const p = new Rng(deriveSeed(9, SeedStream.validation, 0)).permutation(1000);
    expect(Array.from(val)).toEqual(sortedCopy(p.subarray(900)));
    expect(validationSplit(idx, 0, 9).val.length).toBe(0);
    expect(() => validationSplit(idx, 1000, 9)).toThrow('validation hold-out: expected an integer in [0, 999]');
  });
});

// ---- batches ----------------------------------------------------------------------------------

describe('Batcher', () => {
  const ds = synthetic(10, 2, 3, 3);
  const size = 2 * 3 * 3;

  it('visits every example once per epoch, plans the right rows and labels, into the same buffers', () => {
    const batcher = new Batcher(ds, { batchSize: 4, seed: 1 });
    expect(batcher.batchesPerEpoch).toBe(3);
    const { plan: buf, labels: labs } = batcher.batch;
    const seen: number[] = [];
    const sizes: number[] = [];
    for (const b of batcher.epochBatches(0)) {
      expect(b.plan).toBe(buf); // no per-batch allocation: the same buffers every time
      expect(b.labels).toBe(labs);
      sizes.push(b.size);
      const imgs = batcher.fillImages(b, new Float32Array(b.size * size));
      for (let i = 0; i < b.size; i++) {
        const k = b.indices[i];
        seen.push(k);
        expect(b.labels[i]).toBe(ds.labels[k]);
        expect(Array.from(b.plan.subarray(4 * i, 4 * i + 4))).toEqual([k, 0, 0, 0]);
        expect(Array.from(imgs.subarray(i * size, (i + 1) * size))).toEqual(Array.from(ds.images.subarray(k * size, (k + 1) * size)));
      }
    }
    expect(sizes).toEqual([4, 4, 2]);
    expect(seen.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(epochOrder(allIndices(10), 1, 0))).toEqual(
      (() => {
        const order: number[] = [];
        for (const b of new Batcher(ds, { batchSize: 4, seed: 1 }).epochBatches(0)) order.push(...b.indices.subarray(0, b.size));
        return order;
      })(),
    );
  });

  it('dropLast, no shuffle, and a restricted pool', () => {
    const batcher = new Batcher(ds, { batchSize: 4, seed: 1, dropLast: true, shuffle: false, indices: new Uint32Array([9, 3, 5, 1, 0]) });
    expect(batcher.batchesPerEpoch).toBe(1);
    const batches = [...batcher.epochBatches(0)].map((b) => Array.from(b.indices.subarray(0, b.size)));
    expect(batches).toEqual([[9, 3, 5, 1]]);
    expect(() => new Batcher(ds, { batchSize: 2, seed: 0, indices: new Uint32Array([10]) })).toThrow(/index 10 outside \[0, 10\)/);
  });

  it('with augmentation, is reproducible and randomly accessible (resume mid-epoch gives the same batch)', () => {
    const opts = { batchSize: 3, seed: 11, augment: { pad: 1, flip: true } };
    const first = new Batcher(ds, opts);
    const all: number[][] = [];
    const imagesOf = (batcher: Batcher, b: number) => Array.from(batcher.fillImages(batcher.fill(b), new Float32Array(3 * size)).subarray(0, batcher.batch.size * size));
    first.startEpoch(2);
    for (let b = 0; b < first.batchesPerEpoch; b++) all.push(imagesOf(first, b));
    const resumed = new Batcher(ds, opts);
    resumed.startEpoch(2);
    expect(imagesOf(resumed, 2)).toEqual(all[2]);
    expect(imagesOf(resumed, 0)).toEqual(all[0]);
    // And it does change the pixels for some examples.
    const plain = new Batcher(ds, { batchSize: 3, seed: 11 });
    plain.startEpoch(2);
    expect(imagesOf(plain, 0)).not.toEqual(all[0]);
  });

  it('refuses host image buffers too small, batches out of range and bad options', () => {
    const batcher = new Batcher(ds, { batchSize: 4, seed: 3 });
    batcher.startEpoch(0);
    expect(() => batcher.fillImages(batcher.fill(0), new Float32Array(4 * size - 1))).toThrow(/batch images too small: 4 examples need 72 floats, found 71/);
    expect(() => batcher.fill(3)).toThrow(/batch 3 outside \[0, 3\)/);
    expect(() => new Batcher(ds, { batchSize: 0, seed: 0 })).toThrow(/batch size/);
    expect(() => new Batcher(ds, { batchSize: 2, seed: 0, augment: { pad: 3, flip: false } })).toThrow(/augment pad: expected an integer in \[0, 2\]/);
  });

  it('takeExamples copies the chosen rows', () => {
    const sub = takeExamples(ds, [4, 2], 'sub');
    expect([sub.n, sub.name, Array.from(sub.labels)]).toEqual([2, 'sub', [ds.labels[4], ds.labels[2]]]);
    expect(sub.images[0]).toBe(ds.images[4 * size]);
  });
});

// ---- augmentation -----------------------------------------------------------------------------

/** The definition, written the slow obvious way: pad, crop the window, then mirror. */
function referenceAugment(src: Float32Array, c: number, h: number, w: number, pad: number, sy: number, sx: number, flip: boolean, pv: number[]): Float32Array {
  const ph = h + 2 * pad;
  const pw = w + 2 * pad;
  const padded = new Float32Array(c * ph * pw);
  for (let ch = 0; ch < c; ch++) {
    padded.fill(pv[ch], ch * ph * pw, (ch + 1) * ph * pw);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) padded[(ch * ph + y + pad) * pw + x + pad] = src[(ch * h + y) * w + x];
  }
  const crop = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++)
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) crop[(ch * h + y) * w + x] = padded[(ch * ph + y + pad + sy) * pw + x + pad + sx];
  if (!flip) return crop;
  const out = new Float32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(ch * h + y) * w + x] = crop[(ch * h + y) * w + (w - 1 - x)];
  return out;
}

describe('augmentation', () => {
  const C = 2;
  const H = 5;
  const W = 6;
  const src = Float32Array.from({ length: C * H * W }, (_, i) => i + 1);
  const pv = [-1, -2];
  const run = (sy: number, sx: number, flip: boolean, input = src) => {
    const dst = new Float32Array(C * H * W).fill(NaN);
    augmentInto(input, 0, dst, 0, C, H, W, sy, sx, flip, pv);
    return dst;
  };

  it('flip twice is the identity', () => {
    expect(Array.from(run(0, 0, true, run(0, 0, true)))).toEqual(Array.from(src));
    expect(Array.from(run(0, 0, true))).not.toEqual(Array.from(src));
  });

  it('crop with no shift (pad 0) is the identity, also through the Batcher', () => {
    expect(Array.from(run(0, 0, false))).toEqual(Array.from(src));
    const ds = synthetic(7, 2, 4, 4);
    const a = new Batcher(ds, { batchSize: 7, seed: 4, augment: { pad: 0, flip: false } });
    const b = new Batcher(ds, { batchSize: 7, seed: 4 });
    a.startEpoch(0);
    b.startEpoch(0);
    const out = () => new Float32Array(7 * 2 * 4 * 4);
    expect(Array.from(a.fillImages(a.fill(0), out()))).toEqual(Array.from(b.fillImages(b.fill(0), out())));
  });

  it('a crop shift moves content up/left by the shift and pads the uncovered border per channel', () => {
    const out = run(1, 2, false);
    const at = (a: Float32Array, c: number, y: number, x: number) => a[(c * H + y) * W + x];
    for (let c = 0; c < C; c++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          const inside = y + 1 < H && x + 2 < W;
          expect(at(out, c, y, x)).toBe(inside ? at(src, c, y + 1, x + 2) : pv[c]);
        }
    // Negative shift: content moves down/right.
    const down = run(-1, -1, false);
    expect(at(down, 0, 1, 1)).toBe(at(src, 0, 0, 0));
    expect(at(down, 1, 0, 3)).toBe(-2);
  });

  it('matches the pad-crop-flip definition for every shift in [-3, 3] and both flips', () => {
    for (let sy = -3; sy <= 3; sy++)
      for (let sx = -3; sx <= 3; sx++)
        for (const flip of [false, true]) {
          expect(Array.from(run(sy, sx, flip)), `shift ${sy},${sx} flip ${flip}`).toEqual(Array.from(referenceAugment(src, C, H, W, 3, sy, sx, flip, pv)));
        }
    // A shift as large as the image pads everything.
    expect(Array.from(run(0, W, true)).every((v, i) => v === pv[Math.floor(i / (H * W))])).toBe(true);
  });

  it('draws shifts uniformly in [-pad, pad] and flips about half the time, only when asked', () => {
    const d: AugmentDraw = { shiftY: 0, shiftX: 0, flip: false };
    const counts = new Map<number, number>();
    let flips = 0;
    for (let k = 0; k < 7000; k++) {
      drawAugment(123, k, { pad: 3, flip: true }, d);
      counts.set(d.shiftY, (counts.get(d.shiftY) ?? 0) + 1);
      expect(Math.abs(d.shiftX)).toBeLessThanOrEqual(3);
      if (d.flip) flips++;
    }
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
    for (const n of counts.values()) expect(n).toBeGreaterThan(850);
    expect(flips).toBeGreaterThan(3200);
    expect(flips).toBeLessThan(3800);
    for (let k = 0; k < 100; k++) expect(drawAugment(123, k, { pad: 2, flip: false }, d).flip).toBe(false);
  });
});
