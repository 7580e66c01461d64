// The GEMM core: C = act(op(A)·op(B) + bias) with optional accumulation into C.

import source from '../../shaders/matmul.wgsl';
import type { Engine } from '../gpu/engine.js';
import { defineKernel } from '../gpu/kernel.js';
import type { KernelCheck, VerifyCase } from './check.js';
import { sumTolerance } from './check.js';

export type Activation = 'none' | 'relu';
const ACTIVATIONS: Record<Activation, number> = { none: 0, relu: 1 };

const TILE = { TM: 4, TN: 4, WGX: 8, WGY: 8 };

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
  constants: { TRANS_A: false, TRANS_B: false, HAS_BIAS: false, ACCUM: false, ACT: 0, TM: TILE.TM, TN: TILE.TN },
  workgroupSize: () => [TILE.WGX, TILE.WGY, 1],
});

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  /** Bias of length N added to every row. */
  bias?: GPUBuffer;
  activation?: Activation;
  /** C += result instead of C = result (gradient accumulation). */
  accumulate?: boolean;
}

/** c[M, N] = act(op(a) · op(b) + bias) (+ c). Shapes are those of op(a) [M, K] and op(b) [K, N]. */
export function matmul(
  engine: Engine,
  a: GPUBuffer,
  b: GPUBuffer,
  c: GPUBuffer,
  M: number,
  N: number,
  K: number,
  opts: MatmulOptions = {},
): void {
  engine.dispatch(matmulKernel, {
    variant: {
      TRANS_A: !!opts.transA,
      TRANS_B: !!opts.transB,
      HAS_BIAS: !!opts.bias,
      ACCUM: !!opts.accumulate,
      ACT: ACTIVATIONS[opts.activation ?? 'none'],
    },
    // An unused binding still needs a buffer; `a` is read-only, so binding it twice is legal.
    bind: { a, b, bias: opts.bias ?? a, c },
    uniforms: { M, N, K },
    workgroups: [Math.ceil(N / (TILE.TN * TILE.WGX)), Math.ceil(M / (TILE.TM * TILE.WGY)), 1],
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
    const shapes: Array<[number, number, number]> = [
      [1, 1, 1],
      [1, 7, 3],
      [5, 1, 9],
      [64, 64, 64],
      [67, 129, 31],
      [33 + rng.int(40), 17 + rng.int(60), 1 + rng.int(200)],
      [128, 10, 784],
      [3, 300, 1],
    ];
    let variant = 0;
    for (const [M, N, K] of shapes) {
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
        cases.push({
          shape: `${M}x${N}x${K}${transA ? ' Aᵀ' : ''}${transB ? ' Bᵀ' : ''}${hasBias ? ' +bias' : ''}${activation === 'relu' ? ' relu' : ''}${accumulate ? ' +=C' : ''}`,
          inputs,
          outputs: { c: M * N },
          run: (e, bufs) =>
            matmul(e, bufs.a, bufs.b, bufs.c, M, N, K, { transA, transB, bias: hasBias ? bufs.bias : undefined, activation, accumulate }),
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
