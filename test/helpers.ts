// Helpers shared by the test files: running the built CLI (to its end, or started for a test that
// signals it mid-run), waiting on a child's output, writing IDX bytes (and a slice of Fashion-MNIST
// as IDX files), distill's options as the CLI fills them.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadDatasetSpec } from '../src/data/load-dataset.js';
import type { DistillCliOptions } from '../src/cli/distill.js';
import { declaredDefaults } from '../src/options.js';

const run = promisify(execFile);

/** Run `kdgpu args…` (bin/kdgpu.js); rejects when it exits non-zero. */
export function kdgpu(args: string[], timeout = 900_000): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ['bin/kdgpu.js', ...args], { timeout });
}

/** Run `kdgpu args…` expecting a failure: its exit code and everything it printed. */
export async function kdgpuFails(args: string[]): Promise<{ code: number; out: string }> {
  try {
    await kdgpu(args);
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, out: err.stdout + err.stderr };
  }
  throw new Error(`kdgpu ${args.join(' ')} succeeded`);
}

/** A child whose output a test waits on: what it printed, and when it ends. */
export interface WatchedChild {
  child: ChildProcess;
  /**
   * Resolves with everything the child printed on stdout once that matches `re` (output printed
   * before the call counts); rejects at once, with the child's stderr, if it ends first (a child
   * that cannot start fails the test now, not at its timeout).
   */
  prints(re: RegExp): Promise<string>;
  /** Resolves when the child has exited: its exit code, or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Watches `child`, which must be spawned with stdout and stderr piped, from now on. */
export function watchChild(child: ChildProcess): WatchedChild {
  let out = '';
  let err = '';
  let ended = false;
  const waiting = new Set<() => void>();
  const wake = () => {
    for (const check of [...waiting]) check();
  };
  child.stdout!.on('data', (b: Buffer) => {
    out += b.toString();
    wake();
  });
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  // 'close' comes after the last of the child's output, 'exit' possibly before it.
  child.on('close', () => {
    ended = true;
    wake();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const prints = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        if (re.test(out)) resolve(out);
        else if (ended) reject(new Error(`the child exited (${child.signalCode ?? child.exitCode}) before printing ${re}; its stderr:\n${err.slice(-4000)}`));
        else return;
        waiting.delete(check);
      };
      waiting.add(check);
      check();
    });
  return { child, prints, exited };
}

/**
 * Resolves with `child`'s stdout once it matches `re`; rejects at once, with the child's stderr, if
 * it exits first. The child must be spawned with stdout and stderr piped, and this called at once.
 */
export function childPrints(child: ChildProcess, re: RegExp): Promise<string> {
  return watchChild(child).prints(re);
}

/**
 * `kdgpu args…` (bin/kdgpu.js) started as a child, stdout and stderr piped: for a test that waits
 * for a line of its output and then signals it (SIGKILL mid-save, SIGTERM while it holds a lock).
 */
export function startCli(args: string[]): WatchedChild {
  return watchChild(spawn(process.execPath, ['bin/kdgpu.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** The pid of a process that has exited (a stale lock's or a killed writer's, made for certain). */
export const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid!;

/** An IDX file: magic, big-endian dimensions, then the bytes. */
export function idxBytes(magic: number, dims: number[], data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, magic);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d));
  out.set(Array.from(data), 4 + 4 * dims.length);
  return out;
}

/** The first `trainN` training and `testN` test images of Fashion-MNIST, written as IDX files in `dir`. */
export async function writeFashionSlice(dir: string, trainN: number, testN: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const full = await loadDatasetSpec({ kind: 'fashion-mnist', dir: '/usr/share/datasets/fashion-mnist' }, { mean: [0], std: [1] });
  for (const [split, ds, n] of [['train', full.train, trainN], ['t10k', full.test, testN]] as const) {
    const pixels = Uint8Array.from(ds.images.subarray(0, n * 784)); // bytes as read (mean 0, std 1 leaves them unnormalised)
    writeFileSync(join(dir, `${split}-images-idx3-ubyte`), idxBytes(0x803, [n, 28, 28], pixels));
    writeFileSync(join(dir, `${split}-labels-idx1-ubyte`), idxBytes(0x801, [n], ds.labels.subarray(0, n)));
  }
}

/** distill's command-line options with its defaults, as commander would fill them (one epoch of KD, batch 64). */
export function distillCli(o: Partial<DistillCliOptions>): DistillCliOptions {
  return { ...declaredDefaults(), method: 'kd', epochs: 1, batchSize: 64, progress: false, ...o };
}
