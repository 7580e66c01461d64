// The device-ceiling kernels the benchmarks divide by: an FMA-bound chain and a vec4 copy.
// They are verified like every other kernel, so a ceiling is never measured on a broken shader.

import source from '../../shaders/ceiling.wgsl';
import { defineKernel } from '../gpu/kernel.js';

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
