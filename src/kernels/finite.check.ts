// finite's float64 references and verification cases (kdgpu verify, the test suite), beside the kernels in finite.ts.

import type { KernelCheck, VerifyCase } from './check.js';
import { finiteCheckKernel, HEALTHY, finiteCheck } from './finite.js';

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
