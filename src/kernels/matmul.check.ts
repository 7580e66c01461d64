// matmul's float64 references and verification cases (kdgpu verify, the test suite), beside the kernels in matmul.ts.

import type { KernelCheck, VerifyCase } from './check.js';
import { sumTolerance } from './check.js';
import { type GemmTiling } from './gemm.js';
import { type Activation, matmulKernel, type MatmulOptions, matmul, dispatchMatmul } from './matmul.js';

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
    // Shapes straddle the invocation blocks and their workgroups, and cover every K % 4 (the
    // single-k steps after the chunks). The last entries are run with an explicit tiling, so the
    // tilings either kind of adapter picks are verified on every adapter.
    const shapes: Array<[number, number, number, GemmTiling?]> = [
      [1, 1, 1],
      [1, 7, 3],
      [5, 1, 9],
      [64, 64, 64],
      [67, 129, 31],
      [33 + rng.int(40), 17 + rng.int(60), 1 + rng.int(200)],
      [128, 10, 784],
      [3, 300, 1],
      [130, 70, 130],
      [67, 129, 31, { TM: 32, TN: 16, WG: 16 }],
      [67, 129, 31, { TM: 4, TN: 16, WG: 64 }],
      [67, 129, 31, { TM: 7, TN: 8, WG: 16 }],
      [70, 40, 66, { TM: 16, TN: 16, WG: 16 }],
      [70, 40, 66, { TM: 4, TN: 8, WG: 64 }],
      [129, 10, 67, { TM: 32, TN: 16, WG: 16 }],
      [129, 10, 67, { TM: 4, TN: 16, WG: 64 }],
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
            (tiling ? ` tile ${tiling.TM}x${tiling.TN} wg ${tiling.WG}` : ''),
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
