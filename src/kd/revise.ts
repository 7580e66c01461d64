// reviseLabels(): Label Revision (method.md §2) as a library call over host arrays.

import type { Engine } from '../gpu/engine.js';
import { labelRevision, type LrScope } from '../kernels/kd.js';

export interface ReviseLabelsOptions {
  /** KD temperature (default 4). */
  temperature?: number;
  /** η in (0, 1) (default 0.9). */
  eta?: number;
  /** Revise every sample ('all', default) or only those the teacher gets wrong. */
  scope?: LrScope;
  /** β from the teacher at T = 1 instead of the KD temperature. */
  betaAtT1?: boolean;
}

export interface RevisedLabels {
  /** [n, classes] revised soft targets; argmax of each row is its label. */
  targets: Float32Array;
  /** [n] the mixing weight β of each sample (1: unrevised). */
  beta: Float32Array;
  /** [n] whether the teacher's argmax differs from the label. */
  teacherWrong: Uint8Array;
}

/**
 * Revise the teacher's soft labels with the ground truth: p = β·softmax(z/T) + (1 − β)·onehot(y),
 * β = η / (p_max − p_label + 1). Runs the `label_revision` kernel; one readback at the end.
 */
export async function reviseLabels(engine: Engine, teacherLogits: Float32Array, labels: Uint32Array, classes: number, o: ReviseLabelsOptions = {}): Promise<RevisedLabels> {
  const n = labels.length;
  if (teacherLogits.length !== n * classes) {
    throw new Error(`reviseLabels: teacherLogits has ${teacherLogits.length} values, expected ${n} labels × ${classes} classes = ${n * classes}`);
  }
  for (let i = 0; i < n; i++) {
    if (labels[i] >= classes) throw new Error(`reviseLabels: labels[${i}] = ${labels[i]} is outside [0, ${classes})`);
  }
  const bufs = {
    zt: engine.upload(teacherLogits, 'teacher-logits'),
    labels: engine.upload(labels, 'labels'),
    p: engine.alloc(n * classes * 4, 'targets'),
    beta: engine.alloc(n * 4, 'beta'),
    wrong: engine.alloc(n * 4, 'wrong'),
  };
  try {
    labelRevision(engine, bufs, n, classes, o.temperature ?? 4, { revise: true, eta: o.eta ?? 0.9, scope: o.scope ?? 'all', betaAtT1: o.betaAtT1 ?? false });
    const targets = await engine.readF32(bufs.p, n * classes);
    const beta = await engine.readF32(bufs.beta, n);
    const wrong = await engine.readF32(bufs.wrong, n);
    return { targets, beta, teacherWrong: Uint8Array.from(wrong, (v) => (v ? 1 : 0)) };
  } finally {
    Object.values(bufs).forEach((b) => engine.release(b));
  }
}
