// The claims of method.md checked on random inputs: label-revision properties on the GPU kernel's
// output, the KL decomposition and the DKD identity on the fused loss kernel's output, and the
// fused gradients against finite differences.
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/util/rng.js';
import { testEngine } from './engine.js';
import { kdLoss, labelRevision, type KdLossOptions, type Revision } from '../src/kernels/kd.js';
import { kdSampleReference } from '../src/kernels/kd.check.js';

const softmax = (z: ArrayLike<number>, off: number, C: number, t: number) => {
  const s = Array.from({ length: C }, (_, c) => z[off + c] / t);
  const m = Math.max(...s);
  const e = s.map((v) => Math.exp(v - m));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
};

async function reviseOnGpu(zt: Float32Array, labels: Uint32Array, rows: number, C: number, t: number, r: Revision) {
  const engine = await testEngine();
  const b = { zt: engine.upload(zt), labels: engine.upload(labels), p: engine.alloc(rows * C * 4), beta: engine.alloc(rows * 4), wrong: engine.alloc(rows * 4) };
  labelRevision(engine, b, rows, C, t, r);
  const p = await engine.readF32(b.p, rows * C);
  const beta = await engine.readF32(b.beta, rows);
  const wrong = await engine.readF32(b.wrong, rows);
  Object.values(b).forEach((x) => engine.release(x));
  return { p, beta, wrong };
}

describe('label revision (method.md §2), on the GPU kernel', () => {
  const rows = 2000;
  const C = 10;
  for (const [t, eta] of [[4, 0.9], [1, 0.5], [2, 0.95]] as const) {
    it(`T=${t} η=${eta}: argmax p = y, margin 1 − η, β = η iff the teacher is right, else η/2 < β < η, non-target ratios kept`, async () => {
      const rng = new Rng(t * 100 + eta * 10);
      const zt = rng.fillUniform(rows * C, -6, 6);
      const labels = Uint32Array.from({ length: rows }, () => rng.int(C));
      const { p, beta, wrong } = await reviseOnGpu(zt, labels, rows, C, t, { revise: true, eta, scope: 'all', betaAtT1: false });
      let wrongCount = 0;
      for (let i = 0; i < rows; i++) {
        const y = labels[i];
        const row = Array.from(p.subarray(i * C, (i + 1) * C));
        const pt = softmax(zt, i * C, C, t);
        // argmax of the revised target is the label
        expect(row.indexOf(Math.max(...row))).toBe(y);
        // margin p[y] − β·pt_max = 1 − η
        expect(row[y] - beta[i] * Math.max(...pt)).toBeCloseTo(1 - eta, 5);
        if (wrong[i] === 0) expect(beta[i]).toBeCloseTo(eta, 6);
        else {
          wrongCount++;
          expect(beta[i]).toBeGreaterThan(eta / 2);
          expect(beta[i]).toBeLessThan(eta);
        }
        // ratios between non-target classes are unchanged
        const others = [...Array(C).keys()].filter((c) => c !== y);
        const [a, b] = [others[0], others[others.length - 1]];
        expect(Math.abs(row[a] / row[b] / (pt[a] / pt[b]) - 1)).toBeLessThan(1e-5);
        expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
      }
      expect(wrongCount).toBeGreaterThan(rows / 2); // random teachers are mostly wrong: both branches ran
    });
  }

  it('scope "wrong" leaves the samples the teacher gets right untouched', async () => {
    const rng = new Rng(77);
    const [rows, C, t] = [500, 10, 4];
    const zt = rng.fillUniform(rows * C, -6, 6);
    const labels = Uint32Array.from({ length: rows }, (_, i) => (i % 2 === 0 ? softmax(zt, i * C, C, 1).indexOf(Math.max(...softmax(zt, i * C, C, 1))) : rng.int(C)));
    const { p, beta, wrong } = await reviseOnGpu(zt, labels, rows, C, t, { revise: true, eta: 0.8, scope: 'wrong', betaAtT1: false });
    for (let i = 0; i < rows; i++) {
      if (wrong[i] === 0) {
        expect(beta[i]).toBe(1);
        const pt = softmax(zt, i * C, C, t);
        for (let c = 0; c < C; c++) expect(p[i * C + c]).toBeCloseTo(pt[c], 6);
      } else expect(beta[i]).toBeLessThan(0.8);
    }
  });
});

async function lossOnGpu(zs: Float32Array, zt: Float32Array, labels: Uint32Array, B: number, C: number, o: KdLossOptions, mask = new Float32Array(B).fill(1)) {
  const engine = await testEngine();
  const idx = Uint32Array.from({ length: B }, (_, i) => i);
  const b = {
    zs: engine.upload(zs),
    zt: engine.upload(zt),
    labels: engine.upload(labels),
    idx: engine.upload(idx),
    mask: engine.upload(mask),
    loss: engine.alloc(B * 4),
    grad: engine.alloc(B * C * 4),
    correct: engine.alloc(B * 4),
  };
  kdLoss(engine, b, B, C, o);
  const loss = await engine.readF32(b.loss, B);
  Object.values(b).forEach((x) => engine.release(x));
  return loss;
}

describe('the KD objectives (method.md §1, §2, §4), on the fused loss kernel', () => {
  const [B, C, t] = [256, 10, 4];
  const rng = new Rng(5);
  const zs = rng.fillUniform(B * C, -4, 4);
  const zt = rng.fillUniform(B * C, -6, 6);
  const labels = Uint32Array.from({ length: B }, () => rng.int(C));
  const pure = (loss: KdLossOptions['loss'], revision: Revision = { revise: false, eta: 0.9, scope: 'all', betaAtT1: false }): KdLossOptions => ({
    loss,
    temperature: t,
    revision,
    useMask: false,
  });

  it('LR is KD with a per-sample mix: KL(p‖q) = β·CE(pt, q) + (1 − β)·CE(onehot, q) − H(p)', async () => {
    const eta = 0.8;
    const r: Revision = { revise: true, eta, scope: 'all', betaAtT1: false };
    // λ1 = 0, λ2 = 1: the kernel's loss is T²·KL(p ‖ softmax_T(zs)).
    const loss = await lossOnGpu(zs, zt, labels, B, C, pure({ kind: 'kd', lambda1: 0, lambda2: 1 }, r));
    const { p: pAll, beta } = await reviseOnGpu(zt, labels, B, C, t, r);
    for (let i = 0; i < B; i++) {
      const q = softmax(zs, i * C, C, t);
      const pt = softmax(zt, i * C, C, t);
      const p = Array.from(pAll.subarray(i * C, (i + 1) * C));
      const ce = (a: number[], b: number[]) => -a.reduce((s, v, c) => s + v * Math.log(b[c]), 0);
      const onehot = p.map((_, c) => (c === labels[i] ? 1 : 0));
      const entropy = -p.reduce((s, v) => s + (v > 0 ? v * Math.log(v) : 0), 0);
      const rhs = beta[i] * ce(pt, q) + (1 - beta[i]) * ce(onehot, q) - entropy;
      expect(loss[i] / (t * t)).toBeCloseTo(rhs, 4);
    }
  });

  it('DKD decomposes KD: KD = TCKD + (1 − p_target)·NCKD per sample', async () => {
    const kd = await lossOnGpu(zs, zt, labels, B, C, pure({ kind: 'kd', lambda1: 0, lambda2: 1 }));
    const tckd = await lossOnGpu(zs, zt, labels, B, C, pure({ kind: 'dkd', lambda1: 0, alpha: 1, beta: 0, warm: 1 }));
    const nckd = await lossOnGpu(zs, zt, labels, B, C, pure({ kind: 'dkd', lambda1: 0, alpha: 0, beta: 1, warm: 1 }));
    for (let i = 0; i < B; i++) {
      const pTarget = softmax(zt, i * C, C, t)[labels[i]];
      expect(kd[i]).toBeCloseTo(tckd[i] + (1 - pTarget) * nckd[i], 3);
    }
  });

  it('data selection: a sample left out gets restWeight·CE and nothing from the teacher; a selected one λ1·CE + KD', async () => {
    const mask = Float32Array.from({ length: B }, (_, i) => i % 3 === 0 ? 0 : 1);
    const o = (restWeight?: number): KdLossOptions => ({ ...pure({ kind: 'kd', lambda1: 0.1, lambda2: 0.9 }), useMask: true, restWeight });
    const kdOnly = await lossOnGpu(zs, zt, labels, B, C, pure({ kind: 'kd', lambda1: 0, lambda2: 0.9 }));
    for (const w of [undefined, 1, 0, 2.5]) {
      const loss = await lossOnGpu(zs, zt, labels, B, C, o(w), mask);
      for (let i = 0; i < B; i++) {
        const ce = -Math.log(softmax(zs, i * C, C, 1)[labels[i]]);
        const expected = mask[i] ? 0.1 * ce + kdOnly[i] : (w ?? 0.1) * ce;
        expect(loss[i]).toBeCloseTo(expected, 4);
      }
    }
  });

  it('the fused gradients are the derivatives of the fused losses (finite differences, float64)', () => {
    const configs: KdLossOptions[] = [
      pure({ kind: 'kd', lambda1: 0.1, lambda2: 0.9 }, { revise: true, eta: 0.9, scope: 'all', betaAtT1: false }),
      pure({ kind: 'dkd', lambda1: 1, alpha: 1, beta: 8, warm: 0.5 }, { revise: true, eta: 0.7, scope: 'all', betaAtT1: true }),
      pure({ kind: 'dkd', lambda1: 1, alpha: 1, beta: 8, warm: 1 }),
      // Data selection: samples left out (m = 0) get CE at the rest weight, selected ones λ1 + KD.
      { ...pure({ kind: 'kd', lambda1: 0.1, lambda2: 0.9 }, { revise: true, eta: 0.9, scope: 'all', betaAtT1: false }), useMask: true, restWeight: 1 },
      { ...pure({ kind: 'dkd', lambda1: 1, alpha: 1, beta: 2, warm: 1 }), useMask: true, restWeight: 0.3 },
    ];
    for (const o of configs) {
      for (let i = 0; i < 20; i++) {
        const z = Float64Array.from(zs.subarray(i * C, (i + 1) * C));
        const m = o.useMask ? i % 2 : 1;
        const sample = (zz: Float64Array) => ({ zs: zz, zsRow: 0, zt, ztRow: i, y: labels[i], C, m });
        const { grad } = kdSampleReference(sample(z), o);
        for (let c = 0; c < C; c++) {
          const h = 1e-6;
          const z0 = z[c];
          z[c] = z0 + h;
          const lp = kdSampleReference(sample(z), o).loss;
          z[c] = z0 - h;
          const lm = kdSampleReference(sample(z), o).loss;
          z[c] = z0;
          expect(grad[c]).toBeCloseTo((lp - lm) / (2 * h), 6);
        }
      }
    }
  });
});
