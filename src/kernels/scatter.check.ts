// scatter's float64 references and verification cases (kdgpu verify, the test suite), beside the kernels in scatter.ts.

import type { KernelCheck, VerifyCase } from './check.js';
import { scatterRowsKernel, scatterRows } from './scatter.js';

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
