// optim's float64 references and verification cases (kdgpu verify, the test suite), beside the kernels in optim.ts.

import { toF64, type KernelCheck, type VerifyCase } from './check.js';
import { optimizerKernel, type OptimizerRule, optimizerUpdate } from './optim.js';

export function optimizerReference(
  rule: OptimizerRule,
  p0: ArrayLike<number>,
  grad: ArrayLike<number>,
  m0: ArrayLike<number>,
  v0: ArrayLike<number>,
  lr: number,
  step: number,
): { param: Float64Array; m: Float64Array; v: Float64Array } {
  const n = p0.length;
  const param = new Float64Array(n);
  const m = new Float64Array(n);
  const v = Float64Array.from(v0);
  for (let i = 0; i < n; i++) {
    const p = p0[i];
    let g = grad[i];
    if (rule.kind === 'sgd') {
      g += rule.weightDecay * p;
      m[i] = rule.momentum * m0[i] + g;
      param[i] = p - lr * (rule.nesterov ? g + rule.momentum * m[i] : m[i]);
    } else {
      if (!rule.decoupled) g += rule.weightDecay * p;
      m[i] = rule.beta1 * m0[i] + (1 - rule.beta1) * g;
      v[i] = rule.beta2 * v0[i] + (1 - rule.beta2) * g * g;
      let s = m[i] / (1 - rule.beta1 ** step) / (Math.sqrt(v[i] / (1 - rule.beta2 ** step)) + rule.eps);
      if (rule.decoupled) s += rule.weightDecay * p;
      param[i] = p - lr * s;
    }
  }
  return { param, m, v };
}

export const optimizerCheck: KernelCheck = {
  name: 'optimizer_update',
  kernels: [optimizerKernel],
  cases(rng) {
    const rules: OptimizerRule[] = [
      { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 5e-4 },
      { kind: 'sgd', momentum: 0.9, nesterov: true, weightDecay: 1e-4 },
      { kind: 'sgd', momentum: 0, nesterov: false, weightDecay: 0 },
      { kind: 'adam', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 1e-2, decoupled: true },
      { kind: 'adam', beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 1e-3, decoupled: false },
    ];
    const cases: VerifyCase[] = [];
    for (const rule of rules) {
      for (const n of [1, 7, 1000 + rng.int(1000)]) {
        const param = rng.fillUniform(n);
        const grad = rng.fillUniform(n);
        const m = rng.fillUniform(n, -0.1, 0.1);
        const v = rng.fillUniform(n, 0, 0.01);
        const step = 1 + rng.int(50);
        const lr = 0.01;
        const faulted = n === 7; // a recorded fault: the update must leave everything as it was
        cases.push({
          shape: `${faulted ? 'after a fault: ' : ''}${rule.kind}${'nesterov' in rule && rule.nesterov ? ' nesterov' : ''}${'decoupled' in rule && rule.decoupled ? 'W' : ''} n=${n} step ${step}`,
          inputs: { param, grad, m, v, health: Uint32Array.of(faulted ? 1 : 0, 0, 0, 0) },
          outputs: { param: n, m: n, v: n },
          run: (e, b) => optimizerUpdate(e, rule, { param: b.param, grad: b.grad, m: b.m, v: b.v, health: b.health }, n, lr, step),
          reference: () => (faulted ? { param: toF64(param), m: toF64(m), v: toF64(v) } : optimizerReference(rule, param, grad, m, v, Math.fround(lr), step)),
          tolerance: { abs: 1e-6, rel: 1e-5 },
        });
      }
    }
    return cases;
  },
};
