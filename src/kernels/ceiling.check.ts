// ceiling's float64 references and verification cases (kdgpu verify, the test suite), beside the kernels in ceiling.ts.

import type { KernelCheck } from './check.js';
import { CEILING_WG, ceilingKernel } from './ceiling.js';

function fmaChainReference(n: number, iters: number): Float64Array {
  const out = new Float64Array(n * 4);
  for (let i = 0; i < n; i++) {
    for (let lane = 0; lane < 4; lane++) {
      const x = (i & 7) * 1e-3 + lane * 0.01;
      let sum = 0;
      for (let j = 0; j < 8; j++) {
        let a = x + j * 0.1;
        for (let k = 0; k < iters; k++) a = a * 0.9999 + 1e-4;
        sum += a;
      }
      out[i * 4 + lane] = sum;
    }
  }
  return out;
}

export const ceilingCheck: KernelCheck = {
  name: 'ceiling',
  kernels: [ceilingKernel],
  cases(rng) {
    const n = 1 + rng.int(1000);
    const iters = 1 + rng.int(64);
    const src = rng.fillUniform(n * 4);
    return [
      {
        shape: `fma n=${n} iters=${iters}`,
        inputs: { src },
        outputs: { dst: n * 4 },
        run: (e, b) => e.dispatch(ceilingKernel, { variant: { MODE: 0 }, bind: b, uniforms: { n, iters }, workgroups: Math.ceil(n / CEILING_WG) }),
        reference: () => ({ dst: fmaChainReference(n, iters) }),
        tolerance: { abs: 2e-5, rel: 1e-5 },
      },
      {
        shape: `copy n=${n}x4`,
        inputs: { src },
        outputs: { dst: n * 4 },
        run: (e, b) => e.dispatch(ceilingKernel, { variant: { MODE: 1 }, bind: b, uniforms: { n, iters: 0 }, workgroups: Math.ceil(n / CEILING_WG) }),
        reference: () => ({ dst: Float64Array.from(src) }),
        tolerance: { abs: 0, rel: 0 },
      },
    ];
  },
};
