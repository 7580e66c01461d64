// The GEMM core's TypeScript side: its WGSL (shaders/gemm_core.wgsl, which matmul.wgsl and the
// three conv2d kernels build on), its tilings and the one picker that chooses among them.

import core from '../../shaders/gemm_core.wgsl';
import type { Engine } from '../gpu/engine.js';

/** The core's source; a kernel's source is `gemmCore + its operand loaders and epilogue`. */
export const gemmCore = core;

/**
 * Work per invocation: a TM×TN block of C, TM rows (4 to 32) by TN columns (8 or 16), in a 1-D
 * workgroup of WG invocations (neighbouring invocations take neighbouring column blocks, then
 * the next rows).
 */
export interface GemmTiling {
  TM: number;
  TN: 8 | 16;
  WG: number;
}

/** The pipeline constants of a tiling (the default variant of every GEMM kernel). */
export const DEFAULT_TILE = { TM: 32, TN: 16, WG: 16 } as const;

export const tileVariant = (t: GemmTiling) => ({ TM: t.TM, TN: t.TN, WG: t.WG });

/** Workgroups for a rows × cols GEMM. */
export function gemmWorkgroups(rows: number, cols: number, t: GemmTiling, splits = 1): number {
  return Math.ceil((Math.ceil(rows / t.TM) * Math.ceil(cols / t.TN) * splits) / t.WG);
}

/**
 * The tiling for a GEMM of `rows` × `cols`. On GPUs, small blocks and many invocations (few
 * registers each). On CPU-emulated adapters (SwiftShader) the block with the lowest estimated
 * cost: per block and chunk of 4 k, 4·(TM + TN) loads (per-lane gathers there, which dominate)
 * and 4·TM·TN multiply-adds at about 1/19 of a load each (both fitted to timings on
 * SwiftShader). So: blocks as big as the code allows (32 rows, 16 columns), 8 columns when 8
 * suffice (a classifier's 10 logits take one 16-column block), and fewer rows when a small row
 * count would pad a 32-row block. Heights are powers of two (all multiples of 4, as pooled rows
 * need): every height is a pipeline of its own to build, and odd heights saved little.
 */
export function pickGemmTiling(engine: Engine, rows: number, cols: number): GemmTiling {
  if (!engine.software) return { TM: 4, TN: cols <= 8 ? 8 : 16, WG: 64 };
  let best: GemmTiling = { TM: 4, TN: 8, WG: 16 };
  let bestCost = Infinity;
  for (const TN of [8, 16] as const) {
    for (const TM of [4, 8, 16, 32]) {
      const cost = Math.ceil(rows / TM) * Math.ceil(cols / TN) * (0.76 * (TM + TN) + 0.04 * TM * TN);
      if (cost <= bestCost) {
        best = { TM, TN, WG: 16 };
        bestCost = cost;
      }
    }
  }
  return best;
}
