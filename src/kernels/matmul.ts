// The GEMM core: C = act(op(A)·op(B) + bias) with optional accumulation into C.

import source from '../../shaders/matmul.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel } from '../gpu/kernel.js';
import type { KernelCheck, VerifyCase } from './check.js';
import { sumTolerance } from './check.js';

export type Activation = 'none' | 'relu';
const ACTIVATIONS: Record<Activation, number> = { none: 0, relu: 1 };

/**
 * Work per invocation and per workgroup. Each invocation computes a TM×16 block of C (TM = 4, 8
 * or 16; see shaders/matmul.wgsl). CPU-emulated adapters (SwiftShader) want the biggest block,
 * since every load is a per-lane gather there and registers spill cheaply to the stack; GPUs
 * want fewer registers per invocation and more invocations per workgroup.
 */
export interface MatmulTiling {
  TM: 4 | 8 | 16;
  WGX: number;
  WGY: number;
}
export const TN = 16;
export const SOFTWARE_TILING: MatmulTiling = { TM: 16, WGX: 4, WGY: 4 };
export const GPU_TILING: MatmulTiling = { TM: 4, WGX: 8, WGY: 8 };
/**
 * C with at most 16 columns (a classifier's logits): one invocation column per workgroup, so no
 * invocation is idle (with WGX = 4, three in four would have no columns; on SwiftShader, where
 * 4 invocations share one SIMD row, that made the student's last layer 3x slower).
 */
export const NARROW_SOFTWARE_TILING: MatmulTiling = { TM: 16, WGX: 1, WGY: 4 };
export const NARROW_GPU_TILING: MatmulTiling = { TM: 4, WGX: 1, WGY: 64 };

function pickTiling(engine: Engine, N: number): MatmulTiling {
  if (N <= TN) return isSoftware(engine) ? NARROW_SOFTWARE_TILING : NARROW_GPU_TILING;
  return isSoftware(engine) ? SOFTWARE_TILING : GPU_TILING;
}

const isSoftware = (engine: Engine) => engine.software;

export const matmulKernel = defineKernel({
  name: 'matmul',
  source,
  bindings: [
    { name: 'a', type: 'f32', access: 'read' },
    { name: 'b', type: 'f32', access: 'read' },
    { name: 'bias', type: 'f32', access: 'read' },
    { name: 'c', type: 'f32', access: 'read_write' },
  ],
  uniforms: [
    ['M', 'u32'],
    ['N', 'u32'],
    ['K', 'u32'],
  ],
  constants: {
    TRANS_A: false,
    TRANS_B: false,
    HAS_BIAS: false,
    ACCUM: false,
    ACT: 0,
    TM: SOFTWARE_TILING.TM,
    WGX: SOFTWARE_TILING.WGX,
    WGY: SOFTWARE_TILING.WGY,
  },
  workgroupSize: (c) => [c.WGX as number, c.WGY as number, 1],
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
  dispatchMatmul(engine, a, b, c, M, N, K, opts, pickTiling(engine, N));
}

/** matmul() with an explicit tiling (verification runs every tiling on whatever adapter it has). */
function dispatchMatmul(
  engine: Engine,
  a: Binding,
  b: Binding,
  c: Binding,
  M: number,
  N: number,
  K: number,
  opts: MatmulOptions,
  tiling: MatmulTiling,
): void {
  engine.dispatch(matmulKernel, {
    variant: {
      TRANS_A: !!opts.transA,
      TRANS_B: !!opts.transB,
      HAS_BIAS: !!opts.bias,
      ACCUM: !!opts.accumulate,
      ACT: ACTIVATIONS[opts.activation ?? 'none'],
      TM: tiling.TM,
      WGX: tiling.WGX,
      WGY: tiling.WGY,
    },
    // An unused binding still needs a buffer; `a` is read-only, so binding it twice is legal.
    bind: { a, b, bias: opts.bias ?? a, c },
    uniforms: { M, N, K },
    workgroups: [Math.ceil(N / (TN * tiling.WGX)), Math.ceil(M / (tiling.TM * tiling.WGY)), 1],
  });
}

export function matmulReference(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  M: number,
  N: number,
  K: number,
  opts: { transA?: boolean; transB?: boolean; bias?: ArrayLike<number>; activation?: Activation; accumulate?: ArrayLike<number> } = {},
): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const av = opts.transA ? a[k * M + m] : a[m * K + k];
        const bv = opts.transB ? b[n * K + k] : b[k * N + n];
        s += av * bv;
      }
      if (opts.bias) s += opts.bias[n];
      if (opts.accumulate) s += opts.accumulate[m * N + n];
      if (opts.activation === 'relu') s = Math.max(s, 0);
      out[m * N + n] = s;
    }
  }
  return out;
}

export const matmulCheck: KernelCheck = {
  name: 'matmul',
  kernels: [matmulKernel],
  cases(rng) {
    const cases: VerifyCase[] = [];
    // Shapes straddle the 16×16 invocation block and its workgroup, and cover every K % 4
    // (the masked K-remainder chunk). The last entries are run with an explicit tiling, so every
    // tiling is verified on every adapter, not only the one this adapter picks.
    const shapes: Array<[number, number, number, MatmulTiling?]> = [
      [1, 1, 1],
      [1, 7, 3],
      [5, 1, 9],
      [64, 64, 64],
      [67, 129, 31],
      [33 + rng.int(40), 17 + rng.int(60), 1 + rng.int(200)],
      [128, 10, 784],
      [3, 300, 1],
      [130, 70, 130],
      [67, 129, 31, SOFTWARE_TILING],
      [67, 129, 31, GPU_TILING],
      [67, 129, 31, { TM: 8, WGX: 2, WGY: 8 }],
      [70, 40, 66, SOFTWARE_TILING],
      [70, 40, 66, GPU_TILING],
      [129, 10, 67, NARROW_SOFTWARE_TILING],
      [129, 10, 67, NARROW_GPU_TILING],
    ];
    let variant = 0;
    for (const [M, N, K, tiling] of shapes) {
      for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
        const hasBias = variant % 3 === 1;
        const activation: Activation = variant % 2 === 1 ? 'relu' : 'none';
        const accumulate = variant % 5 === 2;
        variant++;
        const a = rng.fillUniform(M * K);
        const b = rng.fillUniform(K * N);
        const bias = rng.fillUniform(N);
        const c0 = rng.fillUniform(M * N);
        const inputs: VerifyCase['inputs'] = { a, b, bias };
        if (accumulate) inputs.c = c0; // accumulates into its input: the harness keeps it unpoisoned
        const opts: MatmulOptions = { transA, transB, activation, accumulate };
        cases.push({
          shape:
            `${M}x${N}x${K}${transA ? ' Aᵀ' : ''}${transB ? ' Bᵀ' : ''}${hasBias ? ' +bias' : ''}${activation === 'relu' ? ' relu' : ''}${accumulate ? ' +=C' : ''}` +
            (tiling ? ` tile ${tiling.TM}x${TN} wg ${tiling.WGX}x${tiling.WGY}` : ''),
          inputs,
          outputs: { c: M * N },
          run: (e, bufs) => {
            const o = { ...opts, bias: hasBias ? bufs.bias : undefined };
            if (tiling) dispatchMatmul(e, bufs.a, bufs.b, bufs.c, M, N, K, o, tiling);
            else matmul(e, bufs.a, bufs.b, bufs.c, M, N, K, o);
          },
          reference: () => ({
            c: matmulReference(a, b, M, N, K, { transA, transB, bias: hasBias ? bias : undefined, activation, accumulate: accumulate ? c0 : undefined }),
          }),
          tolerance: sumTolerance(K),
        });
      }
    }
    return cases;
  },
};
