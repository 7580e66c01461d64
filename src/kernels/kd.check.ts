// The distillation kernels' float64 references and verification cases (kdgpu verify, the test
// suite), beside the kernels in kd.ts.

import type { KernelCheck, VerifyCase } from './check.js';
import type { Rng } from '../util/rng.js';
import {
  ceWeight, influenceKernel, influenceScores, kdLoss, kdLossKernel, labelRevision, labelRevisionKernel, NO_REVISION, selectMask, selectMaskKernel,
  type KdLossOptions, type Revision, type SelectionBalance, type SelectMaskOptions,
} from './kd.js';

// ---- float64 references ----------------------------------------------------------------------

/** log softmax(z / t) over the classes not in `skip` (those get −∞), float64, shifted by the max. */
export function logSoftmaxT(z: ArrayLike<number>, off: number, C: number, t: number, skip = -1): number[] {
  let m = -Infinity;
  for (let c = 0; c < C; c++) if (c !== skip) m = Math.max(m, z[off + c]);
  let sum = 0;
  for (let c = 0; c < C; c++) if (c !== skip) sum += Math.exp((z[off + c] - m) / t);
  const lse = Math.log(sum);
  return Array.from({ length: C }, (_, c) => (c === skip ? -Infinity : (z[off + c] - m) / t - lse));
}

export function softmaxT(z: ArrayLike<number>, off: number, C: number, t: number): number[] {
  return logSoftmaxT(z, off, C, t).map(Math.exp);
}

function argmax(z: ArrayLike<number>, off: number, C: number): number {
  let a = 0;
  for (let c = 1; c < C; c++) if (z[off + c] > z[off + a]) a = c;
  return a;
}

/** Revised target of one sample: p, β and whether the teacher was wrong (method.md §2). */
export function reviseReference(zt: ArrayLike<number>, row: number, y: number, C: number, t: number, r: Revision): { p: number[]; beta: number; wrong: boolean } {
  const pt = softmaxT(zt, row * C, C, t);
  const wrong = argmax(zt, row * C, C) !== y;
  let beta = 1;
  if (r.revise && (r.scope === 'all' || wrong)) {
    const pb = r.betaAtT1 ? softmaxT(zt, row * C, C, 1) : pt;
    beta = r.eta / (Math.max(...pb) - pb[y] + 1);
  }
  return { p: pt.map((v, c) => beta * v + (c === y ? 1 - beta : 0)), beta, wrong };
}

export interface KdSample {
  zs: ArrayLike<number>;
  zsRow: number;
  zt: ArrayLike<number>;
  ztRow: number;
  y: number;
  C: number;
  m: number;
}

/** Loss and ∂loss/∂zs of one sample, float64, every log-probability in log domain (method.md §1, §4). */
export function kdSampleReference(s: KdSample, o: KdLossOptions): { loss: number; grad: number[] } {
  const { C, y } = s;
  const t = o.temperature;
  const logQ1 = logSoftmaxT(s.zs, s.zsRow * C, C, 1);
  const logQt = logSoftmaxT(s.zs, s.zsRow * C, C, t);
  const q1 = logQ1.map(Math.exp);
  const qt = logQt.map(Math.exp);
  const { p, beta } = reviseReference(s.zt, s.ztRow, y, C, t, o.revision);
  const logPt = logSoftmaxT(s.zt, s.ztRow * C, C, t);
  // log p: off the target p = β·pt, so log p = log β + log pt (exact where p underflows).
  const logP = p.map((pc, c) => (c === y ? Math.log(pc) : Math.log(beta) + logPt[c]));
  const lam1 = ceWeight(o, s.m);
  let loss = -lam1 * logQ1[y];
  const grad = q1.map((q, c) => lam1 * (q - (c === y ? 1 : 0)));
  if (o.loss.kind === 'kd') {
    const w = o.loss.lambda2 * s.m;
    const kl = p.reduce((acc, pc, c) => acc + (pc > 0 ? pc * (logP[c] - logQt[c]) : 0), 0);
    loss += w * t * t * kl;
    qt.forEach((q, c) => (grad[c] += w * t * (q - p[c])));
  } else {
    const w = s.m * o.loss.warm;
    // Non-target distributions p̂, q̂ (softmax over c ≠ y) and the binary rest masses, in log domain.
    const logPh = logSoftmaxT(s.zt, s.ztRow * C, C, t, y);
    const logQh = logSoftmaxT(s.zs, s.zsRow * C, C, t, y);
    const lse = (xs: number[]) => {
      const m = Math.max(...xs.filter((x) => x > -Infinity));
      return m + Math.log(xs.reduce((a, x) => a + (x > -Infinity ? Math.exp(x - m) : 0), 0));
    };
    const logPtRest = lse(logPt.filter((_, c) => c !== y));
    const logQRest = lse(logQt.filter((_, c) => c !== y));
    const pY = p[y];
    const logPRest = Math.log(beta) + logPtRest;
    const pRest = Math.exp(logPRest);
    const qY = qt[y];
    const tckd = (pY > 0 ? pY * (Math.log(pY) - logQt[y]) : 0) + (pRest > 0 ? pRest * (logPRest - logQRest) : 0);
    let nckd = 0;
    for (let c = 0; c < C; c++) {
      if (c === y) continue;
      const ph = Math.exp(logPh[c]);
      const qh = Math.exp(logQh[c]);
      if (ph > 0) nckd += ph * (logPh[c] - logQh[c]);
      grad[c] += w * t * (o.loss.alpha * qh * (pY - qY) + o.loss.beta * (qh - ph));
    }
    grad[y] += w * t * o.loss.alpha * (qY - pY);
    loss += w * t * t * (o.loss.alpha * tckd + o.loss.beta * nckd);
  }
  return { loss, grad };
}

/**
 * The selection of `selectMask` in float64 terms: `mask` over `total` samples (entries not
 * addressed by idx keep `maskIn`'s values) and `counts` [2·groups]. Ties by row order; the ratio
 * rule's count is rounded as the kernel does (f32 product, round half up).
 */
export function selectMaskReference(
  score: ArrayLike<number>,
  idx: ArrayLike<number>,
  labels: ArrayLike<number>,
  maskIn: ArrayLike<number>,
  o: SelectMaskOptions,
  countsIn?: ArrayLike<number>,
): { mask: Float64Array; counts: Float64Array } {
  const mask = Float64Array.from(maskIn);
  const groups = o.balance === 'class' ? o.classes : 1;
  const counts = new Float64Array(2 * groups);
  const n = score.length;
  for (let g = 0; g < groups; g++) {
    const rows: number[] = [];
    for (let i = 0; i < n; i++) if (o.balance === 'global' || Math.min(labels[idx[i]], groups - 1) === g) rows.push(i);
    let keep: number;
    if (o.rule === 'sign') keep = rows.filter((i) => score[i] < 0).length;
    else if (o.rule === 'ratio') keep = Math.floor(Math.fround(Math.fround(o.ratio) * rows.length) + 0.5);
    else keep = countsIn![2 * g + 1];
    keep = Math.min(keep, rows.length);
    counts[2 * g] = rows.length;
    counts[2 * g + 1] = keep;
    if (o.rule === 'sign') {
      for (const i of rows) mask[idx[i]] = score[i] < 0 ? 1 : 0;
      continue;
    }
    const order = [...rows].sort((a, b) => score[a] - score[b] || a - b);
    order.forEach((i, r) => (mask[idx[i]] = r < keep ? 1 : 0));
  }
  return { mask, counts };
}

// ---- verification ----------------------------------------------------------------------------

function randomLogits(rng: Rng, rows: number, C: number, scale: number): Float32Array {
  return rng.fillUniform(rows * C, -scale, scale);
}

export const kdCheck: KernelCheck = {
  name: 'kd',
  kernels: [labelRevisionKernel, kdLossKernel, influenceKernel, selectMaskKernel],
  cases(rng) {
    const cases: VerifyCase[] = [];
    const tol = { abs: 2e-5, rel: 5e-5 };
    // Label revision.
    for (const [rows, C, t, r] of [
      [1, 2, 1, { revise: true, eta: 0.9, scope: 'all', betaAtT1: false }],
      [300 + rng.int(100), 10, 4, { revise: true, eta: 0.7, scope: 'all', betaAtT1: false }],
      [77, 10, 4, { revise: true, eta: 0.9, scope: 'wrong', betaAtT1: true }],
      [33, 100, 2, { revise: true, eta: 0.5, scope: 'all', betaAtT1: false }],
      [20, 10, 4, NO_REVISION],
    ] as Array<[number, number, number, Revision]>) {
      const zt = randomLogits(rng, rows, C, 5);
      const labels = Uint32Array.from({ length: rows }, () => rng.int(C));
      cases.push({
        shape: `label_revision ${rows}x${C} T=${t} ${r.revise ? `eta=${r.eta} ${r.scope}${r.betaAtT1 ? ' β@T1' : ''}` : 'off'}`,
        inputs: { zt, labels },
        outputs: { p: rows * C, beta: rows, wrong: rows },
        run: (e, b) => labelRevision(e, { zt: b.zt, labels: b.labels, p: b.p, beta: b.beta, wrong: b.wrong }, rows, C, t, r),
        reference: () => {
          const p = new Float64Array(rows * C);
          const beta = new Float64Array(rows);
          const wrong = new Float64Array(rows);
          for (let i = 0; i < rows; i++) {
            const x = reviseReference(zt, i, labels[i], C, t, r);
            p.set(x.p, i * C);
            beta[i] = x.beta;
            wrong[i] = x.wrong ? 1 : 0;
          }
          return { p, beta, wrong };
        },
        tolerance: tol,
      });
    }
    // Fused KD / DKD loss and gradient, through idx into a larger teacher cache, with a mask.
    const lossConfigs: Array<[string, KdLossOptions]> = [
      ['KD', { loss: { kind: 'kd', lambda1: 0.1, lambda2: 0.9 }, temperature: 4, revision: NO_REVISION, useMask: false }],
      ['KD+LR+mask', { loss: { kind: 'kd', lambda1: 0.1, lambda2: 0.9 }, temperature: 4, revision: { revise: true, eta: 0.9, scope: 'all', betaAtT1: false }, useMask: true }],
      ['KD+LR(wrong) T=1', { loss: { kind: 'kd', lambda1: 1, lambda2: 1 }, temperature: 1, revision: { revise: true, eta: 0.6, scope: 'wrong', betaAtT1: false }, useMask: false }],
      ['DKD', { loss: { kind: 'dkd', lambda1: 1, alpha: 1, beta: 8, warm: 1 }, temperature: 4, revision: NO_REVISION, useMask: false }],
      ['DKD+LR+mask warm', { loss: { kind: 'dkd', lambda1: 1, alpha: 1, beta: 2, warm: 0.35 }, temperature: 4, revision: { revise: true, eta: 0.8, scope: 'all', betaAtT1: false }, useMask: true }],
      ['KD+LR+mask rest=1', { loss: { kind: 'kd', lambda1: 0.1, lambda2: 0.9 }, temperature: 4, revision: { revise: true, eta: 0.9, scope: 'all', betaAtT1: false }, useMask: true, restWeight: 1 }],
      ['KD+mask rest=0', { loss: { kind: 'kd', lambda1: 0.1, lambda2: 0.9 }, temperature: 4, revision: NO_REVISION, useMask: true, restWeight: 0 }],
      ['DKD+mask rest=2.5', { loss: { kind: 'dkd', lambda1: 1, alpha: 1, beta: 2, warm: 1 }, temperature: 4, revision: NO_REVISION, useMask: true, restWeight: 2.5 }],
    ];
    for (const [label, o] of lossConfigs) {
      for (const [B, C, N] of [[1, 2, 3], [128, 10, 500], [37, 100, 80]] as const) {
        const zs = randomLogits(rng, B, C, 4);
        const zt = randomLogits(rng, N, C, 6);
        const idx = Uint32Array.from({ length: B }, () => rng.int(N));
        const labels = Uint32Array.from({ length: B }, () => rng.int(C));
        const mask = Float32Array.from({ length: N }, () => (rng.next() < 0.6 ? 1 : 0));
        cases.push({
          shape: `kd_loss ${label} B=${B} C=${C}`,
          inputs: { zs, zt, labels, idx, mask },
          outputs: { loss: B, grad: B * C, correct: B },
          run: (e, b) => kdLoss(e, { zs: b.zs, zt: b.zt, labels: b.labels, idx: b.idx, mask: b.mask, loss: b.loss, grad: b.grad, correct: b.correct }, B, C, o),
          reference: () => {
            const loss = new Float64Array(B);
            const grad = new Float64Array(B * C);
            const correct = new Float64Array(B);
            for (let i = 0; i < B; i++) {
              const m = o.useMask ? mask[idx[i]] : 1;
              const r = kdSampleReference({ zs, zsRow: i, zt, ztRow: idx[i], y: labels[i], C, m }, o);
              loss[i] = r.loss;
              grad.set(r.grad.map((g) => g / B), i * C);
              correct[i] = argmax(zs, i * C, C) === labels[i] ? 1 : 0;
            }
            return { loss, grad, correct };
          },
          tolerance: { abs: 1e-4, rel: 1e-4 },
        });
      }
    }
    // Extreme inputs: logits up to ±1e4, C up to 1000, B up to 1000, T from 0.5 to 20, and teachers
    // whose target margin is 100·T or more (where Σ_{c≠y} pt underflows in f32). The reference
    // is float64 in log domain; tolerances are relative to the loss and absolute on the gradient
    // (whose entries are ≤ (λ1 + λ2·T·(α + β))/B in size).
    const extremes: Array<[string, KdLossOptions, number, number, number, number, number]> = [
      ['KD ±1e4', { loss: { kind: 'kd', lambda1: 0.1, lambda2: 0.9 }, temperature: 0.5, revision: NO_REVISION, useMask: false }, 1000, 10, 1e4, 1e4, 0],
      ['KD+LR ±1e4 C=1000', { loss: { kind: 'kd', lambda1: 0.1, lambda2: 0.9 }, temperature: 20, revision: { revise: true, eta: 0.9, scope: 'all', betaAtT1: false }, useMask: false }, 37, 1000, 1e4, 1e4, 0],
      ['DKD margin 100T', { loss: { kind: 'dkd', lambda1: 1, alpha: 1, beta: 8, warm: 1 }, temperature: 4, revision: NO_REVISION, useMask: false }, 300, 10, 5, 3, 100],
      ['DKD+LR margin 150T C=100', { loss: { kind: 'dkd', lambda1: 1, alpha: 1, beta: 2, warm: 1 }, temperature: 2, revision: { revise: true, eta: 0.9, scope: 'all', betaAtT1: false }, useMask: false }, 64, 100, 8, 3, 150],
      ['DKD ±1e4 C=1000', { loss: { kind: 'dkd', lambda1: 1, alpha: 1, beta: 2, warm: 1 }, temperature: 4, revision: NO_REVISION, useMask: false }, 1000, 1000, 1e4, 1e4, 0],
    ];
    for (const [label, o, B, C, zsScale, ztScale, margin] of extremes) {
      const zs = randomLogits(rng, B, C, zsScale);
      const zt = randomLogits(rng, B, C, ztScale);
      const idx = Uint32Array.from({ length: B }, (_, i) => i);
      const labels = Uint32Array.from({ length: B }, () => rng.int(C));
      // A target margin of `margin`·T or more: the teacher is sure, by far, of the label.
      if (margin) for (let i = 0; i < B; i++) zt[i * C + labels[i]] = ztScale + margin * o.temperature * (1 + rng.next());
      const mask = new Float32Array(B).fill(1);
      const ref = () => {
        const loss = new Float64Array(B);
        const grad = new Float64Array(B * C);
        const correct = new Float64Array(B);
        for (let i = 0; i < B; i++) {
          const r = kdSampleReference({ zs, zsRow: i, zt, ztRow: i, y: labels[i], C, m: 1 }, o);
          loss[i] = r.loss;
          grad.set(r.grad.map((g) => g / B), i * C);
          correct[i] = argmax(zs, i * C, C) === labels[i] ? 1 : 0;
        }
        return { loss, grad, correct };
      };
      cases.push({
        shape: `kd_loss extreme ${label} B=${B} C=${C} T=${o.temperature}`,
        inputs: { zs, zt, labels, idx, mask },
        outputs: { loss: B, grad: B * C, correct: B },
        run: (e, b) => kdLoss(e, { zs: b.zs, zt: b.zt, labels: b.labels, idx: b.idx, mask: b.mask, loss: b.loss, grad: b.grad, correct: b.correct }, B, C, o),
        reference: ref,
        tolerance: { abs: 1e-6, rel: 1e-4 },
      });
    }
    // Influence scores.
    for (const [rows, C, N, r] of [
      [1, 2, 1, NO_REVISION],
      [500 + rng.int(100), 10, 800, { revise: true, eta: 0.9, scope: 'all', betaAtT1: false }],
    ] as Array<[number, number, number, Revision]>) {
      const zs = randomLogits(rng, rows, C, 3);
      const zt = randomLogits(rng, N, C, 5);
      const labels = Uint32Array.from({ length: N }, () => rng.int(C));
      const idx = Uint32Array.from({ length: rows }, () => rng.int(N));
      const uu = rng.fillUniform(rows * C);
      const t = 4;
      cases.push({
        shape: `influence_scores rows=${rows} C=${C}${r.revise ? ' +LR' : ''}`,
        inputs: { zs, zt, labels, idx, u: uu },
        outputs: { score: rows },
        run: (e, b) => influenceScores(e, { zs: b.zs, zt: b.zt, labels: b.labels, idx: b.idx, u: b.u, score: b.score }, rows, C, t, r),
        reference: () => ({
          score: Float64Array.from({ length: rows }, (_, i) => {
            const q = softmaxT(zs, i * C, C, t);
            const { p } = reviseReference(zt, idx[i], labels[idx[i]], C, t, r);
            return -q.reduce((acc, qc, c) => acc + (qc - p[c]) * uu[i * C + c], 0);
          }),
        }),
        tolerance: tol,
      });
    }
    // Selection mask, global and per class: ratio with many ties, ratio without, sign, size-matched
    // counts; over a permuted subset of a larger set (other entries must stay as they were), with a
    // class that has one row and a class that has none.
    for (const [n, total, C, rule, balance, ratio, ties] of [
      [1, 3, 10, 'ratio', 'global', 1, false],
      [1, 3, 10, 'ratio', 'class', 0.7, false],
      [1000, 1500, 10, 'ratio', 'global', 0.7, true],
      [1003, 1500, 10, 'ratio', 'class', 0.7, true],
      [60_001, 61_000, 10, 'ratio', 'class', 0.3, false],
      [60_001, 61_000, 10, 'ratio', 'global', 0.3, false],
      [777, 900, 7, 'sign', 'global', 0, false],
      [777, 900, 7, 'sign', 'class', 0, false],
      [500, 500, 3, 'ratio', 'global', 0, false],
      [2049, 2500, 100, 'ratio', 'class', 0.55, false],
      [999, 1200, 10, 'count', 'class', 0, true],
      [999, 1200, 10, 'count', 'global', 0, false],
    ] as Array<[number, number, number, SelectMaskOptions['rule'], SelectionBalance, number, boolean]>) {
      const score = Float32Array.from({ length: n }, () => (ties ? rng.int(20) - 10 : rng.normal()));
      const idx = rng.permutation(total).slice(0, n);
      // Classes 0..C-3 at random, one sample of class C-2, none of class C-1.
      const labels = Uint32Array.from({ length: total }, () => rng.int(Math.max(1, C - 2)));
      if (C > 2) labels[idx[n - 1]] = C - 2;
      const maskIn = new Float32Array(total).fill(7);
      const o: SelectMaskOptions = { rule, ratio, balance, classes: C };
      const groups = balance === 'class' ? C : 1;
      const countsIn = new Uint32Array(2 * groups).fill(0xdeadbeef);
      if (rule === 'count') for (let g = 0; g < groups; g++) countsIn[2 * g + 1] = rng.int(Math.ceil(n / groups) + 5);
      const inputs: VerifyCase['inputs'] = { score, idx, labels, mask: maskIn };
      if (rule === 'count') inputs.counts = countsIn;
      cases.push({
        shape: `select_mask ${rule} ${balance} n=${n} C=${C}${rule === 'ratio' ? ` ratio=${ratio}` : ''}${ties ? ' ties' : ''}`,
        inputs,
        outputs: { mask: total, counts: { count: 2 * groups, type: 'u32' } },
        run: (e, b) => selectMask(e, { score: b.score, idx: b.idx, labels: b.labels, mask: b.mask, counts: b.counts }, n, o),
        reference: () => selectMaskReference(score, idx, labels, maskIn, o, countsIn),
        tolerance: { abs: 0, rel: 0 },
      });
    }
    return cases;
  },
};
