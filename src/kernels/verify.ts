// The verifier: every registered kernel on fresh random inputs and shapes, against its float64
// reference, on whatever adapter the engine holds. Outputs are filled with NaN first, so an
// element the kernel never writes fails.

import type { Engine } from '../gpu/engine.js';
import { definedKernels } from '../gpu/kernel.js';
import { Rng } from '../util/rng.js';
import { registry } from './registry.js';
import type { KernelCheck } from './check.js';

export interface VerifyRow {
  kernel: string;
  shape: string;
  output: string;
  maxAbsError: number;
  maxRelError: number;
  tolerance: string;
  pass: boolean;
  /** Why it failed: the first bad element. */
  detail?: string;
}

export interface VerifyOptions {
  seed?: number;
  /** Only kernels whose name contains this. */
  filter?: string;
  onRow?: (row: VerifyRow) => void;
  /** Checks to run besides the built-in registry (your own kernels). */
  checks?: KernelCheck[];
  /** Run the built-in checks too (default true); false runs `checks` only. */
  builtins?: boolean;
}

export async function verifyKernels(engine: Engine, options: VerifyOptions = {}): Promise<VerifyRow[]> {
  const rng = new Rng(options.seed ?? Date.now() % 2147483647);
  const rows: VerifyRow[] = [];
  const all = [...(options.builtins === false ? [] : registry), ...(options.checks ?? [])];
  const checks: KernelCheck[] = all.filter((c) => !options.filter || c.name.includes(options.filter));
  for (const check of checks) {
    for (const c of check.cases(rng)) {
      const bufs: Record<string, GPUBuffer> = {};
      for (const [name, data] of Object.entries(c.inputs)) bufs[name] = engine.upload(data, name);
      const outputs = Object.entries(c.outputs).map(([name, o]) => ({ name, count: typeof o === 'number' ? o : o.count, u32: typeof o !== 'number' }));
      for (const { name, count, u32 } of outputs) {
        // An output that is also an input (accumulation) keeps its input contents.
        if (bufs[name]) continue;
        const poison = u32 ? new Uint32Array(Math.max(1, count)).fill(0xdeadbeef) : new Float32Array(Math.max(1, count)).fill(NaN);
        bufs[name] = engine.upload(poison, name);
      }
      c.run(engine, bufs);
      const ref = c.reference();
      const scale = c.errorScale?.();
      for (const { name, count, u32 } of outputs) {
        const raw = await engine.read(bufs[name], count * 4);
        const got = u32 ? new Uint32Array(raw) : new Float32Array(raw);
        const row = compare(check.name, c.shape, name, got, ref[name], u32 ? { abs: 0, rel: 0 } : c.tolerance, u32 ? undefined : scale?.[name]);
        rows.push(row);
        options.onRow?.(row);
      }
      for (const b of Object.values(bufs)) engine.release(b);
    }
  }
  return rows;
}

function compare(
  kernel: string,
  shape: string,
  output: string,
  got: Float32Array | Uint32Array,
  ref: Float64Array | undefined,
  tol: { abs: number; rel: number },
  scale?: Float64Array,
): VerifyRow {
  const row: VerifyRow = {
    kernel,
    shape,
    output,
    maxAbsError: 0,
    maxRelError: 0,
    tolerance: `${tol.abs.toExponential(1)} + ${tol.rel.toExponential(1)}·${scale ? 'scale' : '|ref|'}`,
    pass: true,
  };
  if (!ref || ref.length !== got.length || (scale && scale.length !== got.length)) {
    row.pass = false;
    row.detail = `reference has ${ref?.length ?? 'no'} elements${scale ? `, error scale ${scale.length}` : ''}, output has ${got.length}`;
    return row;
  }
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i] - ref[i]);
    const mag = scale ? scale[i] : Math.abs(ref[i]);
    const bad = !(err <= tol.abs + tol.rel * mag); // NaN (unwritten) fails here
    if (!Number.isNaN(err)) {
      row.maxAbsError = Math.max(row.maxAbsError, err);
      row.maxRelError = Math.max(row.maxRelError, err / Math.max(mag, tol.abs / Math.max(tol.rel, 1e-30), 1e-30));
    }
    if (bad && row.pass) {
      row.pass = false;
      row.detail = `element ${i}: got ${got[i]}, expected ${ref[i]}`;
    }
    if (Number.isNaN(err)) row.maxAbsError = NaN;
  }
  return row;
}

/** Kernels defined in the program that no registered check dispatched during `verifyKernels`. */
export function unverifiedKernels(engine: Engine): string[] {
  return [...definedKernels.keys()].filter((name) => !engine.dispatchCounts.has(name));
}
