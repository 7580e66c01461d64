// The command line's manners: --version, one-line errors with a hint, options a command cannot
// honour refused, --json [file] the same everywhere, and a piped run that says what it is doing.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kdgpu, kdgpuFails } from './helpers.js';
import { decodeCheckpoint } from '../src/io/checkpoint-bytes.js';

const cli = (args: string[]) => kdgpu(args);
const fails = async (args: string[]) => (await kdgpuFails(args)).out;
const dir = mkdtempSync(join(tmpdir(), 'kdgpu-cli-'));

describe('kdgpu command line', () => {
  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    expect((await cli(['--version'])).stdout.trim()).toBe(pkg.version);
  });

  it('a bad choice prints one line and a hint, not the whole help page', async () => {
    const out = await fails(['distill', '--teacher', 'models/teacher-cnn.safetensors', '--method', 'nope']);
    expect(out).toMatch(/argument 'nope' is invalid/);
    expect(out).toMatch(/add --help for the options/);
    expect(out).not.toMatch(/--dkd-beta/);
    expect(out.trim().split('\n').length).toBeLessThanOrEqual(3);
  });

  it('options a command cannot honour are refused by name', async () => {
    expect(await fails(['ablate', '--teacher', 'models/teacher-cnn.safetensors', '--seed', '3'])).toMatch(/--seed does not apply to ablate/);
    expect(await fails(['ablate', '--teacher', 'models/teacher-cnn.safetensors', '--stop-after', '1'])).toMatch(/--stop-after does not apply to ablate/);
    expect(await fails(['bench', 'kernels', '--model', 'teacher-cnn'])).toMatch(/--model applies to "bench profile", not "bench kernels"/);
  });

  it('--json [file]: to stdout instead of the table, or to the file named beside it', async () => {
    const stdout = (await cli(['verify', '--filter', 'scatter', '--json', '--seed', '2'])).stdout;
    expect(JSON.parse(stdout).pass).toBe(true);
    const file = join(dir, 'verify.json');
    const table = (await cli(['verify', '--filter', 'scatter', '--json', file, '--seed', '2'])).stdout;
    expect(table).toMatch(/passed, 0 failed/);
    expect(JSON.parse(readFileSync(file, 'utf8')).rows.length).toBeGreaterThan(0);
  });

  it('piped output says when the pipelines are built and how long that took, before the first epoch ends', async () => {
    const metrics = join(dir, 'distill.jsonl');
    const { stdout } = await cli(['distill', '--teacher', 'models/teacher-cnn.safetensors', '--method', 'kd', '--epochs', '1', '--train-subset', '256', '--val-split', '200', '--test-subset', '200', '--batch', '64', '--metrics', metrics]);
    const lines = stdout.split('\n');
    const compiled = lines.findIndex((l) => /^the GPU pipelines: [\d.]+ s, first step done; \d+ GPU pipelines built in [\d.]+ s of it$/.test(l));
    const epoch = lines.findIndex((l) => l.startsWith('epoch 1:'));
    expect(compiled).toBeGreaterThanOrEqual(0);
    expect(compiled).toBeLessThan(epoch);
    // The JSON lines carry the test accuracy at the epoch chosen on validation, never the test set's maximum.
    const [epochLine] = readFileSync(metrics, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.event === 'epoch');
    expect(epochLine).toHaveProperty('testAtBestVal');
    expect(epochLine).not.toHaveProperty('bestTestAccuracy');
  });
});

describe('kdgpu train chooses its epoch on a validation split, as distill does', () => {
  /** The epoch and test accuracy a checkpoint records. */
  const savedEpoch = (path: string) => JSON.parse(decodeCheckpoint(new Uint8Array(readFileSync(path)), path).metadata.config) as { epoch: number; testAccuracy: number };
  const args = ['--model', 'student-cnn', '--epochs', '3', '--train-subset', '512', '--val-split', '300', '--test-subset', '300', '--batch', '64', '--lr', '0.2', '--no-progress'];

  it('reports test accuracy at the best validation epoch, and --save best keeps that epoch\'s model', async () => {
    const out = join(dir, 'best.safetensors');
    const metrics = join(dir, 'train-best.jsonl');
    const { stdout } = await cli(['train', ...args, '--save', 'best', '--out', out, '--metrics', metrics]);
    const epochs = readFileSync(metrics, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.event === 'epoch');
    expect(epochs).toHaveLength(3);
    for (const e of epochs) {
      expect(e).not.toHaveProperty('best_test_acc');
      expect(e.val_acc).toBeGreaterThan(0);
    }
    // The earliest epoch of the highest validation accuracy, and the test accuracy it had.
    const chosen = epochs.reduce((a, e) => (e.val_acc > a.val_acc ? e : a));
    expect(epochs[2].best_val_epoch).toBe(chosen.epoch);
    expect(epochs[2].test_at_best_val).toBe(chosen.test_acc);
    const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
    expect(stdout).toMatch(new RegExp(`^epoch 1/3: train loss [\\d.]+, test accuracy [\\d.]+%, validation [\\d.]+% \\(test at best validation [\\d.]+%, epoch 1\\)`, 'm'));
    expect(stdout).toContain(`: last ${pct(epochs[2].test_acc)}, test at best validation ${pct(chosen.test_acc)} (validation ${pct(chosen.val_acc)}); saved ${out} (epoch ${chosen.epoch}, the best on validation)`);
    expect(stdout).not.toMatch(/best \d/);
    expect(savedEpoch(out)).toEqual(expect.objectContaining({ epoch: chosen.epoch, testAccuracy: chosen.test_acc }));
  });

  it('saves the last epoch by default; --save best with --resume is refused', async () => {
    const out = join(dir, 'last.safetensors');
    expect((await cli(['train', ...args, '--out', out])).stdout).toMatch(/saved \S+last\.safetensors \(epoch 3, the last\)/);
    expect(savedEpoch(out).epoch).toBe(3);
    expect(await fails(['train', ...args, '--save', 'best', '--resume', '--out', out])).toMatch(/--resume continues from the last epoch's checkpoint; with --save best/);
  });
});

describe('a file an option names that cannot be read is named by the option and the path, never a stack trace', () => {
  const missing = (name: string) => join(dir, 'absent', name);
  const TEACHER = 'models/teacher-cnn.safetensors';
  const QUICK = ['--epochs', '2', '--no-progress'];
  // [option, command line naming a path that does not exist, the path]
  const cases: Array<[string, string[], string]> = [
    ['--teacher', ['distill', '--teacher', missing('t.safetensors'), ...QUICK], missing('t.safetensors')],
    ['--teacher', ['distill', '--teacher', missing('t.onnx'), ...QUICK], missing('t.onnx')],
    ['--teacher', ['ablate', '--teacher', missing('t.safetensors'), '--epochs', '2'], missing('t.safetensors')],
    ['--teacher-logits', ['distill', '--teacher-logits', missing('l.npy'), ...QUICK], missing('l.npy')],
    ['--teacher-test-logits', ['distill', '--teacher-logits', TEACHER, '--teacher-test-logits', missing('l.npy'), ...QUICK], missing('l.npy')],
    ['--checkpoint', ['eval', '--checkpoint', missing('c.safetensors')], missing('c.safetensors')],
    ['--checkpoint', ['export', '--checkpoint', missing('c.safetensors'), '--out', join(dir, 'c.onnx')], missing('c.safetensors')],
    ['--train-images', ['train', '--model', 'student-cnn', '--train-images', missing('ti'), '--train-labels', missing('tl'), '--test-images', missing('si'), '--test-labels', missing('sl'), ...QUICK], missing('ti')],
    ['--train-labels', ['train', '--model', 'student-cnn', '--train-images', TEACHER, '--train-labels', missing('tl'), '--test-images', TEACHER, '--test-labels', TEACHER, ...QUICK], missing('tl')],
    ['--test-images', ['train', '--model', 'student-cnn', '--train-images', TEACHER, '--train-labels', TEACHER, '--test-images', missing('si'), '--test-labels', TEACHER, ...QUICK], missing('si')],
    ['--test-labels', ['train', '--model', 'student-cnn', '--train-images', TEACHER, '--train-labels', TEACHER, '--test-images', TEACHER, '--test-labels', missing('sl'), ...QUICK], missing('sl')],
    ['--train-csv', ['train', '--model', 'student-cnn', '--train-csv', missing('a.csv'), '--test-csv', missing('b.csv'), ...QUICK], missing('a.csv')],
    ['--test-csv', ['distill', '--teacher', TEACHER, '--train-csv', TEACHER, '--test-csv', missing('b.csv'), ...QUICK], missing('b.csv')],
    ['--data-dir', ['train', '--model', 'student-cnn', '--data-dir', missing('d'), ...QUICK], missing('d')],
    ['--data-dir', ['eval', '--checkpoint', TEACHER, '--data-dir', missing('d')], missing('d')],
    ['--checks', ['verify', '--checks', missing('k.mjs')], missing('k.mjs')],
  ];
  for (const [option, args, path] of cases) {
    it(`${args[0]} ${option}`, async () => {
      const out = await fails(args);
      const what = option === '--data-dir' ? 'no such folder' : 'no such file';
      expect(out.trim()).toBe(`kdgpu: ${option} ${path}: ${what}`);
    });
  }

  it('the library names the path in words', async () => {
    const { loadCheckpoint } = await import('../src/io/checkpoint-file.js');
    const { readDataFile } = await import('../src/data/node-files.js');
    await expect(loadCheckpoint(missing('c.safetensors'))).rejects.toThrow(`${missing('c.safetensors')}: no such file`);
    await expect(readDataFile(missing('images.gz'))).rejects.toThrow(`${missing('images.gz')}: no such file`);
  });
});
