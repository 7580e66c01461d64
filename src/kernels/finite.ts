// Inf/NaN detection on the GPU (see shaders/finite_check.wgsl): the training loop checks the
// loss, the logits' gradient, the parameter gradients and the parameters every step, and reads
// the verdict only when it reads its metrics.

import source from '../../shaders/finite_check.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel } from '../gpu/kernel.js';

const WG = 64;

export const finiteCheckKernel = defineKernel({
  name: 'finite_check',
  source,
  bindings: [
    { name: 'x', type: 'f32', access: 'read' },
    { name: 'health', type: 'atomic<u32>', access: 'read_write' },
  ],
  uniforms: [
    ['n', 'u32'],
    ['step', 'u32'],
    ['tensor', 'u32'],
  ],
  workgroupSize: () => [WG, 1, 1],
});

/** The 4-u32 health record after reset: no fault, first bad index "none". */
export const HEALTHY = Uint32Array.of(0, 0, 0, 0xffffffff);

export function finiteCheck(engine: Engine, x: Binding, n: number, health: Binding, step: number, tensor: number): void {
  engine.dispatch(finiteCheckKernel, { bind: { x, health }, uniforms: { n, step, tensor }, workgroups: Math.ceil(n / (WG * 4)) });
}
