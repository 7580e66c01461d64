// Your own data from the command line: small synthetic datasets of other shapes in every format
// (8×8×1 IDX with 3 classes, 32×32×3 IDX with 20 classes, a CSV, a folder of PNG files), each
// trained, evaluated on the data its checkpoint records, and distilled (kd+lr+ds, default
// validation split); a teacher of another shape or class count is refused, naming both.
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { idxBytes, kdgpu, kdgpuFails } from './helpers.js';
import { gzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { Rng } from '../src/util/rng.js';

const cli = async (args: string[]) => (await kdgpu(args)).stdout;
const fails = async (args: string[]) => (await kdgpuFails(args)).out;
const root = mkdtempSync(join(tmpdir(), 'kdgpu-own-data-'));
const quick = ['--epochs', '2', '--batch', '32', '--no-progress', '--lr', '0.02'];

/** n images of h×w×c (HWC bytes) whose class is a bright horizontal band: learnable in a few steps. */
function bands(n: number, h: number, w: number, c: number, classes: number, seed: number): { pixels: Uint8Array; labels: number[] } {
  const rng = new Rng(seed);
  const pixels = new Uint8Array(n * h * w * c);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const y = rng.int(classes);
    labels.push(y);
    for (let r = 0; r < h; r++) {
      const on = Math.floor((r * classes) / h) === y;
      for (let q = 0; q < w * c; q++) pixels[(i * h + r) * w * c + q] = Math.min(255, (on ? 200 : 30) + rng.int(40));
    }
  }
  return { pixels, labels };
}

function writeIdxDir(dir: string, h: number, w: number, c: number, classes: number): void {
  mkdirSync(dir, { recursive: true });
  for (const [split, n, seed] of [['train', 300, 1], ['t10k', 120, 2]] as const) {
    const { pixels, labels } = bands(n, h, w, c, classes, seed);
    const dims = c === 1 ? [n, h, w] : [n, h, w, c];
    writeFileSync(join(dir, `${split}-images-idx${dims.length}-ubyte.gz`), gzipSync(idxBytes(0x800 + dims.length, dims, pixels)));
    writeFileSync(join(dir, `${split}-labels-idx1-ubyte`), idxBytes(0x801, [n], labels));
  }
}

function writeCsv(file: string, n: number, seed: number): void {
  const { pixels, labels } = bands(n, 6, 6, 1, 4, seed);
  const rows = labels.map((y, i) => [y, ...pixels.subarray(i * 36, (i + 1) * 36)].join(','));
  writeFileSync(file, ['label,' + Array.from({ length: 36 }, (_, k) => `p${k}`).join(','), ...rows].join('\n') + '\n');
}

function writePngFolder(dir: string): void {
  for (const [split, n, seed] of [['train', 120, 1], ['test', 60, 2]] as const) {
    const { pixels, labels } = bands(n, 10, 10, 3, 3, seed);
    labels.forEach((y, i) => {
      const folder = join(dir, split, ['cats', 'dogs', 'owls'][y]);
      mkdirSync(folder, { recursive: true });
      const png = new PNG({ width: 10, height: 10, colorType: 2 });
      for (let p = 0; p < 100; p++) {
        for (let k = 0; k < 3; k++) png.data[p * 4 + k] = pixels[(i * 100 + p) * 3 + k];
        png.data[p * 4 + 3] = 255;
      }
      writeFileSync(join(folder, `${i}.png`), PNG.sync.write(png, { colorType: 2 }));
    });
  }
}

/** train → eval (the checkpoint's own data) → distill kd+lr+ds into student-cnn; returns the outputs. */
async function roundTrip(name: string, data: string[], expectShape: RegExp) {
  const teacher = join(root, `${name}-teacher.safetensors`);
  const trained = await cli(['train', '--model', 'teacher-cnn', ...data, ...quick, '--optimizer', 'adam', '--lr', '0.002', '--out', teacher]);
  expect(trained).toMatch(expectShape);
  const evaluated = await cli(['eval', '--checkpoint', teacher]);
  const acc = Number(/accuracy ([\d.]+)%/.exec(evaluated)![1]);
  const distilled = await cli(['distill', '--teacher', teacher, '--method', 'kd+lr+ds', ...quick, '--out', join(root, `${name}-student.safetensors`)]);
  return { trained, evaluated, acc, distilled, teacher };
}

describe('your own data, from the command line', () => {
  it('8×8 grey IDX with 3 classes: trained, evaluated on its recorded data, distilled', async () => {
    const dir = join(root, 'idx8');
    writeIdxDir(dir, 8, 8, 1, 3);
    const r = await roundTrip('idx8', ['--dataset', 'idx', '--data-dir', dir], /1x8x8, 3 classes, 300 examples/);
    expect(r.evaluated).toMatch(new RegExp(`on idx \\(${dir}\\) test`));
    expect(r.acc).toBeGreaterThan(60); // chance is 33%
    expect(r.distilled).toMatch(/kd\+lr\+ds: last/);
    expect(r.distilled).toMatch(/\|Dt\| \d+\/270/); // the default validation split: 10% of 300
  });

  it('32×32 colour IDX with 20 classes; a teacher of another shape or class count is refused by name', async () => {
    const dir = join(root, 'idx32');
    writeIdxDir(dir, 32, 32, 3, 20);
    await cli(['train', '--model', 'student-cnn', '--dataset', 'idx', '--data-dir', dir, '--epochs', '1', '--batch', '32', '--no-progress', '--out', join(root, 'idx32.safetensors')]);
    const evaluated = await cli(['eval', '--checkpoint', join(root, 'idx32.safetensors')]);
    expect(evaluated).toMatch(/student-cnn on idx/);
    // Distilled from that model (its data by default), with the default validation split (30 of 300).
    const distilled = await cli(['distill', '--teacher', join(root, 'idx32.safetensors'), '--method', 'kd+lr+ds', ...quick]);
    expect(distilled).toMatch(/kept % per class \(0\.\.19\)/);
    expect(distilled).toMatch(/kd\+lr\+ds: last/);
    // The committed Fashion-MNIST teacher against these images.
    expect(await fails(['distill', '--teacher', 'models/teacher-cnn.safetensors', '--dataset', 'idx', '--data-dir', dir, ...quick])).toMatch(
      /the teacher models\/teacher-cnn\.safetensors \(teacher-cnn\) takes 1x28x28, 10 classes; the data, idx \(.*idx32\), is 3x32x32, 20 classes/,
    );
  });

  it('a CSV with a header (6×6 inferred as a square) and --num-classes', async () => {
    writeCsv(join(root, 'train.csv'), 300, 3);
    writeCsv(join(root, 'test.csv'), 100, 4);
    const r = await roundTrip('csv', ['--train-csv', join(root, 'train.csv'), '--test-csv', join(root, 'test.csv'), '--num-classes', '5'], /1x6x6, 5 classes, 300 examples/);
    expect(r.evaluated).toMatch(/on csv/);
    expect(r.acc).toBeGreaterThan(50);
    expect(await fails(['train', '--model', 'student-cnn', '--train-csv', join(root, 'train.csv'), '--test-csv', join(root, 'test.csv'), '--num-classes', '2', ...quick])).toMatch(/train\.csv: line \d+: .*label/);
  });

  it('a CSV with the label last: refused as one class, read with --label-column last, recorded for eval', async () => {
    const labelLast = (file: string, n: number, seed: number) => {
      const { pixels, labels } = bands(n, 6, 6, 1, 4, seed);
      for (let i = 0; i < n; i++) pixels[i * 36] = 0; // a blank corner, as in digit images: column 1 holds one value
      writeFileSync(file, labels.map((y, i) => [...pixels.subarray(i * 36, (i + 1) * 36), y].join(',')).join('\n') + '\n');
    };
    const [train, test] = [join(root, 'last-train.csv'), join(root, 'last-test.csv')];
    labelLast(train, 200, 5);
    labelLast(test, 60, 6);
    const data = ['--train-csv', train, '--test-csv', test];
    const refused = await fails(['train', '--model', 'student-cnn', ...data, ...quick]);
    expect(refused).toContain(`${train}: labels: expected at least 2 classes to tell apart, found 1 (200 examples, every one labelled 0), read from column 1: is the label in the last column (--label-column last)?`);
    expect(refused).not.toMatch(/\n\s+at /);
    const out = join(root, 'last.safetensors');
    expect(await cli(['train', '--model', 'student-cnn', ...data, '--label-column', 'last', ...quick, '--out', out])).toMatch(/1x6x6, 4 classes, 200 examples/);
    expect(await cli(['eval', '--checkpoint', out])).toMatch(/on csv .* accuracy/);
  });

  it('a folder of PNG files, class names from the folders', async () => {
    const dir = join(root, 'pngs');
    writePngFolder(dir);
    const r = await roundTrip('folder', ['--dataset', 'folder', '--data-dir', dir], /3x10x10, 3 classes, 120 examples/);
    expect(r.acc).toBeGreaterThan(50);
    expect(r.distilled).toMatch(/kd\+lr\+ds: last/);
  });
});
