// Elementwise ops: add, mul, scale, relu, relu backward, axpy, accumulate (out += αa), fill, div (a / (b + α)).

import source from '../../shaders/elementwise.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel } from '../gpu/kernel.js';
import type { KernelCheck, VerifyCase } from './check.js';

export const ELEMENTWISE_OPS = { add: 0, mul: 1, scale: 2, relu: 3, relu_backward: 4, axpy: 5, accumulate: 6, fill: 7, div: 8 } as const;
export type ElementwiseOp = keyof typeof ELEMENTWISE_OPS;

const WG = 64;

export const elementwiseKernel = defineKernel({
  name: 'elementwise',
  source,
  bindings: [
    { name: 'a', type: 'f32', access: 'read' },
    { name: 'b', type: 'f32', access: 'read' },
    { name: 'out', type: 'f32', access: 'read_write' },
  ],
  uniforms: [
    ['n', 'u32'],
    ['alpha', 'f32'],
  ],
  constants: { OP: 0 },
  workgroupSize: () => [WG, 1, 1],
});

/**
 * out[i] = op(a[i], b[i]) for i < n. Unary ops ignore `b` (pass `a`); `accumulate` reads `out`.
 * `out` must not alias `a` or `b`.
 */
export function elementwise(
  engine: Engine,
  op: ElementwiseOp,
  a: Binding,
  b: Binding,
  out: Binding,
  n: number,
  alpha = 1,
): void {
  engine.dispatch(elementwiseKernel, {
    variant: { OP: ELEMENTWISE_OPS[op] },
    bind: { a, b, out },
    uniforms: { n, alpha },
    workgroups: Math.ceil(n / (WG * 4)),
  });
}

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
