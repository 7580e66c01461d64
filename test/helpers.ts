// Helpers shared by the test files: running the built CLI, waiting on a child's output, and
// writing IDX bytes.
import { execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

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

/**
 * Resolves with `child`'s stdout so far once it matches `re`; rejects at once, with the child's
 * stderr, if it exits first (a child that cannot start fails the test now, not at its timeout).
 * The child must be spawned with stdout and stderr piped.
 */
export function childPrints(child: ChildProcess, re: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const onOut = (b: Buffer) => {
      out += b.toString();
      if (re.test(out)) done(() => resolve(out));
    };
    const onErr = (b: Buffer) => (err += b.toString());
    const onExit = (code: number | null, signal: string | null) =>
      done(() => reject(new Error(`the child exited (${signal ?? code}) before printing ${re}; its stderr:\n${err.slice(-4000)}`)));
    const done = (then: () => void) => {
      child.stdout!.off('data', onOut);
      child.stderr!.off('data', onErr);
      child.off('exit', onExit);
      then();
    };
    child.stdout!.on('data', onOut);
    child.stderr!.on('data', onErr);
    child.on('exit', onExit);
  });
}

/** An IDX file: magic, big-endian dimensions, then the bytes. */
export function idxBytes(magic: number, dims: number[], data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, magic);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d));
  out.set(Array.from(data), 4 + 4 * dims.length);
  return out;
}
