// Float64 references and verify cases of the scorer and ensemble kernels (scores.ts).

import type { KernelCheck, VerifyCase } from './check.js';
import { NO_REVISION, type Revision } from './kd.js';
import { logSoftmaxT, reviseReference, softmaxT } from './kd.check.js';
import { dsScoreKernel, dsScores, ensembleDisagreement, ensembleDisagreementKernel, ensembleTarget, ensembleTargetKernel, ROW_SCORES, type EnsembleMean, type RowScore } from './scores.js';
import type { Rng } from '../util/rng.js';

/** The score of one row, float64 (lower = distil): student row `row` of zs, teacher row k of zt, label y. */
export function dsScoreReference(kind: RowScore, zs: ArrayLike<number>, row: number, zt: ArrayLike<number>, k: number, y: number, C: number, t: number, r: Revision): number {
  const logPt = logSoftmaxT(zt, k * C, C, t);
  const pt = logPt.map(Math.exp);
  if (kind === 'teacher-margin') {
    let other = 0;
    for (let c = 0; c < C; c++) if (c !== y) other = Math.max(other, pt[c]);
    return other - pt[y];
  }
  if (kind === 'teacher-entropy') return -pt.reduce((h, p, c) => h + (p > 0 ? p * logPt[c] : 0), 0);
  const { p } = reviseReference(zt, k, y, C, t, r);
  const logQ = logSoftmaxT(zs, row * C, C, t);
  return -p.reduce((kl, pc, c) => kl + (pc > 0 ? pc * (Math.log(pc) - logQ[c]) : 0), 0);
}

/** The ensemble's target probabilities of sample k, float64: mean_j softmax_T(z_j), or softmax_T(mean_j z_j). */
export function ensembleProbReference(zk: ArrayLike<number>, K: number, N: number, C: number, t: number, mean: EnsembleMean, k: number): number[] {
  if (mean === 'logit') {
    const z = Array.from({ length: C }, (_, c) => {
      let s = 0;
      for (let j = 0; j < K; j++) s += zk[(j * N + k) * C + c];
      return s / K;
    });
    return softmaxT(z, 0, C, t);
  }
  const p = new Array<number>(C).fill(0);
  for (let j = 0; j < K; j++) softmaxT(zk, (j * N + k) * C, C, t).forEach((v, c) => (p[c] += v / K));
  return p;
}

/**
 * The kernel's output for sample k, float64: the mean logits ('logit'), or T·log p̄ + s_0 with
 * s_0 = T·logsumexp(z_0 / T) ('probability': logits relative to teacher 0, see ensemble.wgsl).
 */
export function ensembleTargetReference(zk: ArrayLike<number>, K: number, N: number, C: number, t: number, mean: EnsembleMean, k: number): number[] {
  if (mean === 'logit') return Array.from({ length: C }, (_, c) => Array.from({ length: K }, (_, j) => zk[(j * N + k) * C + c]).reduce((a, b) => a + b, 0) / K);
  let m = -Infinity;
  for (let c = 0; c < C; c++) m = Math.max(m, zk[k * C + c]);
  let s = 0;
  for (let c = 0; c < C; c++) s += Math.exp((zk[k * C + c] - m) / t);
  const s0 = m + t * Math.log(s);
  return ensembleProbReference(zk, K, N, C, t, mean, k).map((p) => t * Math.log(p) + s0);
}

/** Var_j softmax_T(z_j)[y] of sample k (population variance over the K teachers). */
export function disagreementReference(zk: ArrayLike<number>, K: number, N: number, C: number, t: number, k: number, y: number): number {
  const ps = Array.from({ length: K }, (_, j) => softmaxT(zk, (j * N + k) * C, C, t)[y]);
  const m = ps.reduce((a, b) => a + b, 0) / K;
  return ps.reduce((a, p) => a + (p - m) ** 2, 0) / K;
}

const LR: Revision = { revise: true, eta: 0.9, scope: 'all', betaAtT1: false };

export const scoresCheck: KernelCheck = {
  name: 'ds-scores',
  kernels: [dsScoreKernel, ensembleTargetKernel, ensembleDisagreementKernel],
  cases(rng: Rng) {
    const cases: VerifyCase[] = [];
    // Row scores through idx into a larger teacher cache: odd sizes, ties (identical teacher rows,
    // a teacher row whose classes are all equal), one row, 100 classes, logits up to ±60.
    for (const kind of Object.keys(ROW_SCORES) as RowScore[]) {
      for (const [rows, N, C, t, scale, r] of [
        [1, 3, 2, 4, 5, NO_REVISION],
        [517, 800, 10, 4, 6, LR],
        [129, 200, 100, 2, 4, { revise: true, eta: 0.7, scope: 'wrong', betaAtT1: true }],
        [61, 70, 10, 1, 60, NO_REVISION],
      ] as Array<[number, number, number, number, number, Revision]>) {
        const zs = rng.fillUniform(rows * C, -scale, scale);
        const zt = rng.fillUniform(N * C, -scale, scale);
        zt.fill(1.5, 0, C); // a teacher with no opinion: every class tied
        if (N > 2) zt.copyWithin(C, 2 * C, 3 * C); // rows 1 and 2 identical: tied scores
        const labels = Uint32Array.from({ length: N }, () => rng.int(C));
        const idx = Uint32Array.from({ length: rows }, (_, i) => (i < 3 ? i % N : rng.int(N)));
        cases.push({
          shape: `ds_score ${kind} rows=${rows} N=${N} C=${C} T=${t} |z|≤${scale}${r.revise ? ' +LR' : ''}`,
          inputs: { zs, zt, labels, idx },
          outputs: { score: rows },
          run: (e, b) => dsScores(e, kind, { zs: b.zs, zt: b.zt, labels: b.labels, idx: b.idx, score: b.score }, rows, C, t, r),
          reference: () => ({ score: Float64Array.from({ length: rows }, (_, i) => dsScoreReference(kind, zs, i, zt, idx[i], labels[idx[i]], C, t, r)) }),
          tolerance: { abs: 2e-5, rel: 1e-4 },
        });
      }
    }
    // Ensembles: K = 1, 2 (with one sample on which the teachers agree exactly), 3, 5; both means.
    for (const [K, N, C, t, scale, mean] of [
      [1, 7, 10, 4, 5, 'probability'],
      [2, 301, 10, 4, 8, 'probability'],
      [3, 123, 100, 2, 5, 'probability'],
      [5, 50, 10, 1, 40, 'probability'],
      [3, 99, 10, 4, 8, 'logit'],
    ] as Array<[number, number, number, number, number, EnsembleMean]>) {
      const zk = rng.fillUniform(K * N * C, -scale, scale);
      for (let j = 1; j < K; j++) zk.copyWithin((j * N + 1) * C, C, 2 * C); // sample 1: all teachers agree
      const labels = Uint32Array.from({ length: N }, () => rng.int(C));
      const rows = N - 2;
      const idx = Uint32Array.from({ length: rows }, (_, i) => (i === 0 ? 1 : rng.int(N)));
      cases.push({
        shape: `ensemble_target ${mean} K=${K} N=${N} C=${C} T=${t} |z|≤${scale}`,
        inputs: { zk },
        outputs: { z: N * C },
        run: (e, b) => ensembleTarget(e, { zk: b.zk, z: b.z }, K, N, C, t, mean),
        reference: () => {
          const z = new Float64Array(N * C);
          for (let k = 0; k < N; k++) z.set(ensembleTargetReference(zk, K, N, C, t, mean, k), k * C);
          return { z };
        },
        tolerance: { abs: 2e-6 * scale * Math.max(1, t), rel: 2e-5 },
      });
      if (mean === 'probability') {
        cases.push({
          shape: `ensemble_disagreement K=${K} rows=${rows} C=${C} T=${t}`,
          inputs: { zk, labels, idx },
          outputs: { score: rows },
          run: (e, b) => ensembleDisagreement(e, { zk: b.zk, labels: b.labels, idx: b.idx, score: b.score }, rows, K, N, C, t),
          reference: () => ({ score: Float64Array.from({ length: rows }, (_, i) => disagreementReference(zk, K, N, C, t, idx[i], labels[idx[i]])) }),
          tolerance: { abs: 2e-6, rel: 1e-4 },
        });
      }
    }
    return cases;
  },
};
