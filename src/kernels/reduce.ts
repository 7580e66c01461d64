// Sum and mean over one axis of a tensor of any rank.

import source from '../../shaders/reduce.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel } from '../gpu/kernel.js';
import type { KernelCheck, VerifyCase } from './check.js';
import { sumTolerance } from './check.js';

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
