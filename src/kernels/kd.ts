// The distillation kernels of method.md: label revision, the fused KD / DKD loss with its
// gradient, last-layer influence scores, and the data-selection mask.

import common from '../../shaders/kd_common.wgsl';
import revisionSource from '../../shaders/label_revision.wgsl';
import kdLossSource from '../../shaders/kd_loss.wgsl';
import influenceSource from '../../shaders/influence_scores.wgsl';
import selectSource from '../../shaders/select_mask.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel, type BindingSpec, type UniformType } from '../gpu/kernel.js';

const WG = 64;
const f = (name: string, access: BindingSpec['access'] = 'read'): BindingSpec => ({ name, type: 'f32', access });
const u = (name: string): BindingSpec => ({ name, type: 'u32', access: 'read' });
export const REVISION_UNIFORMS: Array<[string, UniformType]> = [
  ['C', 'u32'],
  ['inv_t', 'f32'],
  ['inv_t_beta', 'f32'],
  ['eta', 'f32'],
];

export type LrScope = 'all' | 'wrong';

/** Label-revision settings (method.md §2). revise false: the teacher's soft labels unchanged. */
export interface Revision {
  revise: boolean;
  eta: number;
  scope: LrScope;
  /** Compute β from the teacher at T = 1 instead of the KD temperature. */
  betaAtT1: boolean;
}

export const NO_REVISION: Revision = { revise: false, eta: 0.9, scope: 'all', betaAtT1: false };

export function revisionVariant(r: Revision) {
  return { REVISE: r.revise, LR_SCOPE: r.scope === 'wrong' ? 1 : 0 };
}

export function revisionUniforms(r: Revision, temperature: number) {
  if (r.revise && !(r.eta > 0 && r.eta < 1)) throw new Error(`label revision: eta must be in (0, 1), got ${r.eta}`);
  if (!(temperature > 0)) throw new Error(`temperature must be > 0, got ${temperature}`);
  return { inv_t: 1 / temperature, inv_t_beta: r.betaAtT1 ? 1 : 1 / temperature, eta: r.eta };
}

export const labelRevisionKernel = defineKernel({
  name: 'label_revision',
  source: common + revisionSource,
  bindings: [f('zt'), u('labels'), f('p', 'read_write'), f('beta_out', 'read_write'), f('wrong', 'read_write')],
  uniforms: [['rows', 'u32'], ...REVISION_UNIFORMS],
  constants: { REVISE: true, LR_SCOPE: 0 },
  workgroupSize: () => [WG, 1, 1],
});

/** Revised targets p [rows, C], β [rows] and teacher-wrong flags [rows] from teacher logits. */
export function labelRevision(
  engine: Engine,
  bufs: { zt: Binding; labels: Binding; p: Binding; beta: Binding; wrong: Binding },
  rows: number,
  C: number,
  temperature: number,
  r: Revision,
): void {
  engine.dispatch(labelRevisionKernel, {
    variant: revisionVariant(r),
    bind: { zt: bufs.zt, labels: bufs.labels, p: bufs.p, beta_out: bufs.beta, wrong: bufs.wrong },
    uniforms: { rows, C, ...revisionUniforms(r, temperature) },
    workgroups: Math.ceil(rows / WG),
  });
}

export const kdLossKernel = defineKernel({
  name: 'kd_loss',
  source: common + kdLossSource,
  bindings: [f('zs'), f('zt'), u('labels'), u('idx'), f('mask'), f('loss_out', 'read_write'), f('grad', 'read_write'), f('correct', 'read_write')],
  uniforms: [
    ['B', 'u32'],
    ...REVISION_UNIFORMS,
    ['lambda1', 'f32'],
    ['lambda2', 'f32'],
    ['alpha', 'f32'],
    ['beta_dkd', 'f32'],
    ['warm', 'f32'],
    ['grad_scale', 'f32'],
    ['rest_weight', 'f32'],
  ],
  constants: { METHOD: 0, REVISE: false, LR_SCOPE: 0, USE_MASK: false },
  workgroupSize: () => [WG, 1, 1],
});

export type KdLoss =
  | { kind: 'kd'; lambda1: number; lambda2: number }
  /** DKD: λ1·CE + warm·(α·TCKD + β·NCKD); `warm` is mdistiller's linear warm-up factor in [0, 1]. */
  | { kind: 'dkd'; lambda1: number; alpha: number; beta: number; warm: number };

export interface KdLossOptions {
  loss: KdLoss;
  temperature: number;
  revision: Revision;
  /** Whether mask[k] gates the distillation term (data selection); else every sample is distilled. */
  useMask: boolean;
  /**
   * Cross-entropy weight of a sample left out of the selection (mask 0), when `useMask`; the
   * selected ones keep `loss.lambda1`. Default: `loss.lambda1` (the mask gates only the teacher term).
   */
  restWeight?: number;
}

/** The cross-entropy weight of a sample with selection flag m (method.md §3). */
export function ceWeight(o: KdLossOptions, m: number): number {
  if (!o.useMask) return o.loss.lambda1;
  const rest = o.restWeight ?? o.loss.lambda1;
  return o.loss.lambda1 * m + rest * (1 - m);
}

/**
 * Per-sample loss [B], ∂(mean loss)/∂zs [B, C] and correct flags [B] for student logits zs
 * [B, C]; row i is dataset sample idx[i], whose teacher logits are zt[idx[i]] and flag mask[idx[i]].
 */
export function kdLoss(
  engine: Engine,
  bufs: { zs: Binding; zt: Binding; labels: Binding; idx: Binding; mask: Binding; loss: Binding; grad: Binding; correct: Binding },
  B: number,
  C: number,
  o: KdLossOptions,
): void {
  const dkd = o.loss.kind === 'dkd';
  const restWeight = o.restWeight ?? o.loss.lambda1;
  if (!(restWeight >= 0)) throw new Error(`kd_loss: restWeight must be >= 0, got ${restWeight}`);
  engine.dispatch(kdLossKernel, {
    variant: { METHOD: dkd ? 1 : 0, USE_MASK: o.useMask, ...revisionVariant(o.revision) },
    bind: { zs: bufs.zs, zt: bufs.zt, labels: bufs.labels, idx: bufs.idx, mask: bufs.mask, loss_out: bufs.loss, grad: bufs.grad, correct: bufs.correct },
    uniforms: {
      B,
      C,
      ...revisionUniforms(o.revision, o.temperature),
      lambda1: o.loss.lambda1,
      lambda2: o.loss.kind === 'kd' ? o.loss.lambda2 : 1,
      alpha: o.loss.kind === 'dkd' ? o.loss.alpha : 0,
      beta_dkd: o.loss.kind === 'dkd' ? o.loss.beta : 0,
      warm: o.loss.kind === 'dkd' ? o.loss.warm : 1,
      grad_scale: 1 / B,
      rest_weight: restWeight,
    },
    workgroups: Math.ceil(B / WG),
  });
}

export const influenceKernel = defineKernel({
  name: 'influence_scores',
  source: common + influenceSource,
  bindings: [f('zs'), f('zt'), u('labels'), u('idx'), f('u'), f('score', 'read_write')],
  uniforms: [['rows', 'u32'], ...REVISION_UNIFORMS],
  constants: { REVISE: false, LR_SCOPE: 0 },
  workgroupSize: () => [WG, 1, 1],
});

/**
 * s_i = −Σ_c (softmax_T(zs_i) − p_i)_c · u_i[c] for rows i (dataset samples idx[i]), where
 * u_i = (G_val ⊘ H)·h_i was computed by a GEMM and p_i is the (revised) teacher target.
 */
export function influenceScores(
  engine: Engine,
  bufs: { zs: Binding; zt: Binding; labels: Binding; idx: Binding; u: Binding; score: Binding },
  rows: number,
  C: number,
  temperature: number,
  r: Revision,
): void {
  engine.dispatch(influenceKernel, {
    variant: revisionVariant(r),
    bind: bufs,
    uniforms: { rows, C, ...revisionUniforms(r, temperature) },
    workgroups: Math.ceil(rows / WG),
  });
}

export const selectMaskKernel = defineKernel({
  name: 'select_mask',
  source: selectSource,
  bindings: [f('score'), u('idx'), u('labels'), f('mask', 'read_write'), { name: 'counts', type: 'u32', access: 'read_write' }],
  uniforms: [
    ['n', 'u32'],
    ['ratio', 'f32'],
    ['groups', 'u32'],
  ],
  constants: { RULE: 0, BALANCE: false },
  workgroupSize: () => [256, 1, 1],
});

/** 'ratio': the lowest-score fraction; 'sign': every negative score (method.md §3). */
export type SelectionRule = 'ratio' | 'sign';
/** 'class': the rule applies within each ground-truth class; 'global': over all rows together. */
export type SelectionBalance = 'global' | 'class';

export interface SelectMaskOptions {
  /** 'count': keep as many rows per group as counts[2g + 1] already holds (a size-matched control). */
  rule: SelectionRule | 'count';
  ratio: number;
  balance: SelectionBalance;
  classes: number;
}

const RULES = { ratio: 0, sign: 1, count: 2 } as const;

/**
 * mask[idx[i]] ∈ {0, 1} for the n scored rows, selected within each class (balance 'class') or
 * over all rows; counts[2g], counts[2g + 1] = rows in group g and rows kept (u32, 2 per group:
 * 2·classes with balance 'class', else 2). `labels` are the dataset's labels (row i's class is
 * labels[idx[i]]).
 */
export function selectMask(engine: Engine, bufs: { score: Binding; idx: Binding; labels: Binding; mask: Binding; counts: Binding }, n: number, o: SelectMaskOptions): void {
  if (o.rule === 'ratio' && !(o.ratio >= 0 && o.ratio <= 1)) throw new Error(`select_mask: ratio must be in [0, 1], got ${o.ratio}`);
  const groups = o.balance === 'class' ? o.classes : 1;
  engine.dispatch(selectMaskKernel, {
    variant: { RULE: RULES[o.rule], BALANCE: o.balance === 'class' },
    bind: bufs,
    uniforms: { n, ratio: o.rule === 'ratio' ? o.ratio : 0, groups },
    workgroups: groups,
  });
}
