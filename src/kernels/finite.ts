// Inf/NaN detection on the GPU (see shaders/finite_check.wgsl): the training loop checks the
// loss, the logits' gradient, the parameter gradients and the parameters every step, and reads
// the verdict only when it reads its metrics.

import source from '../../shaders/finite_check.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel } from '../gpu/kernel.js';
import type { KernelCheck, VerifyCase } from './check.js';

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

export function finiteCheckReference(x: ArrayLike<number>, health: ArrayLike<number>, step: number, tensor: number): Float64Array {
  const h = Float64Array.from(health);
  if (h[0] !== 0) return h;
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) return Float64Array.of(1, step, tensor, i);
  }
  return h;
}

export const finiteKernelCheck: KernelCheck = {
  name: 'finite_check',
  kernels: [finiteCheckKernel],
  cases(rng) {
    const cases: VerifyCase[] = [];
    for (const [n, bad, preset] of [
      [1, [], false],
      [1000, [], false],
      [1000 + rng.int(500), [777, 5 + rng.int(700)], false],
      [70_000, [69_999], false],
      [300, [3], true],
    ] as Array<[number, number[], boolean]>) {
      const x = rng.fillUniform(n, -1e30, 1e30);
      bad.forEach((i, j) => (x[i] = j % 2 === 0 ? NaN : -Infinity));
      const health = preset ? Uint32Array.of(1, 9, 2, 17) : HEALTHY;
      const step = 1 + rng.int(10_000);
      cases.push({
        shape: `n=${n} ${bad.length ? `bad at ${bad.join(',')}` : 'all finite'}${preset ? ' (already flagged)' : ''}`,
        inputs: { x, health: Uint32Array.from(health) },
        outputs: { health: { count: 4, type: 'u32' as const } },
        run: (e, b) => finiteCheck(e, b.x, n, b.health, step, 3),
        reference: () => ({ health: finiteCheckReference(x, health, step, 3) }),
        tolerance: { abs: 0, rel: 0 },
      });
    }
    return cases;
  },
};
