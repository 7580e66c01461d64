// The rules every output follows: no output touches an input (same path, symlink or hard link),
// whatever --overwrite says; nothing existing is replaced without --overwrite; one run per output.
import { beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deadPid, idxBytes, kdgpu, kdgpuFails, startCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kdgpu-outputs-'));
const at = (...p: string[]) => join(dir, ...p);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A tiny CSV dataset (4x4 grey images, 3 classes) and the same as IDX files. */
function writeData(): void {
  mkdirSync(at('csv'));
  const row = (i: number) => [i % 3, ...Array.from({ length: 16 }, (_, p) => (i * 37 + p * 11) % 256)].join(',');
  writeFileSync(at('csv', 'train.csv'), Array.from({ length: 24 }, (_, i) => row(i)).join('\n') + '\n');
  writeFileSync(at('csv', 'test.csv'), Array.from({ length: 6 }, (_, i) => row(i + 100)).join('\n') + '\n');
  mkdirSync(at('idx'));
  const pixels = Array.from({ length: 24 * 16 }, (_, i) => (i * 7) % 256);
  writeFileSync(at('idx', 'train-images'), idxBytes(0x803, [24, 4, 4], pixels));
  writeFileSync(at('idx', 'train-labels'), idxBytes(0x801, [24], Array.from({ length: 24 }, (_, i) => i % 3)));
  writeFileSync(at('idx', 'test-images'), idxBytes(0x803, [6, 4, 4], pixels.slice(0, 96)));
  writeFileSync(at('idx', 'test-labels'), idxBytes(0x801, [6], [0, 1, 2, 0, 1, 2]));
  // Fashion-MNIST's file names (bench profile's --data-dir); the checks come before any is read.
  mkdirSync(at('fm'));
  for (const f of ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']) writeFileSync(at('fm', f), 'stand-in');
  writeFileSync(at('teacher-logits.npy'), 'stand-in');
  writeFileSync(at('teacher.onnx'), 'stand-in');
  writeFileSync(at('my-checks.mjs'), 'export const checks = [];\n');
}

const TEACHER = () => at('teacher.safetensors'); // trained on csv/, which it records
const RESUMED = () => at('resumed.safetensors'); // a run of train on csv/, to --resume

/** An input a command reads: the options that make it read `victim`. */
interface InputKind {
  kind: string;
  /** How the error names it. */
  named: string;
  victim: () => string;
  args: string[] | (() => string[]);
  /** It is --out itself (--resume): --out cannot be the colliding output, and --overwrite does not go with it. */
  resume?: boolean;
}

const csvNamed = () => ['--train-csv', at('csv', 'train.csv'), '--test-csv', at('csv', 'test.csv')];
const INPUTS: Record<string, InputKind> = {
  teacher: { kind: 'teacher checkpoint', named: '--teacher', victim: TEACHER, args: () => ['--teacher', TEACHER()] },
  onnx: { kind: 'ONNX teacher', named: '--teacher', victim: () => at('teacher.onnx'), args: () => ['--teacher', at('teacher.onnx')] },
  logits: { kind: 'teacher logits', named: '--teacher-logits', victim: () => at('teacher-logits.npy'), args: () => ['--teacher-logits', at('teacher-logits.npy'), ...csvNamed()] },
  testLogits: { kind: 'teacher test logits', named: '--teacher-test-logits', victim: () => at('csv', 'test.csv'), args: () => ['--teacher-logits', at('teacher-logits.npy'), '--teacher-test-logits', at('csv', 'test.csv'), ...csvNamed()] },
  checkpoint: { kind: 'checkpoint', named: '--checkpoint', victim: TEACHER, args: () => ['--checkpoint', TEACHER()] },
  csvNamed: { kind: 'CSV file named', named: 'the csv file', victim: () => at('csv', 'train.csv'), args: csvNamed },
  idxNamed: {
    kind: 'IDX file named',
    named: 'the idx file',
    victim: () => at('idx', 'train-labels'),
    args: () => ['--train-images', at('idx', 'train-images'), '--train-labels', at('idx', 'train-labels'), '--test-images', at('idx', 'test-images'), '--test-labels', at('idx', 'test-labels')],
  },
  dataDir: { kind: 'file in --data-dir', named: 'the csv file', victim: () => at('csv', 'test.csv'), args: () => ['--dataset', 'csv', '--data-dir', at('csv')] },
  recorded: { kind: "file the teacher records", named: `the csv file \\S+ \\(data recorded by --teacher ${escape(TEACHER())}\\)`, victim: () => at('csv', 'train.csv'), args: () => ['--teacher', TEACHER()] },
  resumeRecorded: { kind: 'file the resumed run records', named: 'the csv file \\S+ \\(data recorded by --out', victim: () => at('csv', 'test.csv'), args: () => ['--resume', '--out', RESUMED()], resume: true },
  resumeFile: { kind: 'the run --resume continues', named: '--out', victim: RESUMED, args: () => ['--resume', '--out', RESUMED()], resume: true },
  checks: { kind: '--checks module', named: '--checks', victim: () => at('my-checks.mjs'), args: () => ['--checks', at('my-checks.mjs')] },
  fmDir: { kind: 'file in --data-dir', named: 'the fashion-mnist file', victim: () => at('fm', 'train-labels-idx1-ubyte.gz'), args: () => ['--data-dir', at('fm')] },
};

/** Each command, its outputs and the inputs it reads. */
const COMMANDS: Array<{ command: string[]; outputs: string[]; inputs: string[] }> = [
  { command: ['train', '--model', 'student-cnn'], outputs: ['--out', '--metrics'], inputs: ['csvNamed', 'idxNamed', 'dataDir', 'resumeRecorded', 'resumeFile'] },
  { command: ['distill', '--method', 'kd'], outputs: ['--out', '--metrics'], inputs: ['teacher', 'onnx', 'logits', 'testLogits', 'recorded', 'csvNamed', 'idxNamed', 'dataDir', 'resumeFile'] },
  { command: ['ablate', '--methods', 'kd'], outputs: ['--out-dir'], inputs: ['teacher', 'recorded', 'csvNamed', 'idxNamed', 'dataDir'] },
  { command: ['export', '--out', at('unrelated.onnx')], outputs: ['--json'], inputs: ['checkpoint'] },
  { command: ['export'], outputs: ['--out'], inputs: ['checkpoint'] },
  { command: ['verify'], outputs: ['--json'], inputs: ['checks'] },
  { command: ['bench', 'kernels'], outputs: ['--json'], inputs: ['checks'] },
  { command: ['bench', 'profile'], outputs: ['--json'], inputs: ['fmDir'] },
];

const LINKS = ['same path', 'symlink', 'hard link'] as const;
let counter = 0;

/** The output path for `link` to `victim`: the victim itself, or a new name that is the same file. */
function collide(link: (typeof LINKS)[number], victim: string, name: string): string {
  if (link === 'same path') return victim;
  const path = at(`link-${counter++}`, name);
  mkdirSync(join(path, '..'));
  (link === 'symlink' ? symlinkSync : linkSync)(victim, path);
  return path;
}

beforeAll(async () => {
  writeData();
  await kdgpu(['train', '--model', 'student-cnn', '--dataset', 'csv', '--data-dir', at('csv'), '--epochs', '1', '--batch', '8', '--no-progress', '--out', TEACHER()]);
  copyFileSync(TEACHER(), RESUMED());
}, 300_000);

describe('no output touches an input, whatever --overwrite says', () => {
  for (const { command, outputs, inputs } of COMMANDS) {
    for (const output of outputs) {
      for (const key of inputs) {
        const input = INPUTS[key];
        if (input.resume && output === '--out') continue; // --resume's --out is meant to be read and written
        for (const link of LINKS) {
          if (output === '--out-dir' && link === 'same path') continue; // --out-dir names a folder: its files collide through links
          it(`${command[0]} ${command[0] === 'bench' ? command[1] + ' ' : ''}${output} × ${input.kind} (${link})`, async () => {
            const victim = input.victim();
            const before = readFileSync(victim);
            let outArgs: string[];
            let shown: string;
            if (output === '--out-dir') {
              const path = collide(link, victim, 'ablation.json');
              outArgs = ['--out-dir', join(path, '..')];
              shown = "--out-dir's ablation\\.json";
            } else {
              outArgs = [output, collide(link, victim, 'output')];
              shown = escape(output);
            }
            const inputArgs = typeof input.args === 'function' ? input.args() : input.args;
            const teacher = ['distill', 'ablate'].includes(command[0]) && !inputArgs.some((a) => a.startsWith('--teacher')) ? ['--teacher', TEACHER()] : [];
            const args = [...command, ...teacher, ...inputArgs, ...outArgs, ...(input.resume ? [] : ['--overwrite']), '--no-progress'];
            const out = (await kdgpuFails(args.filter((a) => !(a === '--no-progress' && !['train', 'distill', 'ablate'].includes(command[0]))))).out;
            expect(out).toMatch(new RegExp(`${shown} \\S+ is the same file as ${input.named}|${input.named} \\S+ and ${shown} \\S+ are the same file`));
            expect(readFileSync(victim).equals(before)).toBe(true);
          });
        }
      }
    }
  }
});

describe('nothing existing is replaced without --overwrite', () => {
  const existing = () => {
    const path = at(`existing-${counter++}`);
    writeFileSync(path, 'precious');
    return path;
  };
  const cases: Array<[string, (path: string) => string[]]> = [
    // Each would be a short run if the file were not refused.
    ['train --metrics', (p) => ['train', '--model', 'student-cnn', '--dataset', 'csv', '--data-dir', at('csv'), '--epochs', '1', '--batch', '8', '--no-progress', '--metrics', p]],
    ['distill --metrics', (p) => ['distill', '--teacher', TEACHER(), '--method', 'kd', '--epochs', '1', '--batch', '8', '--val-split', '4', '--no-progress', '--metrics', p]],
    ['verify --json', (p) => ['verify', '--filter', 'batchnorm_stats', '--json', p]],
    ['bench --json', (p) => ['bench', 'kernels', '--quick', '--filter', 'batchnorm_stats', '--json', p]],
    ['export --json', (p) => ['export', '--checkpoint', TEACHER(), '--out', at(`fresh-${counter++}.onnx`), '--json', p]],
    ['export --out', (p) => ['export', '--checkpoint', TEACHER(), '--out', p]],
  ];
  for (const [what, args] of cases) {
    it(`${what}: an existing file is refused, naming it, and stays as it was`, async () => {
      const path = existing();
      expect((await kdgpuFails(args(path))).out).toMatch(new RegExp(`${escape(what.split(' ')[1])} ${escape(path)} already exists: pass --overwrite to replace it`));
      expect(readFileSync(path, 'utf8')).toBe('precious');
    });
  }

  it("ablate: an earlier ablation's files in --out-dir", async () => {
    const folder = at(`ablation-${counter++}`);
    mkdirSync(folder);
    writeFileSync(join(folder, 'ablation.md'), 'precious');
    expect((await kdgpuFails(['ablate', '--teacher', TEACHER(), '--methods', 'kd', '--out-dir', folder])).out).toMatch(
      new RegExp(`--out-dir's ablation\\.md ${escape(join(folder, 'ablation.md'))} already exists: pass --resume to continue the ablation it holds, or --overwrite to start a new one`),
    );
    expect(readFileSync(join(folder, 'ablation.md'), 'utf8')).toBe('precious');
  });

  it('an empty file name is refused, not taken as "no output"', async () => {
    const quick = ['--dataset', 'csv', '--data-dir', at('csv'), '--epochs', '1', '--batch', '8', '--no-progress'];
    for (const args of [['train', '--model', 'student-cnn', ...quick, '--out', ''], ['train', '--model', 'student-cnn', ...quick, '--metrics', ''], ['distill', '--teacher', TEACHER(), '--method', 'kd', '--val-split', '4', ...quick, '--out', ''], ['export', '--checkpoint', TEACHER(), '--out', '']]) {
      expect((await kdgpuFails(args)).out).toMatch(new RegExp(`${args.at(-2)} "": expected a file name`));
    }
  });
});

describe('one run per output', () => {
  it('a second run on the same --out is refused naming the first; the lock goes with the first, and a dead run\'s lock is taken over', { timeout: 300_000 }, async () => {
    const out = at('shared.safetensors');
    const run = ['train', '--model', 'student-cnn', '--dataset', 'csv', '--data-dir', at('csv'), '--batch', '8', '--no-progress', '--out', out];
    const { child: first, prints, exited } = startCli([...run, '--epochs', '100000']);
    try {
      await prints(/^training student-cnn/m); // its outputs are locked before this line
      expect(readFileSync(`${out}.lock`, 'utf8').trim()).toBe(String(first.pid));
      const second = await kdgpuFails([...run, '--epochs', '1', '--overwrite']);
      expect(second.out).toMatch(new RegExp(`--out ${escape(out)}: another kdgpu run \\(PID ${first.pid}\\) is writing it`));
    } finally {
      first.kill('SIGTERM');
    }
    expect((await exited).signal).toBe('SIGTERM'); // it still ends by the signal
    expect(existsSync(`${out}.lock`)).toBe(false);
    // A lock left by a process that no longer exists (killed with SIGKILL, say) is taken over.
    writeFileSync(`${out}.lock`, `${deadPid()}\n`);
    const { stdout } = await kdgpu([...run, '--epochs', '1', '--overwrite']);
    expect(stdout).toMatch(/saved/);
    expect(existsSync(`${out}.lock`)).toBe(false);
  });
});
