// Interop (docs/interop.md): every model kdgpu trains exported to ONNX and run by onnxruntime-node
// gives kdgpu's logits (max |Δ| ≤ 1e-4) and test accuracy; the committed teacher exported to ONNX
// and used as `--teacher model.onnx` gives the teacher logits kdgpu's own forward gives; logits
// files (safetensors, .npy, float32, float16) are accepted, and refused with the file and what
// was expected when N, C, the dtype or the order is wrong.
//
// Data: a slice of Fashion-MNIST (1,200 training and 300 test images) written as IDX files, so
// that logits files are small and every run is quick. Nothing here depends on machine speed.

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { distillCli, kdgpu, kdgpuFails, writeFashionSlice } from './helpers.js';
import { testEngine } from './engine.js';
import { loadDatasetSpec, type LoadedData } from '../src/data/load-dataset.js';
import { runDistill } from '../src/cli/distill.js';
import { splitRows } from '../src/kd/distill.js';
import { TeacherCache } from '../src/kd/teacher-cache.js';
import { loadWeights } from '../src/nn/model-file.js';
import { createModel, defineModel, type Model } from '../src/nn/models.js';
import { Conv2d, Flatten, Linear, Module, ReLU, Sequential } from '../src/nn/layers.js';
import { evaluate } from '../src/train.js';
import { inputValues, normalize, type Dataset } from '../src/data/dataset.js';
import { allIndices } from '../src/data/batches.js';
import type { Graph, Tensor } from '../src/tensor.js';
import { encodeSafetensors, type SafeTensor } from '../src/io/safetensors.js';
import { decodeOnnxModel } from '../src/interop/onnx-proto.js';
import { onnxFromModel } from '../src/interop/onnx-export.js';
import { floatToHalf, readLogitsFile } from '../src/interop/logits-file.js';
import { Rng } from '../src/util/rng.js';

const TEACHER = 'models/teacher-cnn.safetensors';
const TRAIN_N = 1200;
const TEST_N = 300;
const dir = mkdtempSync(join(tmpdir(), 'kdgpu-interop-'));
const dataDir = join(dir, 'fashion-slice');
const data = ['--dataset', 'idx', '--data-dir', dataDir];
const quick = ['--epochs', '1', '--batch', '64', '--val-split', '200', '--no-progress', '--method', 'kd'];

const fails = async (args: string[]) => (await kdgpuFails(args)).out;

/** max |a − b| over the rows `rows` (default all) of two row-major [n, C] matrices. */
function maxDiff(a: Float32Array, b: Float32Array, C: number, rows?: ArrayLike<number>): number {
  let m = 0;
  const n = rows ? rows.length : a.length / C;
  for (let i = 0; i < n; i++) {
    const k = rows ? rows[i] : i;
    for (let c = 0; c < C; c++) m = Math.max(m, Math.abs(a[k * C + c] - b[k * C + c]));
  }
  return m;
}

function correct(logits: Float32Array, C: number, labels: ArrayLike<number>): number {
  let ok = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (logits[i * C + c] > logits[i * C + best]) best = c;
    if (best === labels[i]) ok++;
  }
  return ok;
}

/** kdgpu's eval-mode logits of `model` for every sample of `ds` (the teacher cache's batched forward). */
async function kdgpuLogits(model: Model, ds: Dataset): Promise<Float32Array> {
  const cache = new TeacherCache(model.store.engine);
  try {
    const t = cache.get(model, 'parity', ds);
    return await model.store.engine.readF32(t.logits, ds.n * model.input.classes);
  } finally {
    cache.clear();
  }
}

/** onnxruntime-node's logits for `images` ([n, C, H, W] floats). */
async function ortLogits(onnx: Uint8Array, images: Float32Array, shape: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(onnx);
  try {
    const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', images, shape) });
    return out[session.outputNames[0]].data as Float32Array;
  } finally {
    await session.release();
  }
}

/** The slice's raw images ([0, 1]) and its normalised copy for a checkpoint's normalisation. */
const raw = (): Promise<LoadedData> => loadDatasetSpec({ kind: 'idx', dir: dataDir }, { mean: [0], std: [1] });

function safetensorsLogits(tensors: Record<string, SafeTensor>): Buffer {
  return Buffer.from(encodeSafetensors(tensors));
}

/** A .npy file (version 1) of a [rows, cols] matrix: descr '<f4', '<f2', '<f8'… with its bytes. */
function npy(descr: string, shape: number[], bytes: Uint8Array): Buffer {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(bytes)]);
}

const f32 = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** The teacher's logits on the slice (kdgpu's forward), train and test. */
let teacherLogits: { train: Float32Array; test: Float32Array; trainLabels: Uint32Array; testLabels: Uint32Array };

beforeAll(async () => {
  await writeFashionSlice(dataDir, TRAIN_N, TEST_N);
  const engine = await testEngine();
  const teacher = await loadWeights(engine, TEACHER);
  try {
    const d = await loadDatasetSpec({ kind: 'idx', dir: dataDir }, teacher.config.normalisation);
    teacherLogits = { train: await kdgpuLogits(teacher.model, d.train), test: await kdgpuLogits(teacher.model, d.test), trainLabels: d.train.labels, testLabels: d.test.labels };
  } finally {
    teacher.model.store.destroy();
  }
}, 300_000);

describe('ONNX export', () => {
  it('every built-in model, exported, gives kdgpu\'s logits under onnxruntime (batch norm statistics, residual blocks, biasless convs)', async () => {
    const engine = await testEngine();
    const d = await raw();
    const norm = { mean: [0.3], std: [0.4] };
    const n = 8;
    const images = inputValues(d.test, allIndices(n)); // pixels in [0, 1]: d's normalisation is mean 0, std 1
    const { normalisation: _, ...pixels } = d.test;
    const normalised: Dataset = normalize({ ...pixels, n, images: d.test.images.slice(0, n * 784), labels: d.test.labels.slice(0, n), name: 'parity' }, 0.3, 0.4);
    for (const name of ['student-cnn', 'teacher-cnn', 'resnet20', 'resnet8x4']) {
      const model = createModel(engine, name, { channels: 1, height: 28, width: 28, classes: 10 }, 3);
      try {
        // Batch norm's running statistics away from 0 and 1, so that they matter.
        const rng = new Rng(5);
        const values = await model.store.read();
        const stat = (k: string, v: Float32Array) => (k.endsWith('running_var') ? v.map(() => 1 + rng.next()) : k.endsWith('running_mean') ? v.map(() => 0.2 * (rng.next() - 0.5)) : v);
        const weights = new Map([...values].map(([k, v]) => [k, stat(k, v.data)]));
        model.store.write(weights);
        const expected = await kdgpuLogits(model, normalised);
        const { bytes, summary } = await onnxFromModel(model, { normalisation: norm });
        const got = await ortLogits(bytes, images, [n, 1, 28, 28]);
        const delta = maxDiff(expected, got, 10);
        console.log(`${name}: ONNX (${summary.operators.join(', ')}) vs kdgpu logits, max |Δ| ${delta.toExponential(2)} (logits up to ${Math.max(...expected.map(Math.abs)).toFixed(2)})`);
        expect(delta).toBeLessThanOrEqual(1e-4);
        if (name.startsWith('resnet')) expect(summary.operators).toEqual(expect.arrayContaining(['Add', 'BatchNormalization', 'GlobalAveragePool']));
      } finally {
        model.store.destroy();
      }
    }
  }, 600_000);

  it('refuses a layer it cannot export, naming it', async () => {
    class Square extends Module {
      forward(_g: Graph, x: Tensor): Tensor {
        return x;
      }
    }
    const engine = await testEngine();
    const model = defineModel(engine, 'mine', { channels: 1, height: 4, width: 4, classes: 2 }, 1, (store, rng) => ({
      body: new Sequential(new Conv2d(store, 'c', rng, 1, 2, 3, { padding: 1 }), new ReLU(), new Square(), new Flatten()),
      head: new Linear(store, 'fc', rng, 32, 2),
    }));
    try {
      await expect(onnxFromModel(model)).rejects.toThrow(/layer model\[0\]\[2\] is a Square, which kdgpu cannot export \(it exports Conv2d, Linear/);
    } finally {
      model.store.destroy();
    }
  });

  it('`kdgpu export`: a distilled student gives kdgpu\'s logits and test accuracy under onnxruntime, with and without the normalisation in the graph', async () => {
    const student = join(dir, 'student.safetensors');
    await kdgpu(['distill', '--teacher', TEACHER, ...data, ...quick, '--out', student]);
    const onnx = join(dir, 'student.onnx');
    const line = (await kdgpu(['export', '--checkpoint', student, '--out', onnx])).stdout;
    expect(line).toMatch(/exported student-cnn .* ONNX opset 13, input "input" \[batch, 1, 28, 28\] float32 NCHW, pixels in \[0, 1\]/);
    // Never over an existing file without --overwrite; --json [file] as elsewhere.
    expect(await fails(['export', '--checkpoint', student, '--out', onnx])).toMatch(/--out .*student\.onnx already exists: pass --overwrite to replace it/);
    expect(await fails(['export', '--checkpoint', student, '--out', student, '--overwrite'])).toMatch(/--out .* is the same file as --checkpoint/);
    const plain = join(dir, 'student-normalised.onnx');
    const summary = JSON.parse((await kdgpu(['export', '--checkpoint', student, '--out', plain, '--no-normalisation', '--json'])).stdout);
    expect(summary).toMatchObject({ model: 'student-cnn', opset: 13, input: { range: 'normalised' }, output: { name: 'logits', shape: ['batch', 10] } });

    const engine = await testEngine();
    const s = await loadWeights(engine, student);
    try {
      const d = await loadDatasetSpec({ kind: 'idx', dir: dataDir }, s.config.normalisation);
      const expected = await kdgpuLogits(s.model, d.test);
      const accuracy = (await evaluate(s.model, d.test)).accuracy;
      const r = await raw();
      const shape = [TEST_N, 1, 28, 28];
      const got = await ortLogits(readFileSync(onnx), inputValues(r.test, allIndices(TEST_N)), shape);
      const gotPlain = await ortLogits(readFileSync(plain), inputValues(d.test, allIndices(TEST_N)), shape);
      const [delta, deltaPlain] = [maxDiff(expected, got, 10), maxDiff(expected, gotPlain, 10)];
      console.log(`student-cnn (${TEST_N} test images): ONNX vs kdgpu max |Δ| ${delta.toExponential(2)} (normalisation in the graph), ${deltaPlain.toExponential(2)} (without); test accuracy kdgpu ${(100 * accuracy).toFixed(2)}%, onnxruntime ${((100 * correct(got, 10, d.test.labels)) / TEST_N).toFixed(2)}%`);
      expect(delta).toBeLessThanOrEqual(1e-4);
      expect(deltaPlain).toBeLessThanOrEqual(1e-4);
      expect(correct(got, 10, d.test.labels) / TEST_N).toBe(accuracy);
      expect(correct(gotPlain, 10, d.test.labels) / TEST_N).toBe(accuracy);

      // The metadata documents the input and the normalisation (docs/interop.md).
      const m = decodeOnnxModel(readFileSync(onnx), onnx);
      const meta = Object.fromEntries((m.metadata_props ?? []).map((p) => [p.key, p.value]));
      expect(m.opset_import.map((o) => [o.domain ?? '', o.version])).toEqual([['', 13]]);
      expect(JSON.parse(meta['kdgpu.normalisation'])).toEqual({ ...s.config.normalisation, in_graph: true });
      expect(JSON.parse(meta['kdgpu.input'])).toMatchObject({ layout: 'NCHW', shape: [1, 28, 28], range: '[0, 1]' });
      expect(meta['kdgpu.model']).toBe('student-cnn');
      expect(m.graph.node.map((n) => n.op_type).slice(0, 3)).toEqual(['Sub', 'Div', 'Conv']);
    } finally {
      s.model.store.destroy();
    }
  }, 600_000);
});

describe('an ONNX teacher', () => {
  it('the committed teacher, exported and used as --teacher model.onnx, gives the logits kdgpu\'s forward gives', async () => {
    const onnx = join(dir, 'teacher.onnx');
    await kdgpu(['export', '--checkpoint', TEACHER, '--out', onnx]);
    const engine = await testEngine();
    const cache = new TeacherCache(engine);
    const lines: string[] = [];
    await runDistill(engine, distillCli({ teacher: onnx, dataset: 'idx', dataDir, trainSubset: 512, valSplit: 200 }), (s) => lines.push(s), cache);
    const { trainIdx } = splitRows(TRAIN_N, { valSplit: 200, trainSubset: 512, seed: 1 });
    const [entry] = cache.list();
    const fromOnnx = await engine.readF32(entry.logits, TRAIN_N * 10);
    cache.clear();
    const delta = maxDiff(teacherLogits.train, fromOnnx, 10, trainIdx);
    console.log(`teacher-cnn → ONNX → --teacher model.onnx: cached logits vs kdgpu's forward on ${trainIdx.length} training rows, max |Δ| ${delta.toExponential(2)}\n  ${lines[1]}`);
    expect(delta).toBeLessThanOrEqual(1e-4);
    // The run reports the teacher's test accuracy, which is kdgpu's.
    const testAcc = (100 * correct(teacherLogits.test, 10, teacherLogits.testLabels)) / TEST_N;
    expect(lines.join('\n')).toMatch(new RegExp(`distilling the ONNX model .*teacher\\.onnx \\(input "input" \\[batch, 1, 28, 28\\] fed NCHW.*test ${testAcc.toFixed(2)}%`));
  }, 600_000);

  it('refuses an input shape that does not fit the data, and an input fed so that it scores at chance', async () => {
    const onnx = join(dir, 'teacher.onnx'); // from the test above
    if (!existsSync(onnx)) await kdgpu(['export', '--checkpoint', TEACHER, '--out', onnx]);
    expect(await fails(['distill', '--teacher', onnx, ...data, ...quick, '--onnx-layout', 'nhwc'])).toMatch(/teacher\.onnx: input "input" is declared \[batch, 1, 28, 28\]; the data's images are 1×28×28 .* fed as \[batch, 28, 28, 1\] with --onnx-layout nhwc; it fits --onnx-layout nchw/);
    // Images shifted far from what the teacher was trained on: it answers one class whatever the image.
    expect(await fails(['distill', '--teacher', onnx, ...data, ...quick, '--onnx-mean', '20'])).toMatch(
      /the ONNX teacher's predictions agree with the training labels on [\d.]+% of the 1000 training rows, where the same predictions in a random order would agree on [\d.]+% .*check how it expects its input: --onnx-layout \(nchw\), --onnx-input-range \(1\), --onnx-mean \(20\)/,
    );
    expect(await fails(['distill', '--teacher', TEACHER, '--onnx-layout', 'nhwc'])).toMatch(/--onnx-layout applies to an ONNX teacher \(--teacher model\.onnx\)/);
    expect(await fails(['distill', '--teacher', onnx, ...data, '--augment'])).toMatch(/--augment needs a teacher that kdgpu runs/);
  }, 300_000);
});

describe('teacher logits files', () => {
  const file = (name: string, bytes: Buffer) => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  const logits = (rows: number, cols: number, from = teacherLogits.train) => Float32Array.from({ length: rows * cols }, (_, i) => from[Math.floor(i / cols) * 10 + (i % cols)] ?? 0);

  it('a .npy float16 file is accepted, with its test logits, and the run reports the teacher\'s accuracies', async () => {
    const train = file('logits-f16.npy', npy('<f2', [TRAIN_N, 10], floatToHalf(teacherLogits.train)));
    const test = file('test-logits.npy', npy('<f4', [TEST_N, 10], f32(teacherLogits.test)));
    const read = readLogitsFile(readFileSync(train), train);
    expect(read.logits).toMatchObject({ rows: TRAIN_N, classes: 10, dtype: 'F16' });
    expect(maxDiff(read.logits.data, teacherLogits.train, 10)).toBeLessThan(1e-2); // float16's rounding
    const out = join(dir, 'from-logits.safetensors');
    const metrics = join(dir, 'from-logits.jsonl');
    const { stdout } = await kdgpu(['distill', '--teacher-logits', train, '--teacher-test-logits', test, ...data, ...quick, '--out', out, '--metrics', metrics]);
    const trainAcc = (100 * correct(read.logits.data, 10, teacherLogits.trainLabels)) / TRAIN_N;
    const testAcc = (100 * correct(teacherLogits.test, 10, teacherLogits.testLabels)) / TEST_N;
    expect(stdout).toMatch(new RegExp(`distilling the logits in .*logits-f16\\.npy \\(1200×10 float16, train accuracy ${trainAcc.toFixed(2)}%, test ${testAcc.toFixed(2)}%\\) into student-cnn with kd`));
    expect(stdout).toMatch(/^epoch 1: test [\d.]+%/m);
    expect(existsSync(out)).toBe(true);
  }, 300_000);

  it('safetensors with "logits" and "test_logits" (float32) is accepted', async () => {
    const path = file('logits.safetensors', safetensorsLogits({ logits: { dtype: 'F32', shape: [TRAIN_N, 10], data: teacherLogits.train }, test_logits: { dtype: 'F32', shape: [TEST_N, 10], data: teacherLogits.test } }));
    const { stdout } = await kdgpu(['distill', '--teacher-logits', path, ...data, ...quick, '--test-subset', '100']);
    expect(stdout).toMatch(/distilling the logits in .*logits\.safetensors \(1200×10 float32, train accuracy [\d.]+%, test [\d.]+%\)/);
  }, 300_000);

  it('refuses wrong N, C, dtype or order, naming the file and what was expected, before anything is written', async () => {
    const run = (path: string, extra: string[] = []) => fails(['distill', '--teacher-logits', path, ...data, ...quick, ...extra]);
    const out = join(dir, 'never.safetensors');
    const metrics = join(dir, 'never.jsonl');

    const shortN = file('short.safetensors', safetensorsLogits({ logits: { dtype: 'F32', shape: [TRAIN_N - 1, 10], data: logits(TRAIN_N - 1, 10) } }));
    expect(await run(shortN, ['--out', out, '--metrics', metrics])).toMatch(
      /short\.safetensors tensor "logits": \[1199, 10\] has 1199 rows, the training set, idx \(.*\), has 1200 samples: expected \[1200, 10\], one row per training sample in the training set's order/,
    );
    expect(existsSync(out) || existsSync(metrics)).toBe(false);

    const nineC = file('nine.npy', npy('<f4', [TRAIN_N, 9], f32(logits(TRAIN_N, 9))));
    expect(await run(nineC)).toMatch(/nine\.npy \(npy\): \[1200, 9\] has 9 logits per row, the training set, idx \(.*\), has 10 classes: expected \[1200, 10\]/);

    const ints = file('int32.safetensors', safetensorsLogits({ logits: { dtype: 'I32', shape: [TRAIN_N, 10], data: new Int32Array(TRAIN_N * 10) } }));
    expect(await run(ints)).toMatch(/int32\.safetensors: tensor "logits" dtype: expected F32 or F16 \(float32 or float16 logits\), found I32/);
    const doubles = file('f64.npy', npy('<f8', [TRAIN_N, 10], new Uint8Array(TRAIN_N * 10 * 8)));
    expect(await run(doubles)).toMatch(/f64\.npy: npy dtype: expected float32 or float16 logits, little-endian \('<f4' or '<f2'\), found '<f8' \(float64\)/);
    const missing = file('named.safetensors', safetensorsLogits({ scores: { dtype: 'F32', shape: [TRAIN_N, 10], data: teacherLogits.train } }));
    expect(await run(missing)).toMatch(/named\.safetensors: tensor "logits": missing: .* the file holds "scores"/);

    // The right rows in another order: the teacher looks like chance against the labels.
    const perm = new Rng(9).permutation(TRAIN_N);
    const shuffled = Float32Array.from({ length: TRAIN_N * 10 }, (_, i) => teacherLogits.train[perm[Math.floor(i / 10)] * 10 + (i % 10)]);
    const shuffledPath = file('shuffled.safetensors', safetensorsLogits({ logits: { dtype: 'F32', shape: [TRAIN_N, 10], data: shuffled } }));
    expect(await run(shuffledPath, ['--out', out])).toMatch(
      /shuffled\.safetensors tensor "logits": the logits' argmax predictions agree with the training labels on [\d.]+% of the 1200 training rows, where the same predictions in a random order would agree on [\d.]+% .*are the rows in the training set's order .*--no-teacher-check distils from them anyway/,
    );
    expect(existsSync(out)).toBe(false);

    const badTest = file('test-short.npy', npy('<f4', [TEST_N - 1, 10], f32(teacherLogits.test.subarray(0, (TEST_N - 1) * 10))));
    const good = file('good.npy', npy('<f4', [TRAIN_N, 10], f32(teacherLogits.train)));
    expect(await run(good, ['--teacher-test-logits', badTest])).toMatch(/test-short\.npy \(npy\): \[299, 10\] has 299 rows, the test set has 300 samples: expected \[300, 10\]/);
    expect(await fails(['distill', '--teacher', TEACHER, '--teacher-logits', good])).toMatch(/--teacher and --teacher-logits cannot be used together/);
    expect(await fails(['distill', ...data])).toMatch(/distill needs a teacher: --teacher .* or --teacher-logits/);
    expect(await run(good, ['--augment'])).toMatch(/--augment needs a teacher that kdgpu runs/);
  }, 300_000);
});
