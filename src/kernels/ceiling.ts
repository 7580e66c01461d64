// The device-ceiling kernels the benchmarks divide by: an FMA-bound chain and a vec4 copy.
// They are verified like every other kernel, so a ceiling is never measured on a broken shader.

import source from '../../shaders/ceiling.wgsl';
import { defineKernel } from '../gpu/kernel.js';
import type { KernelCheck } from './check.js';

export const CEILING_WG = 64;

export const ceilingKernel = defineKernel({
  name: 'ceiling',
  source,
  bindings: [
    { name: 'src', type: 'vec4<f32>', access: 'read' },
    { name: 'dst', type: 'vec4<f32>', access: 'read_write' },
  ],
  uniforms: [
    ['n', 'u32'],
    ['iters', 'u32'],
  ],
  constants: { MODE: 0 },
  workgroupSize: () => [CEILING_WG, 1, 1],
});

/** Flops per invocation per iteration of MODE 0 (8 vec4 chains, a multiply and an add each). */
export const CEILING_FLOPS_PER_ITER = 64;

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
