// softmax's float64 references and verification cases (kdgpu verify, the test suite), beside the kernels in softmax.ts.

import type { KernelCheck, VerifyCase } from './check.js';
import { softmax, softmaxCrossEntropy, softmaxKernel, softmaxXentKernel } from './softmax.js';

export function softmaxReference(x: ArrayLike<number>, rows: number, cols: number, t: number, log: boolean): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, x[r * cols + c] / t);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x[r * cols + c] / t - m);
    for (let c = 0; c < cols; c++) {
      const z = x[r * cols + c] / t - m;
      out[r * cols + c] = log ? z - Math.log(s) : Math.exp(z) / s;
    }
  }
  return out;
}

export function softmaxXentReference(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  rows: number,
  cols: number,
  gradScale: number,
): { loss: Float64Array; grad: Float64Array; correct: Float64Array } {
  const p = softmaxReference(logits, rows, cols, 1, false);
  const logp = softmaxReference(logits, rows, cols, 1, true);
  const loss = new Float64Array(rows);
  const grad = new Float64Array(rows * cols);
  const correct = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const y = labels[r];
    loss[r] = -logp[r * cols + y];
    let am = 0;
    for (let c = 0; c < cols; c++) {
      grad[r * cols + c] = gradScale * (p[r * cols + c] - (c === y ? 1 : 0));
      if (logits[r * cols + c] > logits[r * cols + am]) am = c;
    }
    correct[r] = am === y ? 1 : 0;
  }
  return { loss, grad, correct };
}

/**
 * Softmax is conditioned by the logits' magnitude: rounding z/T (|z/T| ≤ zMax) to f32 moves each
 * exponent by up to zMax·ε, which moves every probability by that relative amount and every
 * log-probability by that absolute amount. The tolerance is that bound plus a few ulps.
 */
function softmaxTolerance(zMax: number, log: boolean): { abs: number; rel: number } {
  const eps = 1.1920929e-7;
  const shift = 4 * eps * Math.max(1, zMax);
  return log ? { abs: 2e-5 + shift, rel: 4 * eps } : { abs: 2e-6, rel: 2e-5 + shift };
}

export const softmaxCheck: KernelCheck = {
  name: 'softmax',
  kernels: [softmaxKernel],
  cases(rng) {
    const cases: VerifyCase[] = [];
    const shapes: Array<[number, number, number, number]> = [
      // rows, cols, temperature, logit scale
      [1, 1, 1, 1],
      [5, 10, 1, 3],
      [37, 129, 4, 5],
      [3, 100_000, 1, 2],
      [4, 17, 1, 1e4],
      [2, 1000, 2.5, 1e4],
      [70_000, 3, 1, 2],
      [9, 64, 0.5, 3],
      [9, 65, 0.5, 3],
    ];
    for (const [rows, cols, t, scale] of shapes) {
      for (const log of [false, true]) {
        const x = rng.fillUniform(rows * cols, -scale, scale);
        cases.push({
          shape: `${log ? 'log_' : ''}softmax ${rows}x${cols} T=${t} |z|<=${scale}`,
          inputs: { x },
          outputs: { out: rows * cols },
          run: (e, b) => softmax(e, b.x, b.out, rows, cols, { temperature: t, log }),
          reference: () => ({ out: softmaxReference(x, rows, cols, Math.fround(t), log) }),
          tolerance: softmaxTolerance(scale / t, log),
        });
      }
    }
    return cases;
  },
};

export const softmaxXentCheck: KernelCheck = {
  name: 'softmax_xent',
  kernels: [softmaxXentKernel],
  cases(rng) {
    const cases: VerifyCase[] = [];
    const shapes: Array<[number, number, number]> = [
      [1, 1, 1],
      [1, 10, 3],
      [128, 10, 5],
      [1000 + rng.int(50), 64, 4],
      [7, 65, 4],
      [33, 1001, 3],
      [6, 10, 1e4],
      [2, 100_000, 2],
    ];
    for (const [rows, cols, scale] of shapes) {
      const logits = rng.fillUniform(rows * cols, -scale, scale);
      const labels = new Uint32Array(rows).map(() => rng.int(cols));
      const gradScale = 1 / rows;
      cases.push({
        shape: `${rows}x${cols} |z|<=${scale}`,
        inputs: { logits, labels },
        outputs: { loss: rows, grad: rows * cols, correct: rows },
        run: (e, b) => softmaxCrossEntropy(e, b as never, rows, cols, gradScale),
        reference: () => softmaxXentReference(logits, labels, rows, cols, Math.fround(gradScale)),
        tolerance: { abs: 2e-5, rel: 2e-5 },
      });
    }
    return cases;
  },
};
