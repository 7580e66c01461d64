// Row scatter: a batch of per-sample rows to their dataset positions.

import source from '../../shaders/scatter_rows.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel } from '../gpu/kernel.js';
import type { KernelCheck, VerifyCase } from './check.js';

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

export const scatterCheck: KernelCheck = {
  name: 'scatter_rows',
  kernels: [scatterRowsKernel],
  cases(rng) {
    const cases: VerifyCase[] = [];
    for (const [rows, cols, total] of [[1, 1, 1], [500, 10, 2000], [37, 100, 41], [7, 3, 100_000]] as const) {
      const src = rng.fillUniform(rows * cols);
      const idx = rng.permutation(total).slice(0, rows);
      const dst0 = rng.fillUniform(total * cols);
      cases.push({
        shape: `${rows} rows of ${cols} into ${total}`,
        inputs: { src, idx, dst: dst0 },
        outputs: { dst: total * cols },
        run: (e, b) => scatterRows(e, b.src, b.idx, b.dst, rows, cols),
        reference: () => {
          const out = Float64Array.from(dst0);
          for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[idx[r] * cols + c] = src[r * cols + c];
          return { dst: out };
        },
        tolerance: { abs: 0, rel: 0 },
      });
    }
    return cases;
  },
};
