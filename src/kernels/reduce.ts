// Sum and mean over one axis of a tensor of any rank.

import source from '../../shaders/reduce.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel } from '../gpu/kernel.js';

const WG = 128;

export const reduceKernel = defineKernel({
  name: 'reduce_axis',
  source,
  bindings: [
    { name: 'x', type: 'f32', access: 'read' },
    { name: 'out', type: 'f32', access: 'read_write' },
  ],
  uniforms: [
    ['outer', 'u32'],
    ['axis', 'u32'],
    ['inner', 'u32'],
    ['scale', 'f32'],
  ],
  constants: { ROWS: false, ACCUM: false },
  workgroupSize: () => [WG, 1, 1],
});

/** Split `shape` around `axis` into [outer, axis, inner]. */
export function splitAxis(shape: readonly number[], axis: number): [number, number, number] {
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) {
    throw new Error(`reduce: axis ${axis} is out of range for shape [${shape.join(', ')}]`);
  }
  const prod = (s: readonly number[]) => s.reduce((p, d) => p * d, 1);
  return [prod(shape.slice(0, axis)), shape[axis], prod(shape.slice(axis + 1))];
}

/** out = sum (or mean) of x over `axis`; out has shape with that axis removed. */
export function reduceAxis(
  engine: Engine,
  x: Binding,
  out: Binding,
  shape: readonly number[],
  axis: number,
  kind: 'sum' | 'mean' = 'sum',
  accumulate = false,
): void {
  const [outer, len, inner] = splitAxis(shape, axis);
  // A workgroup per row pays off only for long rows, and on CPU devices only when they are few.
  const rows = inner === 1 && len > 4 * WG && outer < (engine.software ? 16 : 4096);
  engine.dispatch(reduceKernel, {
    variant: { ROWS: rows, ACCUM: accumulate },
    bind: { x, out },
    uniforms: { outer, axis: len, inner, scale: kind === 'mean' ? 1 / len : 1 },
    workgroups: rows ? outer : Math.ceil((outer * inner) / WG),
  });
}
