// C = act(op(A)·op(B) + bias) with optional accumulation into C, on the GEMM core (gemm.ts).

import source from '../../shaders/matmul.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel } from '../gpu/kernel.js';
import { gemmCore, pickGemmTiling, tilingNow, gemmWorkgroups, tileVariant, DEFAULT_TILE, type GemmTiling } from './gemm.js';

export type Activation = 'none' | 'relu';
const ACTIVATIONS: Record<Activation, number> = { none: 0, relu: 1 };

export const matmulKernel = defineKernel({
  name: 'matmul',
  source: gemmCore + source,
  bindings: [
    { name: 'a', type: 'f32', access: 'read' },
    { name: 'b', type: 'f32', access: 'read' },
    { name: 'bias', type: 'f32', access: 'read' },
    { name: 'c', type: 'f32', access: 'read_write' },
  ],
  // The transpositions are strides, not variants: one pipeline serves all four.
  uniforms: (['M', 'N', 'K', 'a_sm', 'a_sk', 'b_sk', 'b_sn'] as const).map((n) => [n, 'u32'] as [string, 'u32']),
  constants: { HAS_BIAS: false, ACCUM: false, ACT: 0, ...DEFAULT_TILE },
  workgroupSize: (c) => [c.WG as number, 1, 1],
});

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  /** Bias of length N added to every row. */
  bias?: Binding;
  activation?: Activation;
  /** C += result instead of C = result (gradient accumulation). */
  accumulate?: boolean;
}

/** c[M, N] = act(op(a) · op(b) + bias) (+ c). Shapes are those of op(a) [M, K] and op(b) [K, N]. */
export function matmul(
  engine: Engine,
  a: Binding,
  b: Binding,
  c: Binding,
  M: number,
  N: number,
  K: number,
  opts: MatmulOptions = {},
): void {
  // At most 16 rows: 32-row blocks build 2-3x slower and were no faster for these GEMMs.
  const picked = pickGemmTiling(engine, M, N, 16);
  dispatchMatmul(engine, a, b, c, M, N, K, opts, tilingNow(engine, matmulKernel, epilogue(opts), picked));
}

const epilogue = (opts: MatmulOptions) => ({ HAS_BIAS: !!opts.bias, ACCUM: !!opts.accumulate, ACT: ACTIVATIONS[opts.activation ?? 'none'] });

/** matmul() with an explicit tiling (verification runs every tiling on whatever adapter it has). */
export function dispatchMatmul(
  engine: Engine,
  a: Binding,
  b: Binding,
  c: Binding,
  M: number,
  N: number,
  K: number,
  opts: MatmulOptions,
  tiling: GemmTiling,
): void {
  engine.dispatch(matmulKernel, {
    variant: { ...epilogue(opts), ...tileVariant(tiling) },
    // An unused binding still needs a buffer; `a` is read-only, so binding it twice is legal.
    bind: { a, b, bias: opts.bias ?? a, c },
    uniforms: {
      M, N, K,
      a_sm: opts.transA ? 1 : K, a_sk: opts.transA ? M : 1,
      b_sk: opts.transB ? 1 : N, b_sn: opts.transB ? K : 1,
    },
    workgroups: gemmWorkgroups(M, N, tiling),
  });
}
