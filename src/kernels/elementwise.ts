// Elementwise ops: add, mul, scale, relu, relu backward, axpy, accumulate (out += αa), fill, div (a / (b + α)).

import source from '../../shaders/elementwise.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel } from '../gpu/kernel.js';

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
