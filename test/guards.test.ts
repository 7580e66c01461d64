// A careless or hostile user's inputs end with a message naming what was wrong and where:
// divergence with an Inf running loss, non-finite values in checkpoints, --resume on other data,
// labels and shapes beyond the limits, constant images, file names with escape sequences.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { idxBytes, kdgpu, kdgpuFails } from './helpers.js';
import { testEngine } from './engine.js';
import { DivergenceCheck } from '../src/train.js';
import { createModel } from '../src/nn/models.js';
import { encodeModel } from '../src/nn/model-checkpoint.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/io/checkpoint-bytes.js';
import { loadDatasetSpec } from '../src/data/load-dataset.js';
import { csvDatasets } from '../src/data/csv.js';
import { loadIdx } from '../src/data/node-files.js';

const dir = mkdtempSync(join(tmpdir(), 'kdgpu-guards-'));
const at = (...p: string[]) => join(dir, ...p);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A CSV dataset of 4x4 grey images, 3 classes; `shift` changes its pixels (other data, the same shape). */
function csvData(name: string, shift = 0, label = (i: number) => String(i % 3)): string {
  const folder = at(name);
  mkdirSync(folder);
  const row = (i: number) => [label(i), ...Array.from({ length: 16 }, (_, p) => (i * 37 + p * 11 + shift) % 256)].join(',');
  writeFileSync(join(folder, 'train.csv'), Array.from({ length: 24 }, (_, i) => row(i)).join('\n') + '\n');
  writeFileSync(join(folder, 'test.csv'), Array.from({ length: 6 }, (_, i) => String(i % 3) + row(i + 100).slice(1)).join('\n') + '\n');
  return folder;
}

const TINY = ['--model', 'student-cnn', '--dataset', 'csv', '--batch', '8', '--no-progress'];
const RUN = () => at('run.safetensors'); // 1 epoch of train on csv/

beforeAll(async () => {
  csvData('csv');
  csvData('other', 1);
  await kdgpu(['train', ...TINY, '--data-dir', at('csv'), '--epochs', '1', '--out', RUN()]);
}, 300_000);

describe('nothing non-finite is saved or used', () => {
  it('an Inf or NaN running loss is a divergence, even with --no-divergence-check', () => {
    expect(() => new DivergenceCheck(10).observe(Infinity, 4)).toThrow(/^numerical fault at step 4: the running loss \(Infinity\) is not finite: the run diverged/);
    expect(() => new DivergenceCheck(10, false).observe(NaN, 7)).toThrow(/numerical fault at step 7: the running loss \(NaN\) is not finite/);
  });

  it('AdamW at --lr 1e6 stops with the step named and writes no checkpoint', async () => {
    const out = at('adamw.safetensors');
    const r = await kdgpuFails(['train', '--model', 'student-cnn', '--epochs', '1', '--train-subset', '500', '--test-subset', '200', '--optimizer', 'adamw', '--lr', '1e6', '--no-progress', '--out', out]);
    expect(r.out).toMatch(/numerical fault at step \d+: .*; training stopped\. No checkpoint had been written/);
    expect(existsSync(out)).toBe(false);
  });

  it('a checkpoint with a non-finite optimizer value is never written, and is refused by eval and export', async () => {
    const engine = await testEngine();
    const model = createModel(engine, 'student-cnn', { channels: 1, height: 4, width: 4, classes: 3 }, 1);
    const config = { model: 'student-cnn', input: model.input, dataset: 'csv', normalisation: { mean: [0.5], std: [0.3] }, seed: 1 };
    const floats = model.store.count();
    const v = new Float32Array(floats);
    v[5] = Infinity;
    const state = { epoch: 1, best: 0.5, last: 0.5, optimizer: { m: new Float32Array(floats), v, step: 4 } };
    await expect(encodeModel(model, config, state)).rejects.toThrow(/not saving a checkpoint with tensor "train_state\/optimizer\.v" element 5 = Infinity: the run diverged/);
    // One written by other means: finite weights, Inf in the optimizer state.
    const weights = await model.store.read();
    model.store.destroy();
    const tensors = new Map([...weights, ['train_state/optimizer.m', { shape: [floats], data: state.optimizer.m }], ['train_state/optimizer.v', { shape: [floats], data: v }]]);
    const path = at('inf-state.safetensors');
    writeFileSync(path, encodeCheckpoint({ model: 'student-cnn', config, tensors, extraMetadata: { train_state: JSON.stringify({ epoch: 1, best: 0.5, last: 0.5, step: 4 }) } }));
    const refused = new RegExp(`${escape(path)}: tensor "train_state/optimizer\\.v" element 5: expected a finite training-state value, found Infinity`);
    expect((await kdgpuFails(['eval', '--checkpoint', path, '--dataset', 'csv', '--data-dir', at('csv')])).out).toMatch(refused);
    expect((await kdgpuFails(['export', '--checkpoint', path, '--out', at('inf-state.onnx')])).out).toMatch(refused);
    expect(existsSync(at('inf-state.onnx'))).toBe(false);
  });

  it('a fault at a huge temperature names --T, not only --lr', async () => {
    // T² = 1e40 is beyond float32 (3.4e38): the KD term is not finite at the first step, whatever the data.
    const r = await kdgpuFails(['distill', '--teacher', RUN(), '--method', 'kd', '--T', '1e20', '--epochs', '1', '--batch', '8', '--val-split', '0', '--no-progress']);
    expect(r.out).toMatch(/numerical fault at step \d+: .*training stopped\. At --T 100000000000000000000 the KD term is scaled by T² = 1\.00e\+40.*lower --T/);
  });
});

describe('--resume continues the same run on the same data only', () => {
  it('other data, or none named (the default dataset), is refused naming both', async () => {
    const other = await kdgpuFails(['train', ...TINY, '--data-dir', at('other'), '--epochs', '1', '--out', RUN(), '--resume']);
    expect(other.out).toMatch(new RegExp(`${escape(RUN())}: was trained on csv \\(${escape(at('csv'))}\\) \\(training set sha256 [0-9a-f]{16}…\\), this run's data is csv \\(${escape(at('other'))}\\)`));
    const none = await kdgpuFails(['train', '--model', 'student-cnn', '--batch', '8', '--no-progress', '--epochs', '1', '--out', RUN(), '--resume']);
    expect(none.out).toMatch(/was trained on csv \(\S+\) .*, this run's data is fashion-mnist/);
  });

  it('a training state beyond --epochs is refused', async () => {
    const ck = decodeCheckpoint(new Uint8Array(readFileSync(RUN())), RUN());
    const stateMeta = JSON.parse(ck.metadata.train_state) as { epoch: number };
    const edited = at('edited.safetensors');
    writeFileSync(edited, encodeCheckpoint({ model: ck.model, config: ck.config, tensors: ck.tensors, extraMetadata: { format: ck.metadata.format, train_state: JSON.stringify({ ...stateMeta, epoch: 7 }) } }));
    expect((await kdgpuFails(['train', ...TINY, '--data-dir', at('csv'), '--epochs', '1', '--out', edited, '--resume'])).out).toMatch(
      /edited\.safetensors: __metadata__\.train_state\.epoch records 7 epochs done, more than the run's --epochs 1/,
    );
  });
});

describe('classes and shapes are bounded where they are read', () => {
  for (const label of ['20000', '1e6', '4294967295']) {
    it(`a CSV label of ${label}: the file, the line and the limit`, async () => {
      const folder = csvData(`label-${label}`, 0, (i) => (i === 5 ? label : String(i % 3)));
      await expect(loadDatasetSpec({ kind: 'csv', dir: folder })).rejects.toThrow(
        new RegExp(`${escape(join(folder, 'train.csv'))}: line 6: column 1 \\(the label\\): ${escape(label)} is not a class in \\[0, 10000\\): at most 10000 classes, the most a kdgpu checkpoint holds`),
      );
    });
  }

  it('--num-classes and --image-shape beyond the limits, by option, before anything runs', async () => {
    expect((await kdgpuFails(['train', ...TINY, '--data-dir', at('csv'), '--num-classes', '4000000000'])).out).toMatch(/--num-classes 4000000000: 4000000000 classes is more than 10000, the most a kdgpu checkpoint holds/);
    expect((await kdgpuFails(['train', ...TINY, '--data-dir', at('csv'), '--image-shape', '100000,100000'])).out).toMatch(/--image-shape 100000,100000: height 100000 is above 256, the most a kdgpu checkpoint holds/);
  });

  it("a CSV file's rows are counted before its floats are allocated", () => {
    // 5,000 rows of 2 fields read as 256x256x16 images would ask for 5,000 x 4 MiB.
    const text = Array.from({ length: 5000 }, () => '1,2').join('\n');
    expect(() => csvDatasets({ text, fileName: 'short.csv' }, { text, fileName: 'short-test.csv' }, { imageShape: [256, 256, 16] })).toThrow(
      /short\.csv: line 1: expected 1048577 columns \(a label and 256x256x16 = 1048576 pixel values\), found 2/,
    );
  });

  it('an IDX header announcing images beyond the limits', async () => {
    const folder = at('idx-big');
    mkdirSync(folder);
    const files = { trainImages: join(folder, 'a'), trainLabels: join(folder, 'b'), testImages: join(folder, 'c'), testLabels: join(folder, 'd') };
    writeFileSync(files.trainImages, idxBytes(0x803, [1, 1000, 300], new Uint8Array(300_000)));
    writeFileSync(files.trainLabels, idxBytes(0x801, [1], [0]));
    writeFileSync(files.testImages, idxBytes(0x803, [1, 1000, 300], new Uint8Array(300_000)));
    writeFileSync(files.testLabels, idxBytes(0x801, [1], [0]));
    await expect(loadIdx(files)).rejects.toThrow(new RegExp(`${escape(files.trainImages)}: dimensions: 1x1000x300: height 1000 is above 256`));
  });
});

describe('smaller things', () => {
  it('constant training images are refused naming the file, an IDX file before its floats exist', async () => {
    const folder = at('constant');
    mkdirSync(folder);
    const n = 2000;
    const files = { trainImages: join(folder, 'train-images.gz'), trainLabels: join(folder, 'l1'), testImages: join(folder, 'test-images'), testLabels: join(folder, 'l2') };
    writeFileSync(files.trainImages, gzipSync(idxBytes(0x803, [n, 28, 28], new Uint8Array(n * 784).fill(7))));
    writeFileSync(files.trainLabels, idxBytes(0x801, [n], Array.from({ length: n }, (_, i) => i % 10)));
    writeFileSync(files.testImages, idxBytes(0x803, [1, 28, 28], new Uint8Array(784)));
    writeFileSync(files.testLabels, idxBytes(0x801, [1], [0]));
    await expect(loadIdx(files)).rejects.toThrow(new RegExp(`^${escape(files.trainImages)}: channel 0: every pixel of every image is 7: constant training images have no spread \\(std 0\\)`));
    // CSV: refused naming the data's folder.
    const csv = csvData('constant-csv');
    writeFileSync(join(csv, 'train.csv'), Array.from({ length: 6 }, (_, i) => `${i % 3},${Array(16).fill(9).join(',')}`).join('\n'));
    await expect(loadDatasetSpec({ kind: 'csv', dir: csv })).rejects.toThrow(new RegExp(`csv data \\(${escape(csv)}\\): channel 0 of the training images is constant \\(every pixel 9/255\\)`));
  });

  it('terminal escape sequences in a file name are printed escaped', async () => {
    const r = await kdgpuFails(['eval', '--checkpoint', at('\x1b[2J\x1b]0;title\x07.safetensors')]);
    expect(r.out).toContain('\\x1b[2J\\x1b]0;title\\x07.safetensors');
    expect(r.out).not.toMatch(/\x1b|\x07/);
  });

  it('--val-split says the same range when parsing as at run time; "(0, Infinity]" is not printed for a range that refuses Infinity', async () => {
    expect((await kdgpuFails(['distill', '--teacher', 'x', '--val-split', '-1'])).out).toMatch(/--val-split must be an integer >= 0, got "-1"/);
    for (const T of ['0', 'Infinity']) expect((await kdgpuFails(['distill', '--teacher', 'x', '--T', T])).out).toMatch(new RegExp(`--T must be a finite number > 0, got "${T}"`));
  });
});
