// Data selection (method.md §3): which training samples get teacher supervision. Scores are
// last-layer influence estimates computed on the GPU: features h and logits of the student for
// the training rows and a held-out validation split, the validation CE gradient G_val, an
// optional damped diagonal Gauss–Newton Hessian, then the fused score and selection kernels.

import type { Dataset } from '../data/dataset.js';
import { elementwise } from '../kernels/elementwise.js';
import { matmul } from '../kernels/matmul.js';
import { softmax, softmaxCrossEntropy } from '../kernels/softmax.js';
import { influenceScores, selectMask, type Revision, type SelectionBalance, type SelectionRule } from '../kernels/kd.js';
import type { Model } from '../nn/models.js';
import { forEachBatch } from '../train.js';
import { OptionError } from '../util/option-error.js';

export interface SelectionOptions {
  /** 'ratio': keep `ratio` of the samples with the lowest scores; 'sign': keep every s_i < 0. */
  rule: SelectionRule;
  ratio: number;
  /** Apply the rule within each ground-truth class ('class') or over all samples ('global'). */
  balance: SelectionBalance;
  /** H = (1 + damping)·I ('identity', gradient alignment) or a damped diagonal Gauss–Newton ('diag'). */
  hessian: 'identity' | 'diag';
  damping: number;
  temperature: number;
  revision: Revision;
}

/** Student logits [rows, C] and last-layer features [rows, D] for dataset samples `indices`, in order. */
function studentOutputs(student: Model, data: Dataset, indices: Uint32Array): { logits: GPUBuffer; features: GPUBuffer; D: number } {
  const engine = student.store.engine;
  const C = student.input.classes;
  const D = student.head.inFeatures;
  const rows = indices.length;
  const logits = engine.alloc(rows * C * 4, 'ds-logits');
  const features = engine.alloc(rows * D * 4, 'ds-features');
  forEachBatch(student, data, { indices }, ({ g, x, batch, offset }) => {
    let h = null as null | { buffer: GPUBuffer; offset?: number };
    const z = student.forward(g, x, (t) => (h = t.data));
    engine.copy(z.data.buffer, z.data.offset ?? 0, logits, offset * C * 4, batch.size * C * 4);
    engine.copy(h!.buffer, h!.offset ?? 0, features, offset * D * 4, batch.size * D * 4);
  });
  return { logits, features, D };
}

export interface SelectionResult {
  /** Per-sample scores of the training rows, in `train` order (on the GPU; the caller releases it). */
  scores: GPUBuffer;
}

/**
 * Score the `train` samples and write mask[k] ∈ {0, 1} for each (other entries untouched), and
 * counts [2 per group] = samples and selected samples per class (balance 'class') or overall.
 * `teacherLogits` is the teacher-target cache over the whole dataset; `labels` the dataset's labels.
 */
export async function selectDistillSubset(
  student: Model,
  data: Dataset,
  split: { train: Uint32Array; val: Uint32Array },
  gpu: { teacherLogits: GPUBuffer; labels: GPUBuffer; mask: GPUBuffer; counts: GPUBuffer },
  o: SelectionOptions,
): Promise<SelectionResult> {
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
  const val = studentOutputs(student, data, split.val);
  temps.push(val.logits, val.features);
  const D = val.D;
  const nv = split.val.length;
  const valLabels = engine.upload(Uint32Array.from(split.val, (k) => data.labels[k]), 'ds-val-labels');
  temps.push(valLabels);
  const dz = tmp(nv * C, 'ds-val-grad');
  const scratch = tmp(nv, 'ds-val-loss');
  const scratch2 = tmp(nv, 'ds-val-correct');
  softmaxCrossEntropy(engine, { logits: val.logits, labels: valLabels, loss: scratch, grad: dz, correct: scratch2 }, nv, C, 1 / nv);
  const gVal = tmp(C * D, 'ds-gval');
  matmul(engine, dz, val.features, gVal, C, D, nv, { transA: true });

  const train = studentOutputs(student, data, split.train);
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
  const idx = engine.upload(split.train, 'ds-idx');
  temps.push(idx);
  const scores = engine.alloc(n * 4, 'ds-scores');
  influenceScores(engine, { zs: train.logits, zt: gpu.teacherLogits, labels: gpu.labels, idx, u, score: scores }, n, C, o.temperature, o.revision);
  const bufs = { score: scores, idx, labels: gpu.labels, mask: gpu.mask, counts: gpu.counts };
  if (o.rule === 'sign' && o.balance === 'class') {
    // The sign rule decides how many samples are kept (every s_i < 0 over the whole set); the
    // class balance decides which: that fraction of each class, lowest scores first. One
    // readback of the count, between epochs.
    selectMask(engine, bufs, n, { rule: 'sign', ratio: 0, balance: 'global', classes: C });
    const negative = new Uint32Array(await engine.read(gpu.counts, 8))[1];
    selectMask(engine, bufs, n, { rule: 'ratio', ratio: negative / Math.max(1, n), balance: 'class', classes: C });
  } else {
    selectMask(engine, bufs, n, { rule: o.rule, ratio: o.ratio, balance: o.balance, classes: C });
  }
  for (const t of temps) engine.release(t);
  return { scores };
}
