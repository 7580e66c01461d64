// Data selection (method.md §3, §3b): which training samples get teacher supervision. Every
// scorer writes one score per training row on the GPU (lower = distil first); one rule (the
// per-class ratio, or the sign of the influence) and one select_mask kernel turn scores into Dt.
// The scorers: last-layer influence (features h and logits of the student on the training rows
// and a held-out validation split, the validation CE gradient G_val, an optional damped diagonal
// Gauss–Newton Hessian, then the fused score kernel), its running mean over selections, the
// teacher's margin and entropy, the disagreement of an ensemble's teachers, and the student's
// distance from its target. Two controls share the rule: a seeded random order and teacher-correct first.

import type { Dataset } from '../data/dataset.js';
import { elementwise } from '../kernels/elementwise.js';
import { matmul } from '../kernels/matmul.js';
import { softmax, softmaxCrossEntropy } from '../kernels/softmax.js';
import { influenceScores, selectMask, type Revision, type SelectionBalance, type SelectionRule } from '../kernels/kd.js';
import { dsScores, ensembleDisagreement } from '../kernels/scores.js';
import type { Model } from '../nn/models.js';
import { forEachBatch } from '../train.js';
import { Rng } from '../util/rng.js';

/** The scorers, by name (`dsScore`); what each measures is in method.md §3b. */
export const DS_SCORES = {
  influence: 'last-layer influence of distilling the sample on the validation loss (Koh & Liang), re-scored each selection',
  'influence-avg': 'the influence averaged over every selection so far (less churn)',
  'teacher-margin': "−(pt[y] − max_{c≠y} pt[c]): the teacher's confidence in the label, most confident first",
  'teacher-entropy': "H(pt): the teacher's uncertainty, most certain first",
  'ensemble-disagreement': "Var over the teachers of pt[y]: where an ensemble's teachers agree first (needs ≥ 2 teachers)",
  'student-need': "−KL(p ‖ q): where the student is furthest from its (revised) target first",
  random: 'control: a seeded random order (a random subset of the same per-class size)',
  'teacher-correct': 'control: the samples the teacher classifies correctly first, random among them',
} as const;
export type DsScore = keyof typeof DS_SCORES;
export const DS_SCORE_NAMES = Object.keys(DS_SCORES) as DsScore[];
import { OptionError } from '../util/option-error.js';

export interface SelectionOptions {
  score: DsScore;
  /** 'ratio': keep `ratio` of the samples with the lowest scores; 'sign': keep every s_i < 0 (influence's sign). */
  rule: SelectionRule;
  ratio: number;
  /** Apply the rule within each ground-truth class ('class') or over all samples ('global'). */
  balance: SelectionBalance;
  /** H = (1 + damping)·I ('identity', gradient alignment) or a damped diagonal Gauss–Newton ('diag'). */
  hessian: 'identity' | 'diag';
  damping: number;
  temperature: number;
  revision: Revision;
  /** Seed of the controls' random order. */
  seed: number;
}

/** What the scorers read: the (ensemble) teacher cache [N, C], each teacher's [K, N, C] for an ensemble, labels [N]. */
export interface SelectionBuffers {
  teacherLogits: GPUBuffer;
  teachers?: { logits: GPUBuffer; count: number };
  labels: GPUBuffer;
  mask: GPUBuffer;
  counts: GPUBuffer;
}

/** State a scorer keeps across selections ('influence-avg': the running mean and how many it holds). */
export interface ScorerState {
  mean: GPUBuffer | null;
  selections: number;
}

/** Student logits [rows, C] for dataset samples `indices`, in order, and with `features` their last-layer features [rows, D]. */
function studentOutputs(student: Model, data: Dataset, indices: Uint32Array, features: true): { logits: GPUBuffer; features: GPUBuffer; D: number };
function studentOutputs(student: Model, data: Dataset, indices: Uint32Array, features: false): { logits: GPUBuffer };
function studentOutputs(student: Model, data: Dataset, indices: Uint32Array, withFeatures: boolean): { logits: GPUBuffer; features?: GPUBuffer; D?: number } {
  const engine = student.store.engine;
  const C = student.input.classes;
  const D = student.head.inFeatures;
  const rows = indices.length;
  const logits = engine.alloc(rows * C * 4, 'ds-logits');
  const features = withFeatures ? engine.alloc(rows * D * 4, 'ds-features') : undefined;
  forEachBatch(student, data, { indices }, ({ g, x, batch, offset }) => {
    let h = null as null | { buffer: GPUBuffer; offset?: number };
    const z = student.forward(g, x, features ? (t) => (h = t.data) : undefined);
    engine.copy(z.data.buffer, z.data.offset ?? 0, logits, offset * C * 4, batch.size * C * 4);
    if (features) engine.copy(h!.buffer, h!.offset ?? 0, features, offset * D * 4, batch.size * D * 4);
  });
  return { logits, features, D };
}

/** Last-layer influence scores of the `train` rows [n] (method.md §3, steps 3–5). */
function influence(student: Model, data: Dataset, split: { train: Uint32Array; val: Uint32Array }, gpu: SelectionBuffers, idx: GPUBuffer, o: SelectionOptions): GPUBuffer {
  const engine = student.store.engine;
  const C = student.input.classes;
  if (split.val.length === 0) throw new OptionError('valSplit', 0, (name) => `data selection needs a validation split (${name('valSplit')} > 0)`);
  const temps: GPUBuffer[] = [];
  const tmp = (floats: number, label: string) => {
    const b = engine.alloc(Math.max(1, floats) * 4, label);
    temps.push(b);
    return b;
  };
  // G_val = mean over the validation split of (softmax(z_j) − onehot(y_j)) ⊗ h_j   [C, D]
  const val = studentOutputs(student, data, split.val, true);
  temps.push(val.logits, val.features);
  const D = val.D;
  const nv = split.val.length;
  const valLabels = engine.upload(Uint32Array.from(split.val, (k) => data.labels[k]), 'ds-val-labels');
  temps.push(valLabels);
  const dz = tmp(nv * C, 'ds-val-grad');
  softmaxCrossEntropy(engine, { logits: val.logits, labels: valLabels, loss: tmp(nv, 'ds-val-loss'), grad: dz, correct: tmp(nv, 'ds-val-correct') }, nv, C, 1 / nv);
  const gVal = tmp(C * D, 'ds-gval');
  matmul(engine, dz, val.features, gVal, C, D, nv, { transA: true });

  const train = studentOutputs(student, data, split.train, true);
  temps.push(train.logits, train.features);
  const n = split.train.length;
  // G' = G_val ⊘ H:  H = (1 + λ)·I, or diag(mean_i q_ic(1 − q_ic)·h_id²) + λ.
  const gScaled = tmp(C * D, 'ds-gval-scaled');
  if (o.hessian === 'identity') {
    elementwise(engine, 'scale', gVal, gVal, gScaled, C * D, 1 / (1 + o.damping));
  } else {
    const q = tmp(n * C, 'ds-q');
    const qq = tmp(n * C, 'ds-qq');
    const curv = tmp(n * C, 'ds-q1mq');
    const hh = tmp(n * D, 'ds-h2');
    const hdiag = tmp(C * D, 'ds-hdiag');
    softmax(engine, train.logits, q, n, C);
    elementwise(engine, 'mul', q, q, qq, n * C);
    elementwise(engine, 'axpy', q, qq, curv, n * C, -1); // q − q²
    elementwise(engine, 'mul', train.features, train.features, hh, n * D);
    matmul(engine, curv, hh, hdiag, C, D, n, { transA: true });
    const hmean = tmp(C * D, 'ds-hmean');
    elementwise(engine, 'scale', hdiag, hdiag, hmean, C * D, 1 / n);
    elementwise(engine, 'div', gVal, hmean, gScaled, C * D, o.damping);
  }
  // u_i = G' h_i  for every training row: [n, C] = features [n, D] · G'ᵀ
  const u = tmp(n * C, 'ds-u');
  matmul(engine, train.features, gScaled, u, n, C, D, { transB: true });
  const scores = engine.alloc(n * 4, 'ds-scores');
  influenceScores(engine, { zs: train.logits, zt: gpu.teacherLogits, labels: gpu.labels, idx, u, score: scores }, n, C, o.temperature, o.revision);
  for (const t of temps) engine.release(t);
  return scores;
}

/** The scores [n] of the `train` rows under `o.score` (on the GPU), updating `state` ('influence-avg'). */
function scoreRows(
  student: Model,
  data: Dataset,
  split: { train: Uint32Array; val: Uint32Array },
  gpu: SelectionBuffers,
  idx: GPUBuffer,
  o: SelectionOptions,
  state: ScorerState,
  teacherWrong: Float32Array,
): GPUBuffer {
  const engine = student.store.engine;
  const C = student.input.classes;
  const n = split.train.length;
  switch (o.score) {
    case 'influence':
      return influence(student, data, split, gpu, idx, o);
    case 'influence-avg': {
      // mean_s = mean_{s−1} + (score_s − mean_{s−1}) / s
      const now = influence(student, data, split, gpu, idx, o);
      state.selections++;
      if (!state.mean) {
        state.mean = now;
      } else {
        const diff = engine.alloc(n * 4, 'ds-avg-diff');
        elementwise(engine, 'axpy', now, state.mean, diff, n, -1);
        elementwise(engine, 'accumulate', diff, diff, state.mean, n, 1 / state.selections);
        engine.release(diff);
        engine.release(now);
      }
      const out = engine.alloc(n * 4, 'ds-scores');
      engine.copy(state.mean, 0, out, 0, n * 4);
      return out;
    }
    case 'teacher-margin':
    case 'teacher-entropy':
    case 'student-need': {
      const scores = engine.alloc(n * 4, 'ds-scores');
      const zs = o.score === 'student-need' ? studentOutputs(student, data, split.train, false) : null;
      dsScores(engine, o.score, { zs: zs?.logits ?? gpu.teacherLogits, zt: gpu.teacherLogits, labels: gpu.labels, idx, score: scores }, n, C, o.temperature, o.revision);
      if (zs) engine.release(zs.logits);
      return scores;
    }
    case 'ensemble-disagreement': {
      if (!gpu.teachers || gpu.teachers.count < 2) throw new Error('the ensemble-disagreement score needs at least 2 teachers');
      const scores = engine.alloc(n * 4, 'ds-scores');
      ensembleDisagreement(engine, { zk: gpu.teachers.logits, labels: gpu.labels, idx, score: scores }, n, gpu.teachers.count, data.n, C, o.temperature);
      return scores;
    }
    case 'random':
    case 'teacher-correct': {
      // The controls' order: seeded uniform draws, after every teacher-correct sample for 'teacher-correct'.
      const rng = new Rng(o.seed * 7919 + 17);
      const host = Float32Array.from(split.train, (k) => (o.score === 'teacher-correct' ? 2 * teacherWrong[k] : 0) + rng.next());
      return engine.upload(host, 'ds-scores');
    }
  }
}

export interface SelectionResult {
  /** Per-sample scores of the training rows, in `train` order (on the GPU; the caller releases it). */
  scores: GPUBuffer;
}

/**
 * Score the `train` samples and write mask[k] ∈ {0, 1} for each (other entries untouched), and
 * counts [2 per group] = samples and selected samples per class (balance 'class') or overall.
 * With the sign rule, a scorer other than influence keeps as many samples per group as the
 * influence's sign would (its size-matched counts). `teacherWrong` [N] flags the teacher's mistakes.
 */
export async function selectDistillSubset(
  student: Model,
  data: Dataset,
  split: { train: Uint32Array; val: Uint32Array },
  gpu: SelectionBuffers,
  o: SelectionOptions,
  state: ScorerState = { mean: null, selections: 0 },
  teacherWrong: Float32Array = new Float32Array(data.n),
): Promise<SelectionResult> {
  const engine = student.store.engine;
  const C = student.input.classes;
  if (o.rule === 'ratio' && !(o.ratio > 0 && o.ratio <= 1)) throw new Error(`the selection ratio must be in (0, 1], got ${o.ratio}`);
  const n = split.train.length;
  const idx = engine.upload(split.train, 'ds-idx');
  const bufs = (score: GPUBuffer) => ({ score, idx, labels: gpu.labels, mask: gpu.mask, counts: gpu.counts });
  const signRule = async (score: GPUBuffer) => {
    // The sign rule decides how many samples are kept (every s_i < 0 over the whole set); the
    // class balance decides which: that fraction of each class, lowest scores first. One
    // readback of the count, between epochs.
    selectMask(engine, bufs(score), n, { rule: 'sign', ratio: 0, balance: 'global', classes: C });
    if (o.balance !== 'class') return;
    const negative = new Uint32Array(await engine.read(gpu.counts, 8))[1];
    selectMask(engine, bufs(score), n, { rule: 'ratio', ratio: negative / Math.max(1, n), balance: 'class', classes: C });
  };
  const influenceLike = o.score === 'influence' || o.score === 'influence-avg';
  if (o.rule === 'sign' && !influenceLike) {
    // Size-matched to the influence's sign rule: its counts, then this scorer's order.
    const inf = influence(student, data, split, gpu, idx, o);
    await signRule(inf);
    engine.release(inf);
  }
  const scores = scoreRows(student, data, split, gpu, idx, o, state, teacherWrong);
  if (o.rule === 'sign' && influenceLike) await signRule(scores);
  else selectMask(engine, bufs(scores), n, { rule: o.rule === 'sign' ? 'count' : 'ratio', ratio: o.ratio, balance: o.balance, classes: C });
  engine.release(idx);
  return { scores };
}

/**
 * How well scores separate the teacher's mistakes (positives) from its correct samples: the
 * probability that a mistake scores higher (is distilled later) than a correct sample, ties
 * counting half (the ROC AUC). 0.5 is chance; 1 puts every mistake after every correct sample.
 * null when either group is empty.
 */
export function mistakeAuc(scores: Float32Array, wrong: ArrayLike<number>): number | null {
  const order = Array.from(scores.keys()).sort((a, b) => scores[a] - scores[b]);
  let positives = 0;
  for (let i = 0; i < wrong.length; i++) positives += wrong[i] ? 1 : 0;
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) return null;
  // Σ of the positives' mid-ranks (1-based, ties averaged) − P(P + 1)/2 = pairs a positive wins.
  let rankSum = 0;
  for (let s = 0; s < order.length; ) {
    let e = s;
    while (e + 1 < order.length && scores[order[e + 1]] === scores[order[s]]) e++;
    const mid = (s + e) / 2 + 1;
    for (let r = s; r <= e; r++) if (wrong[order[r]]) rankSum += mid;
    s = e + 1;
  }
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}
