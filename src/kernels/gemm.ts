// The GEMM core's TypeScript side: its WGSL (shaders/gemm_core.wgsl, which matmul.wgsl and the
// three conv2d kernels build on), its tilings and the one picker that chooses among them.

import core from '../../shaders/gemm_core.wgsl';
import type { Engine } from '../gpu/engine.js';
import type { KernelDef, Variant } from '../gpu/kernel.js';

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
 * `maxRows` caps the height: a 32-row pipeline takes 2-3x as long to build as a 16-row one, and
 * only the convolutions measurably gain from it (the teacher step: 12-15% slower at 16 rows).
 */
export function pickGemmTiling(engine: Engine, rows: number, cols: number, maxRows: 16 | 32 = 32): GemmTiling {
  if (!engine.software) return { TM: 4, TN: cols <= 8 ? 8 : 16, WG: 64 };
  let best: GemmTiling = { TM: 4, TN: 8, WG: 16 };
  let bestCost = Infinity;
  for (const TN of [8, 16] as const) {
    for (const TM of [4, 8, 16, 32].filter((h) => h <= maxRows)) {
      const cost = Math.ceil(rows / TM) * Math.ceil(cols / TN) * chunkCost({ TM, TN, WG: 16 });
      if (cost <= bestCost) {
        best = { TM, TN, WG: 16 };
        bestCost = cost;
      }
    }
  }
  return best;
}

/** The estimated cost of one block's chunk of 4 k on CPU-emulated adapters (see pickGemmTiling). */
export const chunkCost = (t: GemmTiling): number => 0.76 * (t.TM + t.TN) + 0.04 * t.TM * t.TN;

/** The estimated cost of a rows × cols × K GEMM in the tiling `t` on CPU-emulated adapters. */
export const softwareGemmCost = (rows: number, cols: number, K: number, t: GemmTiling): number =>
  Math.ceil(rows / t.TM) * Math.ceil(cols / t.TN) * Math.ceil(K / 4) * chunkCost(t);

/**
 * The tiling to dispatch with now: `best` once its pipeline is built; before that, its quick twin
 * (the 4-row block of the same width, which builds in a fraction of the time) if that is built or
 * `best` is being built in the background (see prepareRun in src/train.ts); otherwise `best`,
 * built on the spot. Results do not depend on the choice: every tiling sums each output over k in
 * the same order (and a split reduction is split the same way whatever the tiling), so a run gives
 * the same numbers whenever its big pipelines arrive.
 */
export function tilingNow(engine: Engine, def: KernelDef, constants: Variant, best: GemmTiling): GemmTiling {
  const variant = { ...constants, ...tileVariant(best) };
  if (best.TM <= QUICK_ROWS || engine.built(def, variant)) return best;
  const quick = { ...best, TM: QUICK_ROWS };
  return engine.built(def, { ...constants, ...tileVariant(quick) }) || engine.building(def, variant) ? quick : best;
}

const QUICK_ROWS = 4;

/**
 * The quick twins of a plan's GEMM variants (4-row blocks), to build before the first step while
 * the planned ones build in the background: a first step in about a second on a CPU adapter
 * instead of after every big pipeline.
 */
export function quickVariants(plan: Array<[KernelDef, Variant]>): Array<[KernelDef, Variant]> {
  return plan.filter(([, v]) => hasQuickTwin(v)).map(([def, v]) => [def, { ...v, TM: QUICK_ROWS }]);
}

/** Whether a variant is a GEMM tiling taller than its quick twin. */
export const hasQuickTwin = (v: Variant): boolean => typeof v.TM === 'number' && v.TM > QUICK_ROWS && 'TN' in v;
