// Fused optimizer updates over a flat parameter buffer: SGD (momentum, Nesterov, weight decay)
// and Adam / AdamW. The learning rate and bias corrections are uniforms set per step by the host.

import source from '../../shaders/optim.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel } from '../gpu/kernel.js';

const WG = 64;

export const optimizerKernel = defineKernel({
  name: 'optimizer_update',
  source,
  bindings: [
    { name: 'param', type: 'f32', access: 'read_write' },
    { name: 'grad', type: 'f32', access: 'read' },
    { name: 'm', type: 'f32', access: 'read_write' },
    { name: 'v', type: 'f32', access: 'read_write' },
    { name: 'health', type: 'u32', access: 'read' },
  ],
  uniforms: [
    ['n', 'u32'],
    ['lr', 'f32'],
    ['beta1', 'f32'],
    ['beta2', 'f32'],
    ['eps', 'f32'],
    ['weight_decay', 'f32'],
    ['bc1', 'f32'],
    ['bc2', 'f32'],
    ['grad_scale', 'f32'],
  ],
  constants: { MODE: 0, NESTEROV: false, DECOUPLED: false },
  workgroupSize: () => [WG, 1, 1],
});

export type OptimizerRule =
  | { kind: 'sgd'; momentum: number; nesterov: boolean; weightDecay: number }
  | { kind: 'adam'; beta1: number; beta2: number; eps: number; weightDecay: number; decoupled: boolean };

/**
 * One update of n parameters. `m` is the momentum buffer (SGD) or first moment (Adam); `v` the
 * second moment (Adam; for SGD any distinct buffer, it is not touched). `step` counts from 1.
 * Nothing changes when health[0] != 0 (a numerical fault was recorded; see finite.ts).
 */
export function optimizerUpdate(
  engine: Engine,
  rule: OptimizerRule,
  bufs: { param: Binding; grad: Binding; m: Binding; v: Binding; health: Binding },
  n: number,
  lr: number,
  step: number,
  gradScale = 1,
): void {
  const sgd = rule.kind === 'sgd';
  engine.dispatch(optimizerKernel, {
    variant: { MODE: sgd ? 0 : 1, NESTEROV: sgd && rule.nesterov, DECOUPLED: !sgd && rule.decoupled },
    bind: bufs,
    uniforms: {
      n,
      lr,
      beta1: sgd ? rule.momentum : rule.beta1,
      beta2: sgd ? 0 : rule.beta2,
      eps: sgd ? 0 : rule.eps,
      weight_decay: rule.weightDecay,
      bc1: sgd ? 1 : 1 - rule.beta1 ** step,
      bc2: sgd ? 1 : 1 - rule.beta2 ** step,
      grad_scale: gradScale,
    },
    workgroups: Math.ceil(n / (WG * 4)),
  });
}
