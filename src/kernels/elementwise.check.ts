// elementwise's float64 references and verification cases (kdgpu verify, the test suite), beside the kernels in elementwise.ts.

import type { KernelCheck, VerifyCase } from './check.js';
import { ELEMENTWISE_OPS, type ElementwiseOp, elementwiseKernel, elementwise } from './elementwise.js';

export function elementwiseReference(op: ElementwiseOp, a: ArrayLike<number>, b: ArrayLike<number>, alpha: number, out0?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    switch (op) {
      case 'add': out[i] = x + y; break;
      case 'mul': out[i] = x * y; break;
      case 'scale': out[i] = alpha * x; break;
      case 'relu': out[i] = Math.max(x, 0); break;
      case 'relu_backward': out[i] = x > 0 ? y : 0; break;
      case 'axpy': out[i] = x + alpha * y; break;
      case 'accumulate': out[i] = out0![i] + alpha * x; break;
      case 'fill': out[i] = alpha; break;
      case 'div': out[i] = x / (y + alpha); break;
    }
  }
  return out;
}

export const elementwiseCheck: KernelCheck = {
  name: 'elementwise',
  kernels: [elementwiseKernel],
  cases(rng) {
    const cases: VerifyCase[] = [];
    const ops = Object.keys(ELEMENTWISE_OPS) as ElementwiseOp[];
    const sizes = [1, 3, 255, 256, 1000 + rng.int(97), 40_003];
    for (const op of ops) {
      for (const n of sizes) {
        const a = rng.fillUniform(n, -2, 2);
        // div divides by b + α: keep it away from 0.
        const b = op === 'div' ? rng.fillUniform(n, 0.5, 2) : rng.fillUniform(n, -2, 2);
        const alpha = op === 'div' ? rng.uniform(0, 1) : rng.uniform(-3, 3);
        const out0 = rng.fillUniform(n);
        cases.push({
          shape: `${op} n=${n}`,
          inputs: op === 'accumulate' ? { a, b, out: out0 } : { a, b },
          outputs: { out: n },
          run: (e, bufs) => elementwise(e, op, bufs.a, bufs.b, bufs.out, n, alpha),
          reference: () => ({ out: elementwiseReference(op, a, b, Math.fround(alpha), out0) }),
          tolerance: { abs: 1e-6, rel: 1e-6 },
        });
      }
    }
    return cases;
  },
};
