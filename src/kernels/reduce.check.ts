// reduce's float64 references and verification cases (kdgpu verify, the test suite), beside the kernels in reduce.ts.

import type { KernelCheck, VerifyCase } from './check.js';
import { sumTolerance } from './check.js';
import { reduceKernel, splitAxis, reduceAxis } from './reduce.js';

export function reduceReference(x: ArrayLike<number>, shape: readonly number[], axis: number, kind: 'sum' | 'mean'): Float64Array {
  const [outer, len, inner] = splitAxis(shape, axis);
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let s = 0;
      for (let a = 0; a < len; a++) s += x[(o * len + a) * inner + i];
      out[o * inner + i] = kind === 'mean' ? s / len : s;
    }
  }
  return out;
}

export const reduceCheck: KernelCheck = {
  name: 'reduce_axis',
  kernels: [reduceKernel],
  cases(rng) {
    const shapes: Array<[number[], number]> = [
      [[1], 0],
      [[7, 13], 1],
      [[7, 13], 0],
      [[3, 129, 5], 1],
      [[2, 3, 4, 5], 2],
      [[1, 100_003], 1],
      [[33, 1 + rng.int(300)], 1],
      [[517, 3], 0],
    ];
    const cases: VerifyCase[] = [];
    for (const [shape, axis] of shapes) {
      for (const kind of ['sum', 'mean'] as const) {
        const n = shape.reduce((p, d) => p * d, 1);
        const x = rng.fillUniform(n, -1, 1);
        const [outer, len, inner] = splitAxis(shape, axis);
        const accumulate = rng.next() < 0.3;
        const out0 = rng.fillUniform(outer * inner);
        cases.push({
          shape: `${kind} [${shape.join('x')}] axis ${axis}${accumulate ? ' +=out' : ''}`,
          inputs: accumulate ? { x, out: out0 } : { x },
          outputs: { out: outer * inner },
          run: (e, b) => reduceAxis(e, b.x, b.out, shape, axis, kind, accumulate),
          reference: () => {
            const r = reduceReference(x, shape, axis, kind);
            if (accumulate) r.forEach((v, i) => (r[i] = v + out0[i]));
            return { out: r };
          },
          tolerance: sumTolerance(len),
        });
      }
    }
    return cases;
  },
};
