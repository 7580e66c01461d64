// A user's hours of training survive their mistakes and the machine's: clear errors for bad
// options and checkpoints, numerical faults caught on the GPU, atomic checkpoints under SIGKILL,
// bit-exact resume, and device loss or exhausted device memory that end with a message instead of
// a hang.
import { describe, expect, it } from 'vitest';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { testEngine } from './engine.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/io/checkpoint.js';
import { encodeSafetensors } from '../src/io/safetensors.js';
import { restoreModel, encodeModel } from '../src/nn/checkpoint.js';
import { createModel } from '../src/nn/models.js';
import { createNodeEngine } from '../src/gpu/node.js';
import { loadModel } from '../src/nn/checkpoint-file.js';
import { Optimizer } from '../src/optim/optimizer.js';
import { BatchBuffers, GpuMetrics, trainStep } from '../src/train.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'kdgpu-rel-'));
const CLI = ['bin/kdgpu.js'];
const QUICK = ['--train-subset', '256', '--batch', '64', '--test-subset', '200', '--no-progress'];

async function cliFails(args: string[]): Promise<string> {
  try {
    await run(process.execPath, [...CLI, ...args], { timeout: 300_000 });
  } catch (e) {
    const err = e as { code: number; stderr: string; stdout: string };
    expect(err.code).not.toBe(0);
    return err.stderr + err.stdout;
  }
  throw new Error(`kdgpu ${args.join(' ')} succeeded; expected a failure`);
}

/** The pid of a process that has exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;

const hashOf = (path: string) => decodeCheckpoint(new Uint8Array(readFileSync(path)), path).metadata.content_sha256;

describe('command-line options out of range are refused by name', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['η outside (0, 1)', ['distill', '--teacher', 'x', '--eta', '1.5'], /--eta must be a number in \(0, 1\), got "1.5"/],
    ['η = 0', ['distill', '--teacher', 'x', '--eta', '0'], /--eta must be a number in \(0, 1\)/],
    ['selection ratio 0', ['distill', '--teacher', 'x', '--ds-ratio', '0'], /--ds-ratio must be a number in \(0, 1\]/],
    ['selection ratio above 1', ['distill', '--teacher', 'x', '--ds-ratio', '1.2'], /--ds-ratio must be a number in \(0, 1\]/],
    ['T ≤ 0', ['distill', '--teacher', 'x', '--T', '0'], /--T must be a number in \(0, Infinity\]/],
    ['batch 0', ['train', '--model', 'student-cnn', '--batch', '0'], /--batch must be an integer >= 1, got "0"/],
    ['unknown method', ['distill', '--teacher', 'x', '--method', 'kd+magic'], /argument 'kd\+magic' is invalid. Allowed choices are ce, kd/],
    ['unknown model', ['train', '--model', 'vgg99'], /argument 'vgg99' is invalid. Allowed choices are teacher-cnn/],
    ['unknown dataset', ['train', '--model', 'student-cnn', '--dataset', 'imagenet'], /argument 'imagenet' is invalid. Allowed choices are fashion-mnist/],
    ['unknown ablation method', ['ablate', '--teacher', 'x', '--methods', 'kd,nope'], /--methods: unknown method "nope"/],
    ['a teacher file that does not exist', ['distill', '--teacher', join(dir, 'missing.safetensors'), ...QUICK], /ENOENT|no such file/],
  ];
  for (const [what, args, message] of cases) {
    it(what, async () => expect(await cliFails(args)).toMatch(message));
  }
});

describe('bad checkpoints are refused with the file, the field and what was expected', () => {
  it('truncated, not safetensors, another model, wrong shape, wrong dtype', async () => {
    const engine = await testEngine();
    const student = createModel(engine, 'student-cnn', { channels: 1, height: 28, width: 28, classes: 10 }, 1);
    const config = { model: 'student-cnn', input: student.input, dataset: 'fashion-mnist', normalisation: { mean: [0], std: [1] }, seed: 1 };
    const good = await encodeModel(student, config);
    expect(() => decodeCheckpoint(good.subarray(0, good.length - 10), 'cut.safetensors')).toThrow(/cut\.safetensors.*(truncated|expected)/);
    expect(() => decodeCheckpoint(new TextEncoder().encode('{"hello": "world"} not a checkpoint at all'), 'notes.txt')).toThrow(/notes\.txt/);
    // The right format, another model: refused when a specific model is expected.
    expect(() => restoreModel(engine, decodeCheckpoint(good, 'student.safetensors'), 'student.safetensors', 'teacher-cnn')).toThrow(
      /student\.safetensors: holds a "student-cnn" model, expected "teacher-cnn"/,
    );
    // A tensor of the wrong shape.
    const values = await student.store.read();
    const w = values.get('conv1.weight')!;
    values.set('conv1.weight', { shape: [4, 1, 3, 3], data: w.data.slice(0, 36) });
    const reshaped = encodeCheckpoint({ model: 'student-cnn', config, tensors: values });
    expect(() => restoreModel(engine, decodeCheckpoint(reshaped, 'shape.safetensors'), 'shape.safetensors')).toThrow(
      /shape\.safetensors: tensor "conv1\.weight" has shape \[4, 1, 3, 3\], model "student-cnn" expects \[8, 1, 3, 3\]/,
    );
    // A tensor stored as F64.
    const f64 = encodeSafetensors(new Map([['conv1.weight', { dtype: 'F64', shape: [2], data: new Float64Array(2) }]]), { model: 'student-cnn' });
    expect(() => decodeCheckpoint(f64, 'f64.safetensors')).toThrow(/f64\.safetensors.*dtype.*expected F32, found F64/);
    student.store.destroy();
  });
});

describe('numerical faults', () => {
  it('--lr 1e6 ends with a message naming the step and the tensor, and leaves the last good checkpoint intact', async () => {
    const ck = join(dir, 'nan.safetensors');
    await run(process.execPath, [...CLI, 'train', '--model', 'student-cnn', '--epochs', '1', '--out', ck, ...QUICK], { timeout: 300_000 });
    const before = readFileSync(ck);
    const msg = await cliFails(['train', '--model', 'student-cnn', '--epochs', '2', '--lr', '1e6', '--out', ck, ...QUICK]);
    expect(msg).toMatch(/numerical fault at step \d+: the (loss|gradient of the logits|gradient of \S+|parameter \S+) .*became Inf or NaN; training stopped/);
    expect(readFileSync(ck).equals(before)).toBe(true);
  });
});

describe('checkpoints survive SIGKILL', () => {
  it('killing the process at random moments never leaves a corrupt checkpoint', async () => {
    const ck = join(dir, 'killed.safetensors');
    const mtime = () => (existsSync(ck) ? statSync(ck).mtimeMs : 0);
    let decoded = 0;
    for (let attempt = 0; attempt < 4; attempt++) {
      const before = mtime();
      const child = spawn(process.execPath, [...CLI, 'train', '--model', 'student-cnn', '--epochs', '500', '--out', ck, '--train-subset', '64', '--batch', '64', '--test-subset', '64', '--no-progress'], { stdio: 'ignore' });
      // Wait for this child's first checkpoint (start-up and shader compilation vary with the
      // machine's load), then let it write more and kill it at a moment that varies per attempt:
      // every epoch rewrites the file, so some kills land during a write.
      const deadline = Date.now() + 240_000;
      while (mtime() === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 300 + ((attempt * 977) % 2000)));
      child.kill('SIGKILL');
      await new Promise((r) => child.on('exit', r));
      expect(() => decodeCheckpoint(new Uint8Array(readFileSync(ck)), ck)).not.toThrow();
      decoded++;
    }
    expect(decoded).toBe(4);
    // A temporary file a killed writer left (made for certain here) goes at the next save.
    const stray = join(dir, `.killed.safetensors.${deadPid()}-0123456789ab.tmp`);
    writeFileSync(stray, 'partial');
    await run(process.execPath, [...CLI, 'train', '--model', 'student-cnn', '--epochs', '1', '--out', ck, ...QUICK], { timeout: 300_000 });
    expect(readdirSync(dir).filter((f) => f.startsWith('.killed.safetensors.'))).toEqual([]);
  });
});

describe('resume', () => {
  it('train: interrupted after one epoch and resumed ends with bit-identical weights and optimizer state', async () => {
    const a = join(dir, 'straight.safetensors');
    const b = join(dir, 'resumed.safetensors');
    const args = ['train', '--model', 'student-cnn', '--epochs', '2', ...QUICK];
    await run(process.execPath, [...CLI, ...args, '--out', a], { timeout: 300_000 });
    await run(process.execPath, [...CLI, ...args, '--out', b, '--resume', '--stop-after', '1'], { timeout: 300_000 });
    const mid = hashOf(b);
    const { stdout } = await run(process.execPath, [...CLI, ...args, '--out', b, '--resume'], { timeout: 300_000 });
    expect(stdout).toMatch(/resuming from .* after epoch 1/);
    expect(hashOf(b)).not.toBe(mid);
    expect(hashOf(b)).toBe(hashOf(a));
  });

  it('distill kd+lr+ds: the data selection survives the interruption too', async () => {
    const teacher = join(dir, 'teacher.safetensors');
    await run(process.execPath, [...CLI, 'train', '--model', 'student-cnn', '--epochs', '1', '--out', teacher, ...QUICK], { timeout: 300_000 });
    const a = join(dir, 'd-straight.safetensors');
    const b = join(dir, 'd-resumed.safetensors');
    const args = ['distill', '--teacher', teacher, '--method', 'kd+lr+ds', '--epochs', '3', '--val-split', '128', ...QUICK];
    await run(process.execPath, [...CLI, ...args, '--out', a], { timeout: 300_000 });
    await run(process.execPath, [...CLI, ...args, '--out', b, '--stop-after', '2'], { timeout: 300_000 });
    await run(process.execPath, [...CLI, ...args, '--out', b, '--resume'], { timeout: 300_000 });
    expect(hashOf(b)).toBe(hashOf(a));
  });

  it('refuses to resume a different run, naming the option', async () => {
    const a = join(dir, 'other.safetensors');
    await run(process.execPath, [...CLI, 'train', '--model', 'student-cnn', '--epochs', '1', '--out', a, ...QUICK], { timeout: 300_000 });
    expect(await cliFails(['train', '--model', 'student-cnn', '--epochs', '1', '--lr', '0.123', '--out', a, '--resume', ...QUICK])).toMatch(
      /was written by a run with lr = 0\.05, this one has 0\.123/,
    );
  });
});

describe('device faults end with a message, not a hang', () => {
  it('a lost device makes the next step fail with "GPU device lost"', async () => {
    const engine = await createNodeEngine({ log: () => {} });
    const model = createModel(engine, 'student-cnn', { channels: 1, height: 28, width: 28, classes: 10 }, 1);
    const opt = new Optimizer(model.store, { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 0 }, 0.01);
    const bufs = new BatchBuffers(engine, 8, 784);
    const metrics = new GpuMetrics(engine);
    bufs.upload(new Float32Array(8 * 784), new Uint32Array(8), 8);
    trainStep(model, opt, bufs, 8, metrics);
    await metrics.take();
    engine.device.destroy(); // as a driver reset would
    const attempt = async () => {
      bufs.upload(new Float32Array(8 * 784), new Uint32Array(8), 8);
      trainStep(model, opt, bufs, 8, metrics);
      await metrics.take();
    };
    await expect(attempt()).rejects.toThrow(/GPU device lost|destroyed|lost/i);
  });

  it('running out of device memory ends the step with a message naming the allocation; the saved checkpoint loads', async () => {
    const ck = join(dir, 'before-oom.safetensors');
    const { stdout } = await run(process.execPath, ['test/fixtures/oom-step.mjs', ck], { timeout: 180_000 });
    const r = JSON.parse(stdout.trim().split('\n').pop()!) as { software: boolean; error: string | null };
    if (r.software) {
      // SwiftShader: the device's memory is the process's, which the fixture limited.
      // Which allocation fails first depends on the kernels' fusion; each is named with its size.
      expect(r.error).toMatch(/^out of GPU memory: could not allocate "[\w-]+" \(\d+\.\d MiB\) while kdgpu's buffer pool held \d+\.\d MiB: use a smaller --batch/);
    }
    const engine = await testEngine();
    const restored = await loadModel(engine, ck, 'student-cnn');
    expect(restored.config.epoch).toBe(1);
  });

  it('an allocation larger than the adapter allows is refused by name', async () => {
    const engine = await testEngine();
    expect(() => engine.alloc(engine.limits.maxBufferSize + 16, 'huge-activation')).toThrow(/huge-activation.*exceeds this adapter's maxBufferSize/);
  });
});
