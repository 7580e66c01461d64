// Batch normalisation over NCHW (per channel C, statistics over N·H·W): training statistics with
// running averages, the normalise-scale-shift (with eval mode and a fused ReLU), and the backward.

import wgSum from '../../shaders/wg_sum.wgsl';
import statsSource from '../../shaders/batchnorm_stats.wgsl';
import applySource from '../../shaders/batchnorm_apply.wgsl';
import backwardReduceSource from '../../shaders/batchnorm_backward_reduce.wgsl';
import backwardApplySource from '../../shaders/batchnorm_backward_apply.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel, type BindingSpec } from '../gpu/kernel.js';
import type { Activation } from './matmul.js';

const WG = 64;
const r = (name: string): BindingSpec => ({ name, type: 'f32', access: 'read' });
const rw = (name: string): BindingSpec => ({ name, type: 'f32', access: 'read_write' });

export const batchnormStatsKernel = defineKernel({
  name: 'batchnorm_stats',
  source: wgSum + statsSource,
  bindings: [r('x'), rw('mean'), rw('invstd'), rw('running_mean'), rw('running_var')],
  uniforms: [['N', 'u32'], ['C', 'u32'], ['HW', 'u32'], ['eps', 'f32'], ['momentum', 'f32']],
  workgroupSize: () => [WG, 1, 1],
});

export const batchnormApplyKernel = defineKernel({
  name: 'batchnorm_apply',
  source: applySource,
  bindings: [r('x'), r('mean'), r('stat'), r('gamma'), r('beta'), rw('y')],
  uniforms: [['N', 'u32'], ['C', 'u32'], ['HW', 'u32'], ['eps', 'f32']],
  constants: { EVAL: false, ACT: 0 },
  workgroupSize: () => [WG, 1, 1],
});

export const batchnormBackwardReduceKernel = defineKernel({
  name: 'batchnorm_backward_reduce',
  source: wgSum + backwardReduceSource,
  bindings: [r('dy'), r('x'), r('mean'), r('invstd'), rw('sums'), rw('dgamma'), rw('dbeta')],
  uniforms: [['N', 'u32'], ['C', 'u32'], ['HW', 'u32']],
  constants: { ACCUM: false },
  workgroupSize: () => [WG, 1, 1],
});

export const batchnormBackwardApplyKernel = defineKernel({
  name: 'batchnorm_backward_apply',
  source: backwardApplySource,
  bindings: [r('dy'), r('x'), r('mean'), r('invstd'), r('gamma'), r('sums'), rw('dx')],
  uniforms: [['N', 'u32'], ['C', 'u32'], ['HW', 'u32']],
  constants: { ACCUM: false },
  workgroupSize: () => [WG, 1, 1],
});

export interface BnShape {
  N: number;
  C: number;
  HW: number;
}

/** Batch statistics into mean/invstd, and the running averages updated in place. */
export function batchnormStats(
  engine: Engine,
  s: BnShape,
  bufs: { x: Binding; mean: Binding; invstd: Binding; runningMean: Binding; runningVar: Binding },
  eps: number,
  momentum: number,
): void {
  engine.dispatch(batchnormStatsKernel, {
    bind: { x: bufs.x, mean: bufs.mean, invstd: bufs.invstd, running_mean: bufs.runningMean, running_var: bufs.runningVar },
    uniforms: { ...s, eps, momentum },
    workgroups: s.C,
  });
}

/**
 * y = act(gamma·(x − mean)·invstd + beta). In eval mode pass the running mean and running
 * variance as `mean` and `stat`; in training the batch mean and invstd.
 */
export function batchnormApply(
  engine: Engine,
  s: BnShape,
  bufs: { x: Binding; mean: Binding; stat: Binding; gamma: Binding; beta: Binding; y: Binding },
  opts: { eval: boolean; eps: number; activation?: Activation },
): void {
  engine.dispatch(batchnormApplyKernel, {
    variant: { EVAL: opts.eval, ACT: opts.activation === 'relu' ? 1 : 0 },
    bind: bufs,
    uniforms: { ...s, eps: opts.eps },
    workgroups: Math.ceil((s.N * s.C * s.HW) / WG),
  });
}

/** dx (+)= ∂L/∂x, dgamma/dbeta (+)= their gradients, given dy and the saved batch statistics. */
export function batchnormBackward(
  engine: Engine,
  s: BnShape,
  bufs: { dy: Binding; x: Binding; mean: Binding; invstd: Binding; gamma: Binding; dx: Binding; dgamma: Binding; dbeta: Binding },
  accumulate: { dx: boolean; params: boolean },
): void {
  const sums = engine.alloc(2 * s.C * 4, 'bn_sums');
  engine.dispatch(batchnormBackwardReduceKernel, {
    variant: { ACCUM: accumulate.params },
    bind: { dy: bufs.dy, x: bufs.x, mean: bufs.mean, invstd: bufs.invstd, sums, dgamma: bufs.dgamma, dbeta: bufs.dbeta },
    uniforms: { ...s },
    workgroups: s.C,
  });
  engine.dispatch(batchnormBackwardApplyKernel, {
    variant: { ACCUM: accumulate.dx },
    bind: { dy: bufs.dy, x: bufs.x, mean: bufs.mean, invstd: bufs.invstd, gamma: bufs.gamma, sums, dx: bufs.dx },
    uniforms: { ...s },
    workgroups: Math.ceil((s.N * s.C * s.HW) / WG),
  });
  engine.release(sums);
}
