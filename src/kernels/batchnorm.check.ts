// batchnorm's float64 references and verification cases (kdgpu verify, the test suite), beside the kernels in batchnorm.ts.

import type { KernelCheck, VerifyCase } from './check.js';
import { batchnormStatsKernel, batchnormApplyKernel, batchnormBackwardReduceKernel, batchnormBackwardApplyKernel, type BnShape, batchnormStats, batchnormApply, batchnormBackward } from './batchnorm.js';

export function batchnormReference(
  s: BnShape,
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  dy: ArrayLike<number>,
  eps: number,
): { y: Float64Array; mean: Float64Array; invstd: Float64Array; varUnbiased: Float64Array; dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const M = s.N * s.HW;
  const at = (n: number, c: number, i: number) => (n * s.C + c) * s.HW + i;
  const y = new Float64Array(x.length);
  const dx = new Float64Array(x.length);
  const mean = new Float64Array(s.C);
  const invstd = new Float64Array(s.C);
  const varUnbiased = new Float64Array(s.C);
  const dgamma = new Float64Array(s.C);
  const dbeta = new Float64Array(s.C);
  for (let c = 0; c < s.C; c++) {
    let sum = 0;
    for (let n = 0; n < s.N; n++) for (let i = 0; i < s.HW; i++) sum += x[at(n, c, i)];
    const mu = sum / M;
    let q = 0;
    for (let n = 0; n < s.N; n++) for (let i = 0; i < s.HW; i++) q += (x[at(n, c, i)] - mu) ** 2;
    const v = q / M;
    const inv = 1 / Math.sqrt(v + eps);
    mean[c] = mu;
    invstd[c] = inv;
    varUnbiased[c] = M > 1 ? (q / (M - 1)) : v;
    let sd = 0;
    let sdx = 0;
    for (let n = 0; n < s.N; n++)
      for (let i = 0; i < s.HW; i++) {
        const xh = (x[at(n, c, i)] - mu) * inv;
        y[at(n, c, i)] = gamma[c] * xh + beta[c];
        sd += dy[at(n, c, i)];
        sdx += dy[at(n, c, i)] * xh;
      }
    dgamma[c] = sdx;
    dbeta[c] = sd;
    for (let n = 0; n < s.N; n++)
      for (let i = 0; i < s.HW; i++) {
        const xh = (x[at(n, c, i)] - mu) * inv;
        dx[at(n, c, i)] = gamma[c] * inv * (dy[at(n, c, i)] - sd / M - (xh * sdx) / M);
      }
  }
  return { y, mean, invstd, varUnbiased, dx, dgamma, dbeta };
}

export const batchnormCheck: KernelCheck = {
  name: 'batchnorm',
  kernels: [batchnormStatsKernel, batchnormApplyKernel, batchnormBackwardReduceKernel, batchnormBackwardApplyKernel],
  cases(rng) {
    const shapes: BnShape[] = [
      { N: 1, C: 1, HW: 2 },
      { N: 4, C: 3, HW: 49 },
      { N: 16, C: 8, HW: 64 },
      { N: 2 + rng.int(9), C: 1 + rng.int(17), HW: 1 + rng.int(100) },
      { N: 128, C: 2, HW: 196 },
    ];
    const eps = 1e-5;
    const momentum = 0.1;
    const cases: VerifyCase[] = [];
    shapes.forEach((s, idx) => {
      const n = s.N * s.C * s.HW;
      // An offset and scale per channel, so the statistics are not trivially 0 and 1.
      const x = rng.fillUniform(n).map((v, i) => 3 * v + (Math.floor(i / s.HW) % s.C) - 1);
      const gamma = rng.fillUniform(s.C, 0.5, 1.5);
      const beta = rng.fillUniform(s.C);
      const dy = rng.fillUniform(n);
      const rm0 = rng.fillUniform(s.C);
      const rv0 = rng.fillUniform(s.C, 0.5, 2);
      const accumulate = idx % 2 === 1;
      const dx0 = rng.fillUniform(n);
      const dg0 = rng.fillUniform(s.C);
      const db0 = rng.fillUniform(s.C);
      const label = `N${s.N} C${s.C} HW${s.HW}`;
      const ref = () => batchnormReference(s, x, gamma, beta, dy, eps);
      cases.push({
        shape: `train forward ${label}`,
        inputs: { x, gamma, beta, running_mean: rm0, running_var: rv0 },
        outputs: { y: n, mean: s.C, invstd: s.C, running_mean: s.C, running_var: s.C },
        run: (e, b) => {
          batchnormStats(e, s, { x: b.x, mean: b.mean, invstd: b.invstd, runningMean: b.running_mean, runningVar: b.running_var }, eps, momentum);
          batchnormApply(e, s, { x: b.x, mean: b.mean, stat: b.invstd, gamma: b.gamma, beta: b.beta, y: b.y }, { eval: false, eps });
        },
        reference: () => {
          const r = ref();
          return {
            y: r.y,
            mean: r.mean,
            invstd: r.invstd,
            running_mean: r.mean.map((m, c) => 0.9 * rm0[c] + 0.1 * m),
            running_var: r.varUnbiased.map((v, c) => 0.9 * rv0[c] + 0.1 * v),
          };
        },
        tolerance: { abs: 2e-5, rel: 2e-5 },
      });
      cases.push({
        shape: `eval forward relu ${label}`,
        inputs: { x, gamma, beta, running_mean: rm0, running_var: rv0 },
        outputs: { y: n },
        run: (e, b) => batchnormApply(e, s, { x: b.x, mean: b.running_mean, stat: b.running_var, gamma: b.gamma, beta: b.beta, y: b.y }, { eval: true, eps, activation: 'relu' }),
        reference: () => ({
          y: Float64Array.from(x, (v, i) => {
            const c = Math.floor(i / s.HW) % s.C;
            return Math.max(0, ((v - rm0[c]) / Math.sqrt(rv0[c] + eps)) * gamma[c] + beta[c]);
          }),
        }),
        tolerance: { abs: 1e-5, rel: 1e-5 },
      });
      cases.push({
        shape: `backward ${label}${accumulate ? ' +=grads' : ''}`,
        inputs: accumulate ? { dy, x, gamma, dx: dx0, dgamma: dg0, dbeta: db0 } : { dy, x, gamma },
        outputs: { dx: n, dgamma: s.C, dbeta: s.C },
        run: (e, b) => {
          const mean = e.alloc(s.C * 4);
          const invstd = e.alloc(s.C * 4);
          const rm = e.alloc(s.C * 4);
          const rv = e.alloc(s.C * 4);
          batchnormStats(e, s, { x: b.x, mean, invstd, runningMean: rm, runningVar: rv }, eps, momentum);
          batchnormBackward(e, s, { dy: b.dy, x: b.x, mean, invstd, gamma: b.gamma, dx: b.dx, dgamma: b.dgamma, dbeta: b.dbeta }, { dx: accumulate, params: accumulate });
          [mean, invstd, rm, rv].forEach((t) => e.release(t));
        },
        reference: () => {
          const r = ref();
          const add = (a: Float64Array, b0: Float32Array) => (accumulate ? a.map((v, i) => v + b0[i]) : a);
          return { dx: add(r.dx, dx0), dgamma: add(r.dgamma, dg0), dbeta: add(r.dbeta, db0) };
        },
        tolerance: { abs: 1e-4, rel: 1e-4 },
      });
    });
    return cases;
  },
};
