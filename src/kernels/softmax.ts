// Row-wise softmax and log-softmax with a temperature; fused softmax cross-entropy + gradient.

import wgSum from '../../shaders/wg_sum.wgsl';
import softmaxSource from '../../shaders/softmax.wgsl';
import xentSource from '../../shaders/softmax_xent.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel } from '../gpu/kernel.js';

const WG = 64;

export const softmaxKernel = defineKernel({
  name: 'softmax',
  source: wgSum + softmaxSource,
  bindings: [
    { name: 'x', type: 'f32', access: 'read' },
    { name: 'out', type: 'f32', access: 'read_write' },
  ],
  uniforms: [
    ['rows', 'u32'],
    ['cols', 'u32'],
    ['inv_t', 'f32'],
  ],
  constants: { LOG: false, PER_THREAD: false },
  workgroupSize: () => [WG, 1, 1],
});

/**
 * One invocation per row for short rows, and on CPU devices whenever there are rows enough to
 * keep the cores busy; a workgroup per row otherwise (see the shaders' comments).
 */
export function rowPerThread(engine: Engine, rows: number, cols: number): boolean {
  return cols <= 64 || (engine.software && rows >= 16);
}

/** out[r, :] = softmax(x[r, :] / T), or log-softmax with `log`. */
export function softmax(
  engine: Engine,
  x: Binding,
  out: Binding,
  rows: number,
  cols: number,
  opts: { temperature?: number; log?: boolean } = {},
): void {
  const t = opts.temperature ?? 1;
  if (!(t > 0)) throw new Error(`softmax: temperature must be > 0, got ${t}`);
  const perThread = rowPerThread(engine, rows, cols);
  engine.dispatch(softmaxKernel, {
    variant: { LOG: opts.log ?? false, PER_THREAD: perThread },
    bind: { x, out },
    uniforms: { rows, cols, inv_t: 1 / t },
    workgroups: perThread ? Math.ceil(rows / WG) : rows,
  });
}

export const softmaxXentKernel = defineKernel({
  name: 'softmax_xent',
  source: wgSum + xentSource,
  bindings: [
    { name: 'logits', type: 'f32', access: 'read' },
    { name: 'labels', type: 'u32', access: 'read' },
    { name: 'loss', type: 'f32', access: 'read_write' },
    { name: 'grad', type: 'f32', access: 'read_write' },
    { name: 'correct', type: 'f32', access: 'read_write' },
  ],
  uniforms: [
    ['rows', 'u32'],
    ['cols', 'u32'],
    ['grad_scale', 'f32'],
  ],
  constants: { PER_THREAD: false },
  workgroupSize: () => [WG, 1, 1],
});

/**
 * Per-row cross-entropy of softmax(logits) against integer labels, its gradient w.r.t. the logits
 * (times gradScale, 1/rows for a batch mean), and whether the argmax was right.
 */
export function softmaxCrossEntropy(
  engine: Engine,
  bufs: { logits: Binding; labels: Binding; loss: Binding; grad: Binding; correct: Binding },
  rows: number,
  cols: number,
  gradScale = 1 / rows,
): void {
  const perThread = rowPerThread(engine, rows, cols);
  engine.dispatch(softmaxXentKernel, {
    variant: { PER_THREAD: perThread },
    bind: bufs,
    uniforms: { rows, cols, grad_scale: gradScale },
    workgroups: perThread ? Math.ceil(rows / WG) : rows,
  });
}
