// A user's hours of training survive their mistakes and the machine's: clear errors for bad
// options and checkpoints, numerical faults caught on the GPU, atomic checkpoints under SIGKILL,
// bit-exact resume, and device loss or exhausted device memory that end with a message instead of
// a hang.
import { describe, expect, it } from 'vitest';
import { execFile, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, existsSync, symlinkSync, writeFileSync, readdirSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { testEngine } from './engine.js';
import { deadPid, kdgpu, kdgpuFails, startCli } from './helpers.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/io/checkpoint-bytes.js';
import { encodeSafetensors } from '../src/io/safetensors.js';
import { restoreModel, encodeModel } from '../src/nn/model-checkpoint.js';
import { createModel } from '../src/nn/models.js';
import { createNodeEngine } from '../src/gpu/node.js';
import type { Engine } from '../src/gpu/engine.js';
import { loadModel, loadWeights } from '../src/nn/model-file.js';
import { Optimizer } from '../src/optim/optimizer.js';
import { BatchBuffers, DivergenceCheck, GpuMetrics, trainStep } from '../src/train.js';
import { loadCheckpoint } from '../src/io/checkpoint-file.js';
import { idxLimit, loadFashionMnist, readDataFile } from '../src/data/node-files.js';
import { gzipSync } from 'node:zlib';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'kdgpu-rel-'));
const QUICK = ['--train-subset', '256', '--batch', '64', '--test-subset', '200', '--no-progress'];

/** What a failing `kdgpu args…` printed (kdgpuFails rejects a success). */
const cliFails = async (args: string[]) => (await kdgpuFails(args)).out;

/** A freshly initialised student-cnn's weights (read back, the model released) and a config that describes it. */
async function freshStudent(engine: Engine) {
  const student = createModel(engine, 'student-cnn', { channels: 1, height: 28, width: 28, classes: 10 }, 1);
  const config = { model: 'student-cnn', input: student.input, dataset: 'fashion-mnist', normalisation: { mean: [0.286], std: [0.353] }, seed: 1 };
  const weights = await student.store.read();
  student.store.destroy();
  return { config, weights };
}

const hashOf = (path: string) => decodeCheckpoint(new Uint8Array(readFileSync(path)), path).metadata.content_sha256;

describe('command-line options out of range are refused by name', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['η outside (0, 1)', ['distill', '--teacher', 'x', '--eta', '1.5'], /--eta must be a number in \(0, 1\), got "1.5"/],
    ['η = 0', ['distill', '--teacher', 'x', '--eta', '0'], /--eta must be a number in \(0, 1\)/],
    ['selection ratio 0', ['distill', '--teacher', 'x', '--ds-ratio', '0'], /--ds-ratio must be a number in \(0, 1\]/],
    ['selection ratio above 1', ['distill', '--teacher', 'x', '--ds-ratio', '1.2'], /--ds-ratio must be a number in \(0, 1\]/],
    ['T ≤ 0', ['distill', '--teacher', 'x', '--T', '0'], /--T must be a finite number > 0, got "0"/],
    ['batch 0', ['train', '--model', 'student-cnn', '--batch', '0'], /--batch must be an integer >= 1, got "0"/],
    ['unknown method', ['distill', '--teacher', 'x', '--method', 'kd+magic'], /argument 'kd\+magic' is invalid. Allowed choices are ce, kd/],
    ['unknown model', ['train', '--model', 'vgg99'], /argument 'vgg99' is invalid. Allowed choices are teacher-cnn/],
    ['unknown dataset', ['train', '--model', 'student-cnn', '--dataset', 'imagenet'], /argument 'imagenet' is invalid. Allowed choices are fashion-mnist/],
    ['unknown ablation method', ['ablate', '--teacher', 'x', '--methods', 'kd,nope'], /--methods: unknown method "nope"/],
    ['a teacher file that does not exist', ['distill', '--teacher', join(dir, 'missing.safetensors'), ...QUICK], /--teacher \S+missing\.safetensors: no such file/],
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

const TEACHER = 'models/teacher-cnn.safetensors';
const sameBytes = (path: string, before: Buffer) => expect(readFileSync(path).equals(before)).toBe(true);

describe('outputs that are also inputs, and options, are checked before anything is written', () => {
  it('--metrics or --out naming the teacher, a dataset file or each other is refused, naming both options; the input is untouched', async () => {
    const teacher = join(dir, 'overlap-teacher.safetensors');
    copyFileSync(TEACHER, teacher);
    const before = readFileSync(teacher);
    expect(await cliFails(['distill', '--teacher', teacher, '--metrics', teacher, ...QUICK])).toMatch(
      new RegExp(`--metrics ${teacher} is the same file as --teacher ${teacher}: writing --metrics would destroy that input`),
    );
    // The same file under another name: compared as the filesystem resolves it.
    const alias = join(dir, 'overlap-alias.safetensors');
    symlinkSync(teacher, alias);
    expect(await cliFails(['distill', '--teacher', teacher, '--out', alias, '--overwrite', ...QUICK])).toMatch(/--out \S+overlap-alias\.safetensors is the same file as --teacher \S+overlap-teacher\.safetensors/);
    sameBytes(teacher, before);
    // A dataset file (a stand-in: the check comes before any data is read).
    const data = join(dir, 'overlap-data');
    mkdirSync(data);
    const labels = join(data, 'train-labels-idx1-ubyte.gz');
    writeFileSync(labels, 'labels');
    expect(await cliFails(['train', '--model', 'student-cnn', '--data-dir', data, '--out', labels, '--overwrite', ...QUICK])).toMatch(
      /--out \S+train-labels-idx1-ubyte\.gz is the same file as the fashion-mnist file \S+train-labels-idx1-ubyte\.gz/,
    );
    expect(readFileSync(labels, 'utf8')).toBe('labels');
    expect(await cliFails(['train', '--model', 'student-cnn', '--out', join(dir, 'both'), '--metrics', join(dir, 'both'), ...QUICK])).toMatch(/--out \S+both and --metrics \S+both are the same file/);
    // ablate's outputs: --out-dir's ablation.json is the teacher here.
    const abl = join(dir, 'overlap-ablate');
    mkdirSync(abl);
    copyFileSync(TEACHER, join(abl, 'ablation.json'));
    expect(await cliFails(['ablate', '--teacher', join(abl, 'ablation.json'), '--out-dir', abl, ...QUICK])).toMatch(/--out-dir's ablation\.json \S+ is the same file as --teacher/);
    sameBytes(join(abl, 'ablation.json'), before);
  });

  it('an invalid method option is refused before --metrics is created', async () => {
    const metrics = join(dir, 'early-check.jsonl');
    expect(await cliFails(['distill', '--teacher', TEACHER, '--method', 'kd+lr+ds', '--epochs', '1', '--metrics', metrics, ...QUICK])).toMatch(
      /--ds-warmup-epochs \(1\) must be smaller than --epochs \(1\) for kd\+lr\+ds/,
    );
    expect(existsSync(metrics)).toBe(false);
    // ablate checks every arm's options before its first run.
    expect(await cliFails(['ablate', '--teacher', TEACHER, '--epochs', '1', '--methods', 'kd,kd+lr+ds', '--out-dir', join(dir, 'early-ablate'), ...QUICK])).toMatch(/arm kd\+lr\+ds: --ds-warmup-epochs/);
    expect(existsSync(join(dir, 'early-ablate'))).toBe(false);
  });
});

describe('output folders are checked at start', () => {
  it('--out or --metrics in a missing folder is refused before training, naming the folder', async () => {
    const missing = join(dir, 'no-such-folder');
    const a = await cliFails(['train', '--model', 'student-cnn', '--out', join(missing, 'm.safetensors'), ...QUICK]);
    expect(a).toMatch(new RegExp(`--out ${missing}/m\\.safetensors: the folder ${missing} does not exist`));
    expect(a).not.toMatch(/epoch 1/);
    expect(await cliFails(['distill', '--teacher', TEACHER, '--method', 'kd', '--metrics', join(missing, 'm.jsonl'), ...QUICK])).toMatch(
      new RegExp(`--metrics ${missing}/m\\.jsonl: the folder ${missing} does not exist`),
    );
    expect(await cliFails(['train', '--model', 'student-cnn', '--out', dir, ...QUICK])).toMatch(new RegExp(`--out ${dir}: is a directory, expected a file to write`));
    expect(existsSync(missing)).toBe(false);
  });
});

describe('an existing --out is not replaced by a new run unless asked', () => {
  it('train and distill refuse an existing --out without --resume or --overwrite, and leave it as it was', async () => {
    const ck = join(dir, 'precious.safetensors');
    copyFileSync(TEACHER, ck);
    const before = readFileSync(ck);
    for (const args of [['train', '--model', 'student-cnn'], ['distill', '--teacher', TEACHER, '--method', 'kd']]) {
      expect(await cliFails([...args, '--out', ck, ...QUICK])).toMatch(
        new RegExp(`--out ${ck} already exists: pass --resume to continue the run it holds, or --overwrite to replace it`),
      );
    }
    expect(await cliFails(['train', '--model', 'student-cnn', '--out', ck, '--resume', '--overwrite', ...QUICK])).toMatch(/--resume and --overwrite cannot be used together/);
    sameBytes(ck, before);
  });
});

describe('checkpoint loaders', () => {
  it('a directory, a device or a missing path as checkpoint is refused by name, without hanging', async () => {
    await expect(loadCheckpoint(dir)).rejects.toThrow(new RegExp(`^${dir}: file: expected a checkpoint \\(a regular file\\), found a directory$`));
    await expect(loadCheckpoint('/dev/zero')).rejects.toThrow(/^\/dev\/zero: file: expected a checkpoint \(a regular file\), found a character device$/);
    await expect(loadCheckpoint(join(dir, 'absent.safetensors'))).rejects.toThrow(new RegExp(`^${join(dir, 'absent.safetensors')}: no such file$`));
    await expect(readDataFile(dir)).rejects.toThrow(new RegExp(`^${dir}: file: expected a data file \\(a regular file\\), found a directory$`));
    expect(await cliFails(['eval', '--checkpoint', '/dev/zero'])).toMatch(/\/dev\/zero: file: expected a checkpoint \(a regular file\), found a character device/);
    expect(await cliFails(['distill', '--teacher', dir, ...QUICK])).toMatch(new RegExp(`${dir}: file: expected the --teacher checkpoint \\(a regular file\\), found a directory`));
  });

  it('training state: not needed for eval, refused by file and field when broken; config.input checked by field', async () => {
    const engine = await testEngine();
    const { config, weights } = await freshStudent(engine);
    const write = (name: string, cfg: unknown, trainState?: string) => {
      const path = join(dir, name);
      writeFileSync(path, encodeCheckpoint({ model: 'student-cnn', config: cfg, tensors: weights, extraMetadata: trainState === undefined ? {} : { train_state: trainState } }));
      return path;
    };
    // A training state recorded in the metadata, without its train_state/ tensors.
    const noState = write('no-state.safetensors', config, JSON.stringify({ epoch: 1, best: 0.5, last: 0.5, step: 4, extra: {} }));
    await expect(loadModel(engine, noState)).rejects.toThrow(/no-state\.safetensors: tensor "train_state\/optimizer\.m": missing: __metadata__\.train_state records a training state/);
    const w = await loadWeights(engine, noState); // eval's and a teacher's way: weights only
    w.model.store.destroy();
    const { stdout } = await kdgpu(['eval', '--checkpoint', noState]);
    expect(stdout).toMatch(/no-state\.safetensors: student-cnn on fashion-mnist test: accuracy \d+\.\d+%/);
    const badJson = write('bad-state.safetensors', config, '{"epoch": 1,');
    await expect(loadModel(engine, badJson)).rejects.toThrow(/bad-state\.safetensors: __metadata__\.train_state: expected JSON: /);
    const badField = write('bad-epoch.safetensors', config, JSON.stringify({ epoch: -1, best: 0.5, last: 0.5, step: 4 }));
    await expect(loadModel(engine, badField)).rejects.toThrow(/bad-epoch\.safetensors: __metadata__\.train_state\.epoch: expected an integer >= 0, found -1/);
    // config.input: huge, negative, not an integer.
    for (const [field, value] of [['height', 1e9], ['channels', -3], ['classes', 2.5]] as const) {
      const path = write(`bad-${field}.safetensors`, { ...config, input: { ...config.input, [field]: value } });
      await expect(loadWeights(engine, path)).rejects.toThrow(new RegExp(`bad-${field}\\.safetensors: config\\.input\\.${field}: expected an integer in \\[1, \\d+\\], found ${String(value).replace('.', '\\.')}`));
    }
  });

  it('non-finite weights are refused at load, naming the tensor and the element', async () => {
    const engine = await testEngine();
    const { config, weights } = await freshStudent(engine);
    weights.get('conv2.weight')!.data[17] = NaN;
    const nan = join(dir, 'nan-weights.safetensors');
    writeFileSync(nan, encodeCheckpoint({ model: 'student-cnn', config, tensors: weights }));
    await expect(loadWeights(engine, nan)).rejects.toThrow(/nan-weights\.safetensors: tensor "conv2\.weight" element 17: expected a finite weight, found NaN/);
    weights.get('conv2.weight')!.data[17] = 0;
    weights.get('fc.bias')!.data[3] = -Infinity;
    const inf = join(dir, 'inf-weights.safetensors');
    writeFileSync(inf, encodeCheckpoint({ model: 'student-cnn', config, tensors: weights }));
    expect(await cliFails(['eval', '--checkpoint', inf])).toMatch(/inf-weights\.safetensors: tensor "fc\.bias" element 3: expected a finite weight, found -Infinity/);
    expect(await cliFails(['distill', '--teacher', inf, '--method', 'kd', ...QUICK])).toMatch(/inf-weights\.safetensors: tensor "fc\.bias" element 3: expected a finite weight/);
  });
});

describe('gzip data files', () => {
  /** A gzip file of `members` concatenated members: `head` then zeros, each member 1 MiB of zeros more. */
  const bomb = (head: Uint8Array, members: number) => {
    const zeros = gzipSync(Buffer.alloc(1 << 20));
    return Buffer.concat([gzipSync(head), ...Array.from({ length: members }, () => zeros)]);
  };
  const idxHead = (magic: number, dims: number[]) => {
    const b = Buffer.alloc(4 + 4 * dims.length);
    b.writeUInt32BE(magic, 0);
    dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
    return b;
  };

  it('a gzip bomb stops inflating at the size its IDX header announces, naming the file', async () => {
    const folder = join(dir, 'bomb');
    mkdirSync(folder);
    // 100 labels announced; about 1 GiB inflated from about 1 MiB.
    const labels = join(folder, 't10k-labels-idx1-ubyte.gz');
    writeFileSync(labels, bomb(idxHead(0x801, [100]), 1024));
    await expect(readDataFile(labels, idxLimit('labels', labels))).rejects.toThrow(
      new RegExp(`^${labels}: gzip stream: inflates to more than 108 bytes, the size its IDX header announces: a corrupt file or a gzip bomb`),
    );
    // A header announcing more than any data file kdgpu reads is refused before inflating further.
    writeFileSync(labels, bomb(idxHead(0x801, [2 ** 31]), 4));
    await expect(readDataFile(labels, idxLimit('labels', labels))).rejects.toThrow(/t10k-labels-idx1-ubyte\.gz: header: dimensions 2147483648 announce 2147483656 bytes, more than the 1073741824/);
    writeFileSync(labels, bomb(idxHead(0x801, [100]), 1024));
    // Through the loader: the images are fine (100 of 28x28), the labels are the bomb.
    const images = join(folder, 't10k-images-idx3-ubyte.gz');
    writeFileSync(images, gzipSync(Buffer.concat([idxHead(0x803, [100, 28, 28]), Buffer.alloc(100 * 784)])));
    await expect(loadFashionMnist('test', folder)).rejects.toThrow(/t10k-labels-idx1-ubyte\.gz: gzip stream: inflates to more than 108 bytes/);
    // An images header of another size is refused from the header alone.
    writeFileSync(images, bomb(idxHead(0x803, [100, 32, 32]), 64));
    await expect(loadFashionMnist('test', folder)).rejects.toThrow(/t10k-images-idx3-ubyte\.gz: image size: expected 28x28, found 32x32/);
  });
});

describe('divergence without Inf/NaN', () => {
  it('a running loss far above its first reading and ln(classes) is a numerical fault naming the step; the check can be turned off', () => {
    const check = new DivergenceCheck(10);
    check.observe(2.2, 20);
    check.observe(50, 40); // a rough patch, not a divergence
    expect(() => check.observe(3e12, 60)).toThrow(/^numerical fault at step 60: the running loss \(3\.00e\+12\) exceeds the divergence limit 2\.20e\+4 .*turn the divergence check off/);
    // Already diverged at the first reading: measured against ln(classes).
    expect(() => new DivergenceCheck(10).observe(3e12, 4)).toThrow(/numerical fault at step 4: the running loss \(3\.00e\+12\) exceeds the divergence limit 2\.30e\+4/);
    expect(() => new DivergenceCheck(10, false).observe(3e12, 4)).not.toThrow();
  });

  it('Adam at --lr 1000 stops train and distill with the step named; the checkpoint at --out is kept', async () => {
    const ck = join(dir, 'before-divergence.safetensors');
    copyFileSync(TEACHER, ck);
    const before = readFileSync(ck);
    const diverge = ['--optimizer', 'adam', '--lr', '1000', '--epochs', '2', ...QUICK];
    expect(await cliFails(['train', '--model', 'student-cnn', '--out', ck, '--overwrite', ...diverge])).toMatch(
      /numerical fault at step \d+: the running loss \(\S+\) exceeds the divergence limit .*; training stopped\. This run had not saved to \S+ yet: the file there is untouched/,
    );
    sameBytes(ck, before);
    expect(await cliFails(['distill', '--teacher', TEACHER, '--method', 'kd', '--val-split', '128', ...diverge])).toMatch(
      /numerical fault at step \d+: the running loss \(\S+\) exceeds the divergence limit .*; training stopped/,
    );
  });
});

describe('numerical faults', () => {
  it('--lr 1e6 ends with a message naming the step and the tensor, and leaves the last good checkpoint intact', async () => {
    const ck = join(dir, 'nan.safetensors');
    await kdgpu(['train', '--model', 'student-cnn', '--epochs', '1', '--out', ck, ...QUICK]);
    const before = readFileSync(ck);
    const msg = await cliFails(['train', '--model', 'student-cnn', '--epochs', '2', '--lr', '1e6', '--out', ck, '--overwrite', ...QUICK]);
    expect(msg).toMatch(/numerical fault at step \d+: the (loss|gradient of the logits|gradient of \S+|parameter \S+) .*became Inf or NaN; training stopped/);
    expect(readFileSync(ck).equals(before)).toBe(true);
  });
});

describe('checkpoints survive SIGKILL', () => {
  // Driven by what the child prints and writes, never by elapsed time, so a loaded machine makes it
  // slower, not red. The child prints "epoch k/500: ..." after epoch k's evaluation and then saves
  // epoch k; it cannot print epoch k + 1's line before that save is complete. Attempt a kills on the
  // line of epoch 2 + a: even attempts at once (the save of that epoch is starting: reading the
  // weights back, writing and syncing the temporary file), odd ones the moment the checkpoint is
  // renamed into place after the line (the directory sync, the next epoch). Four kills, whatever
  // the speed; the verdict is the file's, and the test's timeout only guards against a hang.
  it('killing the process at random moments never leaves a corrupt checkpoint', { timeout: 1_800_000 }, async () => {
    const ck = join(dir, 'killed.safetensors');
    const KILLS = 4;
    for (let attempt = 0; attempt < KILLS; attempt++) {
      const target = 2 + attempt;
      const renamed = watchRenames(dir, basename(ck));
      const { child, prints, exited } = startCli(['train', '--model', 'student-cnn', '--epochs', '500', '--out', ck, '--overwrite', '--train-subset', '64', '--batch', '64', '--test-subset', '64', '--no-progress']);
      try {
        await prints(new RegExp(`^epoch ${target}/500:`, 'm'));
        if (attempt % 2 === 1) await renamed.next(child);
        child.kill('SIGKILL');
        await exited;
      } finally {
        renamed.close();
      }
      const saved = decodeCheckpoint(new Uint8Array(readFileSync(ck)), ck); // throws on a corrupt file
      expect((JSON.parse(saved.metadata.config) as { epoch: number }).epoch).toBeGreaterThanOrEqual(target - 1);
    }
    // A temporary file a killed writer left (made for certain here) goes at the next save.
    const stray = join(dir, `.killed.safetensors.${deadPid()}-0123456789ab.tmp`);
    writeFileSync(stray, 'partial');
    await kdgpu(['train', '--model', 'student-cnn', '--epochs', '1', '--out', ck, '--overwrite', ...QUICK]);
    expect(readdirSync(dir).filter((f) => f.startsWith('.killed.safetensors.'))).toEqual([]);
  });
});

/** Renames onto `name` in `folder` (a checkpoint save completing), from now on: next() waits for one after the call. */
function watchRenames(folder: string, name: string) {
  let count = 0;
  let waiting: (() => void) | null = null;
  const watcher = watch(folder, (_event, file) => {
    if (file !== name) return;
    count++;
    waiting?.();
  });
  return {
    next(child: ChildProcess): Promise<void> {
      const from = count;
      return new Promise((resolve, reject) => {
        const onExit = () => reject(new Error(`the child exited before saving ${name} again`));
        waiting = () => {
          if (count === from) return;
          waiting = null;
          child.off('exit', onExit);
          resolve();
        };
        child.on('exit', onExit);
      });
    },
    close: () => watcher.close(),
  };
}

describe('resume', () => {
  it('train: interrupted after one epoch and resumed ends with bit-identical weights and optimizer state', async () => {
    const a = join(dir, 'straight.safetensors');
    const b = join(dir, 'resumed.safetensors');
    const args = ['train', '--model', 'student-cnn', '--epochs', '2', ...QUICK];
    await kdgpu([...args, '--out', a]);
    await kdgpu([...args, '--out', b, '--resume', '--stop-after', '1']);
    const mid = hashOf(b);
    const { stdout } = await kdgpu([...args, '--out', b, '--resume']);
    expect(stdout).toMatch(/resuming from .* after epoch 1/);
    expect(hashOf(b)).not.toBe(mid);
    expect(hashOf(b)).toBe(hashOf(a));
  });

  it('distill kd+lr+ds: the data selection survives the interruption too', async () => {
    const teacher = join(dir, 'teacher.safetensors');
    await kdgpu(['train', '--model', 'student-cnn', '--epochs', '1', '--out', teacher, ...QUICK]);
    const a = join(dir, 'd-straight.safetensors');
    const b = join(dir, 'd-resumed.safetensors');
    const args = ['distill', '--teacher', teacher, '--method', 'kd+lr+ds', '--epochs', '3', '--val-split', '128', ...QUICK];
    await kdgpu([...args, '--out', a]);
    await kdgpu([...args, '--out', b, '--stop-after', '2']);
    await kdgpu([...args, '--out', b, '--resume']);
    expect(hashOf(b)).toBe(hashOf(a));
  });

  it('refuses to resume a different run, naming the option', async () => {
    const a = join(dir, 'other.safetensors');
    await kdgpu(['train', '--model', 'student-cnn', '--epochs', '1', '--out', a, ...QUICK]);
    expect(await cliFails(['train', '--model', 'student-cnn', '--epochs', '1', '--lr', '0.123', '--out', a, '--resume', ...QUICK])).toMatch(
      /was written by a run with --lr 0\.05, this one has 0\.123/,
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
      expect(r.error).toMatch(/^out of GPU memory: could not allocate "[\w-]+" \(\d+\.\d MiB\) while kdgpu's buffer pool held \d+\.\d MiB: use a smaller batch size/);
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
