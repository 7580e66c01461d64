// The user's own data: IDX of any image size (3-D and 4-D), CSV, and image folders (PNG / JPEG),
// through the pure parsers and the Node loaders, and the DatasetSpec entry point. Every fixture is
// small and written here, in a temp folder; no GPU, no training.
import { idxBytes } from './helpers.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { datasetFiles, loadDataset, loadDatasetSpec, resolveDatasetSpec } from '../src/data/load-dataset.js';
import { dataInputs } from '../src/cli/preflight.js';
import { fromRgba } from '../src/data/browser-images.js';
import { csvDataset, csvDatasets } from '../src/data/csv.js';
import { inputValues, type Dataset } from '../src/data/dataset.js';
import { allIndices } from '../src/data/batches.js';
import { imageFolderDatasets, imageFolderListing, type DecodedImage } from '../src/data/image-folder.js';
import { fashionMnistDataset, FASHION_MNIST_CLASSES, idxDataset } from '../src/data/idx.js';
import { idxFilesIn, listImageFolder, loadCsv, loadIdx, loadImageFolder, readDataFile, idxLimit } from '../src/data/node-files.js';
import { decodeImageFile, jpegFrame } from '../src/data/node-images.js';
import { checkDatasetSpec, parseImageShape, type DatasetSpec } from '../src/data/spec.js';
import { FormatError } from '../src/util/format-error.js';
import { expectFormatError } from './format-error.js';

const scratch = mkdtempSync(join(tmpdir(), 'kdgpu-formats-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function folder(...parts: string[]): string {
  const d = join(scratch, ...parts);
  mkdirSync(d, { recursive: true });
  return d;
}

/** The rejection of `p`, checked to be a FormatError whose message contains every fragment. */
async function rejectsFormat(p: Promise<unknown>, ...fragments: string[]): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, 'expected a rejection').toBeInstanceOf(FormatError);
  for (const f of fragments) expect((e as Error).message).toContain(f);
  return (e as Error).message;
}

// ---- IDX ----------------------------------------------------------------------------------------


/** Pixel (image i, row y, column x, channel c) of the synthetic images: every value differs nearby. */
function px(i: number, y: number, x: number, c = 0): number {
  return (i * 37 + y * 11 + x * 5 + c * 83) % 256;
}

function greyImages(n: number, h: number, w: number): Uint8Array {
  const data: number[] = [];
  for (let i = 0; i < n; i++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.push(px(i, y, x));
  return idxBytes(0x803, [n, h, w], data);
}

/** [n, h, w, c]: a pixel's channels together. */
function hwcImages(n: number, h: number, w: number, c: number): Uint8Array {
  const data: number[] = [];
  for (let i = 0; i < n; i++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) data.push(px(i, y, x, k));
  return idxBytes(0x804, [n, h, w, c], data);
}

const labelFile = (values: number[]) => idxBytes(0x801, [values.length], values);

/** Every value of `ds` is the byte px(...) in CHW order, and the model's input px(...) / 255 as float32. */
function expectSynthetic(ds: Dataset): void {
  const { channels: C, height: H, width: W } = ds;
  expect(ds.images).toBeInstanceOf(Uint8Array);
  const values = inputValues(ds, allIndices(ds.n));
  for (let i = 0; i < ds.n; i++) {
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const at = ((i * C + c) * H + y) * W + x;
          if (ds.images[at] !== px(i, y, x, c)) throw new Error(`${ds.name} image ${i} c${c} y${y} x${x}: byte ${ds.images[at]} != ${px(i, y, x, c)}`);
          const got = values[at];
          if (got !== Math.fround(px(i, y, x, c) / 255)) throw new Error(`${ds.name} image ${i} c${c} y${y} x${x}: ${got} != ${px(i, y, x, c)}/255`);
        }
      }
    }
  }
}

const TRAIN3 = [0, 1, 2, 2, 1, 0];
const TEST3 = [2, 0, 1];

function writeIdx8(dir: string, gz: boolean): void {
  const w = (name: string, bytes: Uint8Array) => writeFileSync(join(dir, gz ? `${name}.gz` : name), gz ? gzipSync(bytes) : bytes);
  w('train-images-idx3-ubyte', greyImages(6, 8, 8));
  w('train-labels-idx1-ubyte', labelFile(TRAIN3));
  w('t10k-images-idx3-ubyte', greyImages(3, 8, 8));
  w('t10k-labels-idx1-ubyte', labelFile(TEST3));
}

describe('IDX of any size', () => {
  const gzDir = folder('idx8-gz');
  const rawDir = folder('idx8-raw');
  writeIdx8(gzDir, true);
  writeIdx8(rawDir, false);

  it('reads 8x8x1 images with 3 classes from a folder, gzip or not, identically', async () => {
    for (const dir of [gzDir, rawDir]) {
      const { train, test } = await loadIdx(await idxFilesIn(dir));
      expect([train.n, train.channels, train.height, train.width, train.numClasses]).toEqual([6, 1, 8, 8, 3]);
      expect([test.n, test.numClasses]).toEqual([3, 3]);
      expect(Array.from(train.labels)).toEqual(TRAIN3);
      expect(Array.from(test.labels)).toEqual(TEST3);
      expect(train.classNames).toBeUndefined();
      expectSynthetic(train);
      expectSynthetic(test);
    }
  });

  it('through loadDatasetSpec: normalised with the train statistics, no class names', async () => {
    const data = await loadDatasetSpec({ kind: 'idx', dir: gzDir });
    expect(data.normalisation.mean).toHaveLength(1);
    expect(data.classNames).toBeUndefined();
    expect(data.train.numClasses).toBe(3);
    let sum = 0;
    const values = inputValues(data.train, allIndices(data.train.n));
    for (const v of values) sum += v;
    expect(Math.abs(sum / values.length)).toBeLessThan(1e-5);
    const sub = await loadDatasetSpec({ kind: 'idx', dir: gzDir }, data.normalisation, 2);
    expect(sub.test.n).toBe(2);
  });

  it('refuses IDX data whose training labels hold one class, naming the labels file', async () => {
    const dir = folder('idx-one-class');
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), idxBytes(0x803, [4, 8, 8], Uint8Array.from({ length: 4 * 64 }, (_, i) => (i * 37) % 256)));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idxBytes(0x801, [4], [2, 2, 2, 2]));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), idxBytes(0x803, [1, 8, 8], new Uint8Array(64)));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idxBytes(0x801, [1], [2]));
    await expect(loadDatasetSpec({ kind: 'idx', dir })).rejects.toThrow(`${dir} (idx/train): labels: expected at least 2 classes to tell apart, found 1 (4 examples, every one labelled 2)`);
  });

  it('reads 32x32x3 IDX4 files named one by one, with 20 classes, HWC to CHW', async () => {
    const dir = folder('idx4');
    const trainLabels = Array.from({ length: 20 }, (_, i) => (i * 7) % 20);
    const files = {
      trainImages: join(dir, 'a-images.idx4'),
      trainLabels: join(dir, 'a-labels.idx1'),
      testImages: join(dir, 'b-images.idx4.gz'),
      testLabels: join(dir, 'b-labels.idx1'),
    };
    writeFileSync(files.trainImages, hwcImages(20, 32, 32, 3));
    writeFileSync(files.trainLabels, labelFile(trainLabels));
    writeFileSync(files.testImages, gzipSync(hwcImages(4, 32, 32, 3)));
    writeFileSync(files.testLabels, labelFile([19, 0, 5, 7]));
    const { train, test } = await loadIdx(files);
    expect([train.n, train.channels, train.height, train.width, train.numClasses]).toEqual([20, 3, 32, 32, 20]);
    expect(test.numClasses).toBe(20);
    expectSynthetic(train);
    expectSynthetic(test);
    const data = await loadDatasetSpec({ kind: 'idx', files, imageShape: [32, 32, 3] });
    expect(data.normalisation.mean).toHaveLength(3);
    // The conventional names in a folder, spelt idx4.
    const conv = folder('idx4-conv');
    writeFileSync(join(conv, 'train-images-idx4-ubyte.gz'), gzipSync(hwcImages(20, 32, 32, 3)));
    writeFileSync(join(conv, 'train-labels-idx1-ubyte'), labelFile(trainLabels));
    writeFileSync(join(conv, 't10k-images-idx4-ubyte'), hwcImages(4, 32, 32, 3));
    writeFileSync(join(conv, 't10k-labels-idx1-ubyte.gz'), gzipSync(labelFile([1, 2, 3, 4])));
    const again = await loadDatasetSpec({ kind: 'idx', dir: conv });
    expect([again.train.channels, again.train.numClasses]).toEqual([3, 20]);
  });

  it('reads [n, c, h, w] with layout chw, and refuses a file that looks like it without one', () => {
    const data: number[] = [];
    for (let i = 0; i < 2; i++) for (let c = 0; c < 3; c++) for (let y = 0; y < 6; y++) for (let x = 0; x < 5; x++) data.push(px(i, y, x, c));
    const images = idxBytes(0x804, [2, 3, 6, 5], data);
    const ds = idxDataset({ images, labels: labelFile([0, 1]), imagesFile: 'chw.idx', labelsFile: 'l.idx', name: 't', layout: 'chw' });
    expect([ds.channels, ds.height, ds.width]).toEqual([3, 6, 5]);
    expectSynthetic(ds);
    expectFormatError(() => idxDataset({ images, labels: labelFile([0, 1]), imagesFile: 'chw.idx', labelsFile: 'l.idx', name: 't' }), "chw.idx: dimensions: 2x3x6x5 read as [n, height, width, channels]", "set layout 'chw'");
  });

  it('keeps Fashion-MNIST as it was: 28x28x1, 10 classes, with class names', () => {
    const ds = fashionMnistDataset('test', greyImages(2, 28, 28), labelFile([9, 0]));
    expect([ds.channels, ds.height, ds.width, ds.numClasses, ds.name]).toEqual([1, 28, 28, 10, 'fashion-mnist/test']);
    expect(ds.classNames).toEqual([...FASHION_MNIST_CLASSES]);
    expectFormatError(() => fashionMnistDataset('train', greyImages(2, 8, 8), labelFile([0, 1])), 'train-images-idx3-ubyte.gz: image size: expected 28x28, found 8x8');
    expect(datasetFiles('fashion-mnist', '/d')).toEqual([
      '/d/train-images-idx3-ubyte.gz', '/d/train-images-idx3-ubyte', '/d/train-labels-idx1-ubyte.gz', '/d/train-labels-idx1-ubyte',
      '/d/t10k-images-idx3-ubyte.gz', '/d/t10k-images-idx3-ubyte', '/d/t10k-labels-idx1-ubyte.gz', '/d/t10k-labels-idx1-ubyte',
    ]);
  });

  it('names the file for wrong sizes, bad labels and missing files', async () => {
    const dir = folder('idx-bad');
    writeIdx8(dir, false);
    // Test images of another size than the train images.
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), greyImages(3, 9, 8));
    await rejectsFormat(loadDatasetSpec({ kind: 'idx', dir }), `${join(dir, 't10k-images-idx3-ubyte')}: image size: expected 8x8 (the size of the images in ${join(dir, 'train-images-idx3-ubyte')}), found 9x8`);
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), greyImages(3, 8, 8));
    // An image shape that the files do not have: refused from the (gzip) header.
    await rejectsFormat(loadDatasetSpec({ kind: 'idx', dir: gzDir, imageShape: [8, 8, 3] }), `${join(gzDir, 'train-images-idx3-ubyte.gz')}: image size: expected 8x8x3, found 8x8`);
    // Labels >= numClasses, naming the labels file and the label's index.
    await rejectsFormat(loadDatasetSpec({ kind: 'idx', dir, numClasses: 2 }), `${join(dir, 'train-labels-idx1-ubyte')}: label 2: expected a class in [0, 2) (numClasses), found 2`);
    // A test label beyond the classes the train labels have.
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), labelFile([0, 3, 1]));
    await rejectsFormat(loadDatasetSpec({ kind: 'idx', dir }), `${join(dir, 't10k-labels-idx1-ubyte')}: label 1: expected a class in [0, 3) (the classes of ${join(dir, 'train-labels-idx1-ubyte')}`, 'set numClasses');
    const wider = await loadDatasetSpec({ kind: 'idx', dir, numClasses: 4 });
    expect(wider.test.numClasses).toBe(4);
    // Label count, swapped files, missing file.
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), labelFile([0, 1]));
    await rejectsFormat(loadDatasetSpec({ kind: 'idx', dir }), 't10k-labels-idx1-ubyte: label count: expected 3');
    await rejectsFormat(
      loadIdx({ trainImages: join(dir, 'train-labels-idx1-ubyte'), trainLabels: join(dir, 'train-labels-idx1-ubyte'), testImages: join(dir, 't10k-images-idx3-ubyte'), testLabels: join(dir, 't10k-labels-idx1-ubyte') }),
      'train-labels-idx1-ubyte: magic number: expected 0x00000803', 'or 0x00000804', 'that is an IDX labels file',
    );
    await rejectsFormat(loadDatasetSpec({ kind: 'idx', dir: join(scratch, 'nowhere') }), 'train-images-idx3-ubyte.gz: file: not found', 'train-images-idx4-ubyte');
    // A header announcing other images than the given shape is refused before inflating the rest.
    const bomb = join(dir, 'bomb.gz');
    writeFileSync(bomb, gzipSync(Buffer.concat([Buffer.from(idxBytes(0x804, [1000, 64, 64, 3], [])), Buffer.alloc(1 << 20)])));
    await expect(readDataFile(bomb, idxLimit('images', bomb, { height: 8, width: 8 }))).rejects.toThrow(/bomb\.gz: image size: expected 8x8, found 64x64x3/);
  });
});

// ---- CSV ----------------------------------------------------------------------------------------

/** Rows "label,p0,p1,…" of n 2x2 grey images (values px / 255 as written 0-255). */
function csvRows(labels: number[], h = 2, w = 2, c = 1, unit = false): string[] {
  return labels.map((y, i) => {
    const vals: string[] = [];
    for (let yy = 0; yy < h; yy++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) vals.push(unit ? String(px(i, yy, x, k) / 255) : String(px(i, yy, x, k)));
    return [String(y), ...vals].join(',');
  });
}

describe('CSV', () => {
  it('reads rows with and without a header, a square of one channel inferred', () => {
    const header = ['label', 'p0', 'p1', 'p2', 'p3'].join(',');
    const withHeader = csvDataset({ fileName: 'h.csv', text: [header, ...csvRows([0, 1, 2])].join('\r\n') + '\r\n' });
    const without = csvDataset({ fileName: 'n.csv', text: csvRows([0, 1, 2]).join('\n') });
    for (const ds of [withHeader, without]) {
      expect([ds.n, ds.channels, ds.height, ds.width, ds.numClasses]).toEqual([3, 1, 2, 2, 3]);
      expect(Array.from(ds.labels)).toEqual([0, 1, 2]);
      expectSynthetic(ds);
    }
  });

  it('reads the label from the last column with labelColumn "last", errors naming that column', () => {
    const first = csvRows([0, 1, 2], 2, 2, 3).map((r) => r.split(','));
    const last = first.map(([y, ...pixels]) => [...pixels, y].join(',')).join('\n');
    const ds = csvDatasets({ fileName: 'tr.csv', text: last }, { fileName: 'te.csv', text: last }, { imageShape: [2, 2, 3], labelColumn: 'last' });
    expect(Array.from(ds.train.labels)).toEqual([0, 1, 2]);
    expect(Array.from(ds.test.images)).toEqual(Array.from(csvDatasets({ fileName: 'a.csv', text: first.join('\n') }, { fileName: 'b.csv', text: first.join('\n') }, { imageShape: [2, 2, 3] }).test.images));
    expectFormatError(() => csvDataset({ fileName: 'l.csv', text: '1,2,3,4,0\n1,2,3,4,x' }, { labelColumn: 'last' }), 'l.csv: line 2: column 5 (the label): expected a number, found "x"');
    expectFormatError(() => csvDataset({ fileName: 'l.csv', text: '1,2,3,4,5' }, { labelColumn: 'last', numClasses: 3 }), 'l.csv: line 1: column 5 (the label): expected a class in [0, 3) (numClasses), found 5');
    expect(() => checkDatasetSpec({ kind: 'idx', dir: '/d', labelColumn: 'last' }, 'spec')).toThrow('spec: dataset.labelColumn: applies to csv data only, not idx');
    expect(() => checkDatasetSpec({ kind: 'csv', dir: '/d', labelColumn: 'middle' }, 'spec')).toThrow('spec: dataset.labelColumn: expected "first" or "last", found "middle"');
  });

  it('refuses a training set of one class, saying what was read and where the label may be', () => {
    // Digits with the label last, read with the label first: column 1 is a blank corner pixel.
    const rows = [3, 7, 1].map((y) => ['0', '12', '200', '5', String(y)].join(',')).join('\n');
    expectFormatError(
      () => csvDatasets({ fileName: 'digits.csv', text: rows }, { fileName: 'test.csv', text: rows }),
      "digits.csv: labels: expected at least 2 classes to tell apart, found 1 (3 examples, every one labelled 0), read from column 1: is the label in the last column (labelColumn last)?",
    );
    expect(Array.from(csvDatasets({ fileName: 'digits.csv', text: rows }, { fileName: 'test.csv', text: rows }, { labelColumn: 'last' }).train.labels)).toEqual([3, 7, 1]);
  });

  it('reads colour rows in HWC order with a given shape, and fractions in [0, 1]', () => {
    const ds = csvDataset({ fileName: 'c.csv', text: csvRows([1, 0], 3, 2, 3).join('\n') }, { imageShape: [3, 2, 3] });
    expect([ds.channels, ds.height, ds.width]).toEqual([3, 3, 2]);
    expectSynthetic(ds);
    const unit = csvDataset({ fileName: 'u.csv', text: csvRows([0, 1]).join('\n') + '\n\n' });
    const written = csvRows([0, 1], 2, 2, 1, true).join('\n');
    const frac = csvDataset({ fileName: 'f.csv', text: written });
    // 0-255 whole numbers are kept as bytes, fractions as float32: the same model input.
    expect(unit.images).toBeInstanceOf(Uint8Array);
    expect(frac.images).toBeInstanceOf(Float32Array);
    const [u, f] = [unit, frac].map((d) => inputValues(d, allIndices(d.n)));
    for (let i = 0; i < u.length; i++) expect(Math.abs(f[i] - u[i])).toBeLessThan(1e-7);
    // Binary images: 0/1 integers read as 0-255 unless pixelRange says otherwise.
    expect(inputValues(csvDataset({ fileName: 'b.csv', text: '0,0,1,1,0' }), [0])[1]).toBe(Math.fround(1 / 255));
    expect(inputValues(csvDataset({ fileName: 'b.csv', text: '0,0,1,1,0' }, { pixelRange: '0-1' }), [0])[1]).toBe(1);
  });

  it('loads train and test files through the spec, the test rows checked against the train shape', async () => {
    const dir = folder('csv');
    writeFileSync(join(dir, 'train.csv'), ['label,a,b,c,d', ...csvRows([0, 1, 2, 3])].join('\n'));
    writeFileSync(join(dir, 'test.csv.gz'), gzipSync(csvRows([3, 0]).join('\n')));
    const data = await loadDatasetSpec({ kind: 'csv', dir });
    expect([data.train.n, data.test.n, data.train.numClasses, data.test.height]).toEqual([4, 2, 4, 2]);
    const named = await loadCsv({ train: join(dir, 'train.csv'), test: join(dir, 'test.csv.gz') }, { numClasses: 10 });
    expect(named.test.numClasses).toBe(10);
    expectSynthetic(named.test);
  });

  it('names the file, the line and what is wrong', async () => {
    const rows = csvRows([0, 1, 2]);
    const bad = (lines: string[], options = {}) => () => csvDataset({ fileName: 'bad.csv', text: lines.join('\n') }, options);
    expectFormatError(bad([rows[0], '1,2,3', rows[2]]), 'bad.csv: line 2: expected 5 columns (a label and 2x2 = 4 pixel values), found 3');
    expectFormatError(bad(['label,a,b,c,d', rows[0], '', '1,2,x,4,5']), 'bad.csv: line 4: column 3: expected a pixel value (a number), found "x"');
    expectFormatError(bad([rows[0], '1,2,,4,5']), 'bad.csv: line 2: column 3: expected a pixel value (a number), found an empty field');
    expectFormatError(bad([rows[0], '1,2,300,4,5']), 'bad.csv: line 2: column 3: pixel value out of range', 'found 300');
    expectFormatError(bad([rows[0], '1,2,-3,4,5']), 'bad.csv: line 2: column 3: pixel value out of range', 'found -3');
    expectFormatError(bad([rows[0], '-1,2,3,4,5']), 'bad.csv: line 2: column 1 (the label): expected an integer >= 0, found -1');
    expectFormatError(bad([rows[0], '1.5,2,3,4,5']), 'bad.csv: line 2: column 1 (the label): expected an integer >= 0, found 1.5');
    expectFormatError(bad([rows[0], 'cat,2,3,4,5']), 'bad.csv: line 2: column 1 (the label): expected a number, found "cat"');
    expectFormatError(bad(rows, { numClasses: 2 }), 'bad.csv: line 3: column 1 (the label): expected a class in [0, 2) (numClasses), found 2');
    expectFormatError(bad(['0,0.5,0.25,1,0', '1,200,3,4,5']), 'bad.csv: line 2: column 2: mixed pixel scales: 200 is on the 0-255 scale, but line 1 column 2 holds 0.5');
    expectFormatError(bad(['0,0.5,0.25,1,0'], { pixelRange: '0-255' }), 'bad.csv: line 1: column 2: expected an integer in [0, 255] (pixelRange 0-255), found 0.5');
    expectFormatError(bad(['0,1,2,3']), 'bad.csv: line 1: 4 columns: the 3 after the label are not a square image');
    expectFormatError(bad(['label,a,b,c,d']), 'bad.csv: rows: expected a row per image after the header on line 1, found none');
    expectFormatError(bad(['label,a,b,c', rows[0]], { imageShape: [2, 2] }), 'bad.csv: line 1: header row: expected 5 columns');
    expectFormatError(bad([]), 'bad.csv: rows: expected a row per image, found an empty file');
    // Mixed scales across the train and test files name both.
    expectFormatError(
      () => csvDatasets({ fileName: 'tr.csv', text: '0,0.5,0,0,0' }, { fileName: 'te.csv', text: '0,1,2,3,4\n0,9,9,9,9' }),
      'te.csv: line 1: column 3: mixed pixel scales: 2 is on the 0-255 scale, but tr.csv line 1 column 2 holds 0.5',
    );
    // Test rows of another shape; test labels beyond the train classes.
    expectFormatError(
      () => csvDatasets({ fileName: 'tr.csv', text: rows.join('\n') }, { fileName: 'te.csv', text: '0,1,2,3,4,5,6,7,8,9' }),
      'te.csv: line 1: expected 5 columns (a label and 2x2 = 4 pixel values, the shape of tr.csv), found 10',
    );
    await rejectsFormat(
      Promise.resolve().then(() => csvDatasets({ fileName: 'tr.csv', text: rows.join('\n') }, { fileName: 'te.csv', text: '\n\n7,1,2,3,4' })),
      'te.csv: line 3: column 1 (the label): expected a class in [0, 3) (the classes of tr.csv: its largest label + 1; set numClasses for more), found 7',
    );
  });
});

// ---- Image folders ------------------------------------------------------------------------------

type Pixel = (x: number, y: number) => number[];

/** A PNG of the given colour type (0 grey, 2 RGB, 6 RGBA) whose pixel (x, y) is `f(x, y)` (1, 3 or 4 values). */
function png(width: number, height: number, colorType: 0 | 2 | 6, f: Pixel): Buffer {
  const img = new pngjs.PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = f(x, y);
      const rgba = v.length === 1 ? [v[0], v[0], v[0], 255] : v.length === 3 ? [...v, 255] : v;
      img.data.set(rgba, 4 * (y * width + x));
    }
  }
  return pngjs.PNG.sync.write(img, { colorType, inputColorType: 6, inputHasAlpha: true });
}

const rgb = (seed: number): Pixel => (x, y) => [(seed * 40 + x * 20) % 256, (seed * 7 + y * 30) % 256, (x * y * 9 + seed) % 256];
const grey = (seed: number): Pixel => (x, y) => [(seed * 50 + x * 13 + y * 29) % 256];

/** The CHW bytes of example i (8-bit sources keep them). */
function example(ds: Dataset, i: number): number[] {
  const size = ds.channels * ds.height * ds.width;
  expect(ds.images).toBeInstanceOf(Uint8Array);
  return Array.from(ds.images.subarray(i * size, (i + 1) * size));
}

/** What the image of `f` looks like as CHW values. */
function chw(width: number, height: number, channels: number, f: Pixel): number[] {
  const out: number[] = [];
  for (let c = 0; c < channels; c++) for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out.push(f(x, y)[c]);
  return out;
}

describe('image folders', () => {
  const W = 5;
  const H = 4;
  const root = folder('images');
  const put = (rel: string, bytes: Uint8Array) => {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), bytes);
  };
  // Train: cat (2 RGB PNGs, one stored as RGBA with opaque alpha), dog (1 RGB PNG, 1 JPEG), bird (1 PNG).
  put('train/cat/b.png', png(W, H, 2, rgb(1)));
  put('train/cat/a.png', png(W, H, 6, rgb(2)));
  put('train/dog/1.png', png(W, H, 2, rgb(3)));
  const jpegPixels = rgb(4);
  const jpegData = Buffer.alloc(W * H * 4);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) jpegData.set([...jpegPixels(x, y), 255], 4 * (y * W + x));
  put('train/dog/2.JPG', jpeg.encode({ width: W, height: H, data: jpegData }, 100).data);
  put('train/bird/x.png', png(W, H, 2, rgb(5)));
  put('train/.DS_Store', new Uint8Array([1, 2, 3]));
  put('train/README.txt', new TextEncoder().encode('ignored'));
  // Test: a subset of the classes.
  put('test/dog/t.png', png(W, H, 2, rgb(6)));
  put('test/bird/t.png', png(W, H, 2, rgb(7)));

  it('reads classes from the train folder names, sorted; the test classes a subset', async () => {
    const { train, test, classNames } = await loadImageFolder(root);
    expect(classNames).toEqual(['bird', 'cat', 'dog']);
    expect(train.classNames).toEqual(['bird', 'cat', 'dog']);
    expect([train.n, train.channels, train.height, train.width, train.numClasses]).toEqual([5, 3, H, W, 3]);
    expect(Array.from(train.labels)).toEqual([0, 1, 1, 2, 2]);
    expect(Array.from(test.labels)).toEqual([0, 2]);
    // PNG: exact, in CHW order (cat/a.png is the RGBA one, its opaque alpha dropped).
    expect(example(train, 0)).toEqual(chw(W, H, 3, rgb(5)));
    expect(example(train, 1)).toEqual(chw(W, H, 3, rgb(2)));
    expect(example(train, 2)).toEqual(chw(W, H, 3, rgb(1)));
    expect(example(train, 3)).toEqual(chw(W, H, 3, rgb(3)));
    expect(inputValues(train, [0])[W * H + 1]).toBe(Math.fround(rgb(5)(1, 0)[1] / 255));
    // JPEG (quality 100): close.
    const want = chw(W, H, 3, jpegPixels);
    const got = example(train, 4);
    const meanError = got.reduce((s, v, i) => s + Math.abs(v - want[i]), 0) / want.length;
    expect(meanError).toBeLessThan(6);
    expect(example(test, 1)).toEqual(chw(W, H, 3, rgb(6)));
    // Through the spec: class names, and datasetFiles lists every image.
    const data = await loadDatasetSpec({ kind: 'folder', dir: root });
    expect(data.classNames).toEqual(['bird', 'cat', 'dog']);
    expect(data.normalisation.mean).toHaveLength(3);
    expect(datasetFiles({ kind: 'folder', dir: root })).toHaveLength(7);
    expect(dataInputs({ kind: 'folder', dir: root })[0].option).toBe('the folder file');
  });

  it('reads grey images as 1 channel, or as colour with an image shape of 3 channels', async () => {
    const dir = folder('grey');
    for (const [rel, seed] of [['train/a/1.png', 1], ['train/b/1.png', 2], ['test/a/1.png', 3]] as const) {
      mkdirSync(join(dir, rel, '..'), { recursive: true });
      writeFileSync(join(dir, rel), png(W, H, 0, grey(seed)));
    }
    const g = await loadImageFolder(dir);
    expect(g.train.channels).toBe(1);
    expect(example(g.train, 1)).toEqual(chw(W, H, 1, grey(2)));
    const c = await loadImageFolder(dir, { imageShape: [H, W, 3] });
    expect(c.train.channels).toBe(3);
    const f = grey(2);
    expect(example(c.train, 1)).toEqual(chw(W, H, 3, (x, y) => [f(x, y)[0], f(x, y)[0], f(x, y)[0]]));
    await rejectsFormat(loadImageFolder(root, { imageShape: [H, W, 1] }), `${join(root, 'train/bird/x.png')}: channels: expected 1 (grey) (the image shape given), found 3 (colour)`);
    expect((await loadImageFolder(dir, { numClasses: 5 })).train.numClasses).toBe(5);
    await rejectsFormat(loadImageFolder(dir, { numClasses: 1 }), `${join(dir, 'train')}: numClasses: expected an integer >= 2 (the number of class folders), found 1`);
  });

  it('names the image, the folder or the class for bad inputs', async () => {
    const make = (name: string, files: Record<string, Uint8Array>) => {
      const dir = folder(name);
      for (const [rel, bytes] of Object.entries(files)) {
        mkdirSync(join(dir, rel, '..'), { recursive: true });
        writeFileSync(join(dir, rel), bytes);
      }
      return dir;
    };
    const ok = png(W, H, 2, rgb(1));
    let dir = make('mixed-size', { 'train/a/1.png': ok, 'train/a/2.png': png(W + 1, H, 2, rgb(1)), 'test/a/1.png': ok });
    await rejectsFormat(loadImageFolder(dir), `${join(dir, 'train/a/2.png')}: image size: expected 4x5 (height x width) (like ${join(dir, 'train/a/1.png')}, the first image), found 4x6`);
    dir = make('mixed-test-size', { 'train/a/1.png': ok, 'test/a/1.png': png(W, H + 1, 2, rgb(1)) });
    await rejectsFormat(loadImageFolder(dir), `${join(dir, 'test/a/1.png')}: image size: expected 4x5 (height x width) (the size of the train images`);
    dir = make('mixed-channels', { 'train/a/1.png': ok, 'train/b/1.png': png(W, H, 0, grey(1)), 'test/a/1.png': ok });
    await rejectsFormat(loadImageFolder(dir), `${join(dir, 'train/b/1.png')}: channels: expected 3 (colour)`, 'found 1 (grey)', `[${H}, ${W}, 3]`);
    dir = make('transparent', { 'train/a/1.png': png(W, H, 6, (x, y) => [1, 2, 3, x === 2 && y === 1 ? 0 : 255]), 'test/a/1.png': ok });
    await rejectsFormat(loadImageFolder(dir), `${join(dir, 'train/a/1.png')}: alpha: transparent pixels (alpha 0 at x=2, y=1)`);
    dir = make('no-test', { 'train/a/1.png': ok });
    await rejectsFormat(loadDatasetSpec({ kind: 'folder', dir }), `${join(dir, 'test')}: folder: not found`);
    await rejectsFormat(loadImageFolder(join(scratch, 'nowhere')), `${join(scratch, 'nowhere', 'train')}: folder: not found`);
    dir = make('extra-test-class', { 'train/a/1.png': ok, 'train/b/1.png': ok, 'test/zebra/1.png': ok });
    await rejectsFormat(loadImageFolder(dir), `${join(dir, 'test/zebra')}: class: "zebra" is not one of the 2 train classes (the folders of ${join(dir, 'train')}: a, b)`);
    dir = make('empty-class', { 'train/a/1.png': ok, 'test/a/1.png': ok });
    mkdirSync(join(dir, 'train/b'));
    await rejectsFormat(loadImageFolder(dir), `${join(dir, 'train/b')}: class folder: expected .png, .jpg or .jpeg images, found none`);
    dir = make('other-file', { 'train/a/1.png': ok, 'train/a/1.gif': ok, 'test/a/1.png': ok });
    await rejectsFormat(loadImageFolder(dir), `${join(dir, 'train/a/1.gif')}: file type: expected a .png, .jpg, .jpeg image`);
    dir = make('not-png', { 'train/a/1.png': new TextEncoder().encode('hello'), 'test/a/1.png': ok });
    await rejectsFormat(loadImageFolder(dir), `${join(dir, 'train/a/1.png')}: image format: expected a PNG`, 'found bytes 68 65 6c 6c 6f');
    dir = make('broken-png', { 'train/a/1.png': ok.subarray(0, 40), 'test/a/1.png': ok });
    await rejectsFormat(loadImageFolder(dir), `${join(dir, 'train/a/1.png')}: PNG: could not decode it`);
    dir = make('nested', { 'train/a/sub/1.png': ok, 'test/a/1.png': ok });
    await rejectsFormat(loadImageFolder(dir), `${join(dir, 'train/a/sub')}: folder layout: expected image files directly in the class folder`);
    dir = make('flat', { 'train/1.png': ok, 'test/a/1.png': ok });
    await rejectsFormat(loadImageFolder(dir), `${join(dir, 'train/1.png')}: folder layout: expected the images in class folders`);
  });

  it('reports the channels a file declares', () => {
    const jpg = jpeg.encode({ width: W, height: H, data: Buffer.alloc(W * H * 4, 255) }, 90).data; // jpeg-js writes 3 components
    expect(jpegFrame(jpg)).toEqual({ width: W, height: H, components: 3 });
    expect(decodeImageFile(jpg, 'c.jpg').channels).toBe(3);
    expect(decodeImageFile(png(W, H, 0, grey(1)), 'g.png').channels).toBe(1);
    expect(decodeImageFile(png(W, H, 6, rgb(1)), 'g.png').channels).toBe(4);
  });

  it('works from a plain file list with any decoder (the browser path), and the browser channel rule', async () => {
    const listing = imageFolderListing(['train/b/2.png', 'train/a/1.png', 'train/.hidden/x.png', 'test/a/1.png', 'other/x.png'], 'D');
    expect(listing.classNames).toEqual(['a', 'b']);
    expect(listing.train.map((e) => e.path)).toEqual(['D/train/a/1.png', 'D/train/b/2.png']);
    const decode = (bytes: Uint8Array): DecodedImage => ({ width: 2, height: 1, channels: 1, data: bytes });
    const { train, test } = await imageFolderDatasets(listing, (p) => new Uint8Array(p.endsWith('2.png') ? [10, 20] : [30, 40]), decode);
    expect(example(train, 0)).toEqual([30, 40]);
    expect(example(train, 1)).toEqual([10, 20]);
    expect(test.n).toBe(1);
    // fromRgba: grey when R = G = B everywhere, colour otherwise, alpha kept (to be refused) when not opaque.
    expect(fromRgba(new Uint8Array([5, 5, 5, 255, 9, 9, 9, 255]), 2, 1)).toEqual({ width: 2, height: 1, channels: 1, data: new Uint8Array([5, 9]) });
    expect(fromRgba(new Uint8Array([5, 5, 5, 255, 9, 9, 9, 255]), 2, 1, 3).channels).toBe(3);
    expect(fromRgba(new Uint8Array([5, 6, 7, 255, 9, 9, 9, 255]), 2, 1).data).toEqual(new Uint8Array([5, 6, 7, 9, 9, 9]));
    expect(fromRgba(new Uint8Array([5, 6, 7, 0, 9, 9, 9, 255]), 2, 1).channels).toBe(4);
    expectFormatError(() => imageFolderListing(['train/a/1.png'], 'D'), 'D/test: classes: expected class folders');
  });
});

// ---- Specs --------------------------------------------------------------------------------------

describe('DatasetSpec', () => {
  it('round-trips through JSON and is checked field by field', () => {
    const spec: DatasetSpec = { kind: 'csv', files: { train: 'a.csv', test: 'b.csv' }, imageShape: [28, 28], numClasses: 10, pixelRange: '0-1' };
    expect(checkDatasetSpec(JSON.parse(JSON.stringify(spec)), 'ck.safetensors')).toEqual(spec);
    expect(checkDatasetSpec({ kind: 'idx', dir: 'd', imageShape: [32, 32, 3], layout: 'chw' }, 'x').imageShape).toEqual([32, 32, 3]);
    expectFormatError(() => checkDatasetSpec({ kind: 'png' }, 'ck.safetensors'), 'ck.safetensors: dataset.kind: expected one of fashion-mnist, cifar10, cifar100, idx, csv, folder, found "png"');
    expectFormatError(() => checkDatasetSpec({ kind: 'idx', dir: 'd', numclasses: 3 }, 'ck'), 'ck: dataset.numclasses: unknown field');
    expectFormatError(() => checkDatasetSpec({ kind: 'idx', files: { trainImages: 'a' } }, 'ck'), 'ck: dataset.files.trainLabels: idx data needs dir (a folder with the four conventional files) or all four files');
    expectFormatError(() => checkDatasetSpec({ kind: 'csv', files: { train: 'a' } }, 'ck'), 'ck: dataset.files.test:');
    expectFormatError(() => checkDatasetSpec({ kind: 'folder' }, 'ck'), 'ck: dataset.dir: folder needs the folder');
    expectFormatError(() => checkDatasetSpec({ kind: 'idx', dir: 'd', imageShape: [0, 2] }, 'ck'), 'ck: dataset.imageShape: expected [height, width]');
    expectFormatError(() => checkDatasetSpec({ kind: 'idx', dir: 'd', numClasses: 0 }, 'ck'), 'ck: dataset.numClasses: expected an integer >= 1, found 0');
    expectFormatError(() => checkDatasetSpec({ kind: 'idx', dir: 'd', pixelRange: '0-1' }, 'ck'), 'ck: dataset.pixelRange: applies to csv data only');
    expect(parseImageShape('32x32x3')).toEqual([32, 32, 3]);
    expect(parseImageShape('28,28')).toEqual([28, 28]);
    expect(() => parseImageShape('28')).toThrow('imageShape 28: expected height,width');
  });

  it('resolves paths, lists every kind of input file, keeps loadDataset errors', async () => {
    const r = resolveDatasetSpec({ kind: 'idx', files: { trainImages: 'a', trainLabels: '/abs/b', testImages: 'c', testLabels: 'd' } }, '/base');
    expect(r.files).toEqual({ trainImages: '/base/a', trainLabels: '/abs/b', testImages: '/base/c', testLabels: '/base/d' });
    expect(datasetFiles({ kind: 'idx', dir: '/d' })).toContain('/d/t10k-images-idx4-ubyte.gz');
    expect(datasetFiles({ kind: 'csv', files: { train: '/x/tr.csv', test: '/x/te.csv' } })).toEqual(['/x/tr.csv', '/x/te.csv']);
    expect(datasetFiles({ kind: 'csv', dir: '/d' })).toEqual(['/d/train.csv', '/d/train.csv.gz', '/d/test.csv', '/d/test.csv.gz']);
    expect(datasetFiles('cifar10', '/c')).toHaveLength(6);
    expect(datasetFiles('nope', '/c')).toEqual([]);
    await expect(loadDataset('cifar10')).rejects.toThrow('dataset cifar10 needs dataDir');
    await expect(loadDataset('imagenet')).rejects.toThrow('unknown dataset "imagenet"');
    // Fashion-MNIST stays 28x28: an IDX folder of other images is refused from the header.
    await expect(loadDatasetSpec({ kind: 'fashion-mnist', dir: folder('idx8-gz') })).rejects.toThrow(/(train|t10k)-images-idx3-ubyte\.gz: image size: expected 28x28, found 8x8/);
    expect(listImageFolder(join(scratch, 'images')).classNames).toEqual(['bird', 'cat', 'dog']);
  });
});
