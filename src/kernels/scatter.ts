// Row scatter: a batch of per-sample rows to their dataset positions.

import source from '../../shaders/scatter_rows.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel } from '../gpu/kernel.js';

const WG = 64;

export const scatterRowsKernel = defineKernel({
  name: 'scatter_rows',
  source,
  bindings: [
    { name: 'src', type: 'f32', access: 'read' },
    { name: 'idx', type: 'u32', access: 'read' },
    { name: 'dst', type: 'f32', access: 'read_write' },
  ],
  uniforms: [
    ['rows', 'u32'],
    ['cols', 'u32'],
  ],
  workgroupSize: () => [WG, 1, 1],
});

/** dst[idx[r]·cols + c] = src[r·cols + c]; other rows of dst are left as they are. */
export function scatterRows(engine: Engine, src: Binding, idx: Binding, dst: Binding, rows: number, cols: number): void {
  engine.dispatch(scatterRowsKernel, { bind: { src, idx, dst }, uniforms: { rows, cols }, workgroups: Math.ceil((rows * cols) / WG) });
}
