// Data-selection scorers that need no gradient (method.md §3b) and the ensemble of teachers:
// teacher margin, teacher entropy, the student's need (its KL to the revised target), the
// ensemble's target and the teachers' disagreement. Float64 references: scores.check.ts.

import common from '../../shaders/kd_common.wgsl';
import dsScoreSource from '../../shaders/ds_score.wgsl';
import ensembleCommon from '../../shaders/ensemble.wgsl';
import ensembleTargetSource from '../../shaders/ensemble_target.wgsl';
import disagreementSource from '../../shaders/ensemble_disagreement.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel, type BindingSpec } from '../gpu/kernel.js';
import { REVISION_UNIFORMS, revisionUniforms, revisionVariant, type Revision } from './kd.js';

const WG = 64;
const f = (name: string, access: BindingSpec['access'] = 'read'): BindingSpec => ({ name, type: 'f32', access });
const u = (name: string): BindingSpec => ({ name, type: 'u32', access: 'read' });

/** The scorers with a kernel of their own here (influence has its own GEMM path, selection.ts). */
export const ROW_SCORES = { 'teacher-margin': 0, 'teacher-entropy': 1, 'student-need': 2 } as const;
export type RowScore = keyof typeof ROW_SCORES;

export const dsScoreKernel = defineKernel({
  name: 'ds_score',
  source: common + dsScoreSource,
  bindings: [f('zs'), f('zt'), u('labels'), u('idx'), f('score', 'read_write')],
  uniforms: [['rows', 'u32'], ...REVISION_UNIFORMS],
  constants: { SCORE: 0, REVISE: false, LR_SCOPE: 0 },
  workgroupSize: () => [WG, 1, 1],
});

/**
 * score[i] for rows i (dataset sample idx[i]): `kind` over the teacher cache zt [N, C] (and the
 * student's logits zs [rows, C] for 'student-need', whose target is revised by `r`). Lower = distil.
 */
export function dsScores(
  engine: Engine,
  kind: RowScore,
  bufs: { zs: Binding; zt: Binding; labels: Binding; idx: Binding; score: Binding },
  rows: number,
  C: number,
  temperature: number,
  r: Revision,
): void {
  engine.dispatch(dsScoreKernel, {
    variant: { SCORE: ROW_SCORES[kind], ...revisionVariant(r) },
    bind: bufs,
    uniforms: { rows, C, ...revisionUniforms(r, temperature) },
    workgroups: Math.ceil(rows / WG),
  });
}

/** How an ensemble's teachers are averaged: their probabilities at T (default) or their logits. */
export type EnsembleMean = 'probability' | 'logit';

export const ensembleTargetKernel = defineKernel({
  name: 'ensemble_target',
  source: ensembleCommon + ensembleTargetSource,
  bindings: [f('zk'), f('z', 'read_write')],
  uniforms: [
    ['N', 'u32'],
    ['C', 'u32'],
    ['K', 'u32'],
    ['inv_t', 'f32'],
  ],
  constants: { MEAN: 0 },
  workgroupSize: () => [WG, 1, 1],
});

/** z [N, C]: logits whose softmax at T is the ensemble's target, from K teachers' logits zk [K, N, C]. */
export function ensembleTarget(engine: Engine, bufs: { zk: Binding; z: Binding }, K: number, N: number, C: number, temperature: number, mean: EnsembleMean): void {
  engine.dispatch(ensembleTargetKernel, {
    variant: { MEAN: mean === 'logit' ? 1 : 0 },
    bind: bufs,
    uniforms: { N, C, K, inv_t: 1 / temperature },
    workgroups: Math.ceil(N / WG),
  });
}

export const ensembleDisagreementKernel = defineKernel({
  name: 'ensemble_disagreement',
  source: ensembleCommon + disagreementSource,
  bindings: [f('zk'), u('labels'), u('idx'), f('score', 'read_write')],
  uniforms: [
    ['rows', 'u32'],
    ['N', 'u32'],
    ['C', 'u32'],
    ['K', 'u32'],
    ['inv_t', 'f32'],
  ],
  workgroupSize: () => [WG, 1, 1],
});

/** score[i] = Var_j softmax_T(zk_j[idx[i]])[y]: how much K teachers disagree on the label's probability. */
export function ensembleDisagreement(engine: Engine, bufs: { zk: Binding; labels: Binding; idx: Binding; score: Binding }, rows: number, K: number, N: number, C: number, temperature: number): void {
  engine.dispatch(ensembleDisagreementKernel, {
    bind: bufs,
    uniforms: { rows, N, C, K, inv_t: 1 / temperature },
    workgroups: Math.ceil(rows / WG),
  });
}
