// What a kernel must bring to be registered: cases on fresh random inputs, each with a float64
// CPU reference. The verifier (verify.ts) runs them all on the user's adapter.

import type { Engine } from '../gpu/engine.js';
import type { KernelDef } from '../gpu/kernel.js';
import type { Rng } from '../util/rng.js';

export type HostArray = Float32Array | Int32Array | Uint32Array;

export interface VerifyCase {
  /** Human-readable shape, e.g. "M=67 N=129 K=31 transB". */
  shape: string;
  inputs: Record<string, HostArray>;
  /**
   * Output name → element count (f32), or { count, type: 'u32' } for integer outputs, which must
   * match exactly. Outputs are poisoned (NaN, or 0xDEADBEEF) before the run.
   */
  outputs: Record<string, number | { count: number; type: 'u32' }>;
  /** Record the kernel's dispatches; `bufs` holds inputs and outputs by name. */
  run(engine: Engine, bufs: Record<string, GPUBuffer>): void;
  /** Float64 reference for every output. */
  reference(): Record<string, Float64Array>;
  /** Pass when |got − ref| ≤ abs + rel·|ref| for every element (rel·scale with errorScale). */
  tolerance: { abs: number; rel: number };
  /**
   * Per-element magnitudes that the error is relative to instead of |ref|, for algorithms whose
   * error grows with the terms summed rather than with their sum (Winograd: Σ|x|·|w| over the
   * receptive field). Same names and lengths as the outputs.
   */
  errorScale?(): Record<string, Float64Array>;
  /** For `bench kernels`: the work one run does (FLOPs or bytes moved), so a rate can be given. */
  work?: { amount: number; unit: 'GFLOP/s' | 'GB/s' };
}

export interface KernelCheck {
  name: string;
  /** The kernel definitions these cases exercise (coverage is checked by dispatch counts). */
  kernels: KernelDef[];
  cases(rng: Rng): VerifyCase[];
}

/** FLT_EPSILON-scaled tolerance for a sum of `terms` products of magnitude ~1. */
export function sumTolerance(terms: number): { abs: number; rel: number } {
  const eps = 1.1920929e-7;
  return { abs: 8 * eps * Math.sqrt(Math.max(1, terms)) * 4, rel: 16 * eps * Math.sqrt(Math.max(1, terms)) };
}

export function toF64(a: ArrayLike<number>): Float64Array {
  return Float64Array.from(a as ArrayLike<number>);
}
