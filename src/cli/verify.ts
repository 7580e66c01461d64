// `kdgpu verify`: every registered kernel against its float64 reference on this adapter.

import type { Engine } from '../gpu/engine.js';
import { verifyKernels, unverifiedKernels, type VerifyRow } from '../kernels/verify.js';
import type { KernelCheck } from '../kernels/check.js';
import { formatTable } from './table.js';
import { emitJson } from './bench.js';

export interface VerifyCliOptions {
  /** The results as JSON: to this file (the table still prints), or, when true, to stdout instead of the table. */
  json?: boolean | string;
  /** Checks besides the built-ins (e.g. loaded by --checks). */
  checks?: KernelCheck[];
  /** false: only `checks`. */
  builtins?: boolean;
  seed?: number;
  filter?: string;
}

export async function runVerifyCommand(engine: Engine, opts: VerifyCliOptions, out: (s: string) => void): Promise<boolean> {
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const started = performance.now();
  const rows = await verifyKernels(engine, { seed, filter: opts.filter, checks: opts.checks, builtins: opts.builtins });
  // Every kernel defined in this process (built-ins and the loaded modules') must be dispatched
  // by some check, unless only part of them ran.
  const unverified = opts.filter || opts.builtins === false ? [] : unverifiedKernels(engine);
  const failed = rows.filter((r) => !r.pass);
  const ok = failed.length === 0 && unverified.length === 0 && rows.length > 0;
  const seconds = (performance.now() - started) / 1000;
  const result = { adapter: engine.adapterName, seed, pass: ok, unverified, seconds, rows };
  if (opts.json === true) {
    emitJson(true, result, out);
    return ok;
  }
  out(`adapter: ${engine.adapterName}   seed: ${seed}`);
  out(
    formatTable(
      ['kernel', 'shape', 'output', 'max abs err', 'max rel err', 'tolerance', 'pass'],
      rows.map((r: VerifyRow) => [
        r.kernel,
        r.shape,
        r.output,
        r.maxAbsError.toExponential(2),
        r.maxRelError.toExponential(2),
        r.tolerance,
        r.pass ? 'ok' : `FAIL (${r.detail})`,
      ]),
    ),
  );
  for (const k of unverified) out(`FAIL: kernel "${k}" is defined but no registered check dispatched it`);
  if (rows.length === 0) out(`FAIL: no kernel matched${opts.filter ? ` --filter ${opts.filter}` : ''}`);
  out(`${rows.length - failed.length} passed, ${failed.length} failed (${seconds.toFixed(1)} s; rerun with --seed ${seed})`);
  emitJson(opts.json, result, out);
  return ok;
}
