// Helpers shared by the test files: running the built CLI, and writing IDX bytes.
import { execFile } from 'node:child_process';
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

/** An IDX file: magic, big-endian dimensions, then the bytes. */
export function idxBytes(magic: number, dims: number[], data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, magic);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d));
  out.set(Array.from(data), 4 + 4 * dims.length);
  return out;
}
