// Data Selection beyond influence (method.md §3b): every scorer selects exactly the lowest scores
// of each class (a class of one sample included) and its scores match the float64 formula on the
// committed teacher's logits; influence-avg is the running mean of the influence scores; an
// ensemble of two identical teachers is the single teacher bit for bit; the matched random
// controls keep the per-class counts; the AUC is the rank statistic; label noise flips exactly
// the stated counts for a seed.
import { describe, expect, it } from 'vitest';
import { testEngine } from './engine.js';
import { loadDataset } from '../src/data/load-dataset.js';
import { takeExamples } from '../src/data/dataset.js';
import { allIndices, trainSubset, validationSplit } from '../src/data/batches.js';
import { distill, DEFAULT_DISTILL, type DistillOptions, type EpochTelemetry } from '../src/kd/distill.js';
import type { Method } from '../src/options.js';
import { TeacherCache } from '../src/kd/teacher-cache.js';
import { mistakeAuc, selectDistillSubset, type DsScore, type ScorerState } from '../src/kd/selection.js';
import { NO_REVISION, type Revision } from '../src/kernels/kd.js';
import { selectMaskReference } from '../src/kernels/kd.check.js';
import { dsScoreReference, disagreementReference } from '../src/kernels/scores.check.js';
import { createModel } from '../src/nn/models.js';
import { loadModel } from '../src/nn/model-file.js';
import type { ModelConfig } from '../src/nn/model-checkpoint.js';
import type { TrainingState } from '../src/nn/model-checkpoint.js';
import { addLabelNoise, parseNoisePairs } from '../src/data/label-noise.js';
import { Rng } from '../src/util/rng.js';

const TEACHER = 'models/teacher-cnn.safetensors';
const WEAK = 'models/teacher-cnn-weak.safetensors';

async function setup() {
  const engine = await testEngine();
  const teacher = await loadModel(engine, TEACHER);
  const weak = await loadModel(engine, WEAK);
  const data = await loadDataset('fashion-mnist', undefined, (teacher.config as ModelConfig).normalisation);
  const test = takeExamples(data.test, allIndices(300), 'fashion-mnist/test-300');
  return { engine, teacher, weak, data: { train: data.train, test }, cache: new TeacherCache(engine) };
}
const ready = setup();

describe('every scorer, end to end on the GPU', () => {
  it('scores match their float64 formula and select the lowest per class, a class of one sample included', async () => {
    const { engine, teacher, weak, data, cache } = await ready;
    const C = data.train.numClasses;
    const N = data.train.n;
    const split = validationSplit(allIndices(N), 300, 5);
    // 601 rows; the last row is the only sample of its class among them (class 9 dropped, one put back).
    let rows = trainSubset(split.train, 2000, 5).filter((k) => data.train.labels[k] !== 9).slice(0, 600);
    const nine = split.train.find((k) => data.train.labels[k] === 9)!;
    rows = Uint32Array.from([...rows, nine]);
    const zt = cache.get(teacher.model, teacher.hash, data.train, { rows }).logits;
    const zw = cache.get(weak.model, weak.hash, data.train, { rows }).logits;
    const stacked = engine.alloc(2 * N * C * 4, 'test-stacked');
    engine.copy(zt, 0, stacked, 0, N * C * 4);
    engine.copy(zw, 0, stacked, N * C * 4, N * C * 4);
    const labels = engine.upload(data.train.labels, 'test-labels');
    const mask = engine.upload(new Float32Array(N), 'test-mask');
    const counts = engine.alloc(2 * C * 4, 'test-counts');
    const student = createModel(engine, 'student-cnn', { channels: 1, height: 28, width: 28, classes: C }, 4);
    const host = await engine.readF32(zt, N * C);
    const hostW = await engine.readF32(zw, N * C);
    const studentLogits = async () => {
      // The reference needs the student's logits on the rows: one eval forward, as the scorer does.
      const { forEachBatch } = await import('../src/train.js');
      const out = new Float32Array(rows.length * C);
      const buf = engine.alloc(rows.length * C * 4, 'test-zs');
      forEachBatch(student, data.train, { indices: rows }, ({ g, x, batch, offset }) => {
        const z = student.forward(g, x);
        engine.copy(z.data.buffer, z.data.offset ?? 0, buf, offset * C * 4, batch.size * C * 4);
      });
      out.set(await engine.readF32(buf, rows.length * C));
      engine.release(buf);
      return out;
    };
    const zs = await studentLogits();
    const revision: Revision = { revise: true, eta: 0.9, scope: 'all', betaAtT1: false };
    const both = new Float32Array(2 * N * C);
    both.set(host);
    both.set(hostW, N * C);
    for (const score of ['teacher-margin', 'teacher-entropy', 'student-need', 'ensemble-disagreement'] as DsScore[]) {
      engine.write(mask, new Float32Array(N));
      const o = { score, rule: 'ratio' as const, ratio: 0.7, balance: 'class' as const, hessian: 'identity' as const, damping: 0.01, temperature: 4, revision, seed: 1 };
      const r = await selectDistillSubset(student, data.train, { train: rows, val: split.val }, { teacherLogits: zt, teachers: { logits: stacked, count: 2 }, labels, mask, counts }, o);
      const got = await engine.readF32(r.scores, rows.length);
      engine.release(r.scores);
      const want = Array.from(rows, (k, i) =>
        score === 'ensemble-disagreement'
          ? disagreementReference(both, 2, N, C, 4, k, data.train.labels[k])
          : dsScoreReference(score as 'teacher-margin', zs, i, host, k, data.train.labels[k], C, 4, revision),
      );
      want.forEach((w, i) => expect(Math.abs(got[i] - w), `${score} row ${i}`).toBeLessThanOrEqual(1e-5 + 1e-4 * Math.abs(w)));
      // The mask is the per-class selection of these scores (the reference rule, ties by row order).
      const ref = selectMaskReference(got, rows, data.train.labels, new Float32Array(N), { rule: 'ratio', ratio: 0.7, balance: 'class', classes: C });
      expect(Array.from(await engine.readF32(mask, N)), score).toEqual(Array.from(ref.mask));
      expect(ref.mask[nine], `${score}: the one sample of class 9 is kept (round(0.7 · 1) = 1)`).toBe(1);
    }
    for (const b of [stacked, labels, mask, counts]) engine.release(b);
    student.store.destroy();
  });

  it('influence-avg holds the running mean of the influence scores of every selection', async () => {
    const { engine, teacher, data, cache } = await ready;
    const C = data.train.numClasses;
    const N = data.train.n;
    const split = validationSplit(allIndices(N), 100, 6);
    const rows = trainSubset(split.train, 300, 6);
    const zt = cache.get(teacher.model, teacher.hash, data.train, { rows }).logits;
    const labels = engine.upload(data.train.labels, 'test-labels');
    const mask = engine.upload(new Float32Array(N), 'test-mask');
    const counts = engine.alloc(2 * C * 4, 'test-counts');
    const state: ScorerState = { mean: null, selections: 0 };
    const base = { rule: 'ratio' as const, ratio: 0.5, balance: 'class' as const, hessian: 'identity' as const, damping: 0.01, temperature: 4, revision: NO_REVISION, seed: 1 };
    const bufs = { teacherLogits: zt, labels, mask, counts };
    const influences: Float32Array[] = [];
    const means: Float32Array[] = [];
    for (let s = 0; s < 3; s++) {
      // Three different students: three different influence scores.
      const student = createModel(engine, 'student-cnn', { channels: 1, height: 28, width: 28, classes: C }, 10 + s);
      const inf = await selectDistillSubset(student, data.train, { train: rows, val: split.val }, bufs, { ...base, score: 'influence' });
      influences.push(await engine.readF32(inf.scores, rows.length));
      engine.release(inf.scores);
      const avg = await selectDistillSubset(student, data.train, { train: rows, val: split.val }, bufs, { ...base, score: 'influence-avg' }, state);
      means.push(await engine.readF32(avg.scores, rows.length));
      engine.release(avg.scores);
      student.store.destroy();
    }
    expect(state.selections).toBe(3);
    for (let s = 0; s < 3; s++) {
      for (let i = 0; i < rows.length; i++) {
        let m = 0;
        let size = 0;
        for (let j = 0; j <= s; j++) {
          m += influences[j][i] / (s + 1);
          size = Math.max(size, Math.abs(influences[j][i]));
        }
        // The f32 update mean += (score − mean)/s rounds relative to the scores it subtracts.
        expect(Math.abs(means[s][i] - m)).toBeLessThanOrEqual(1e-7 + 4e-6 * size);
      }
    }
    if (state.mean) engine.release(state.mean);
    for (const b of [labels, mask, counts]) engine.release(b);
  });
});

describe('ensembles and controls in a distillation', () => {
  async function run(method: Method, teachers: 'one' | 'two-identical' | 'strong+weak', over: Partial<DistillOptions> = {}) {
    const { engine, teacher, weak, data, cache } = await ready;
    const o: DistillOptions = { ...DEFAULT_DISTILL, method, student: 'student-cnn', epochs: 2, trainSubset: 600, valSplit: 200, seed: 2, ...over };
    const t = { model: teacher.model, hash: teacher.hash };
    const list = teachers === 'one' ? t : teachers === 'two-identical' ? [t, t] : [t, { model: weak.model, hash: weak.hash }];
    const seen: Array<{ t: EpochTelemetry; state: TrainingState }> = [];
    const r = await distill(engine, list, data, o, { onEpoch: async (e, _s, state) => void seen.push({ t: e, state: await state() }) }, cache);
    r.student.store.destroy();
    return { r, seen };
  }

  it('an ensemble of two identical teachers gives the single teacher’s run bit for bit (probability and logit means)', async () => {
    for (const [method, over] of [['kd+lr+ds', { dsScore: 'teacher-margin' }], ['dkd', {}], ['kd', { ensembleMean: 'logit' }]] as Array<[Method, Partial<DistillOptions>]>) {
      const one = await run(method, 'one', over);
      const two = await run(method, 'two-identical', over);
      expect(two.seen.map((e) => e.t.trainLoss), method).toEqual(one.seen.map((e) => e.t.trainLoss));
      expect(two.seen.map((e) => e.t.testAccuracy)).toEqual(one.seen.map((e) => e.t.testAccuracy));
      expect(Array.from(two.seen[1].state.optimizer.m)).toEqual(Array.from(one.seen[1].state.optimizer.m));
    }
  });

  it('a real ensemble differs from either teacher, and ensemble-disagreement refuses a single teacher', async () => {
    const one = await run('kd', 'one');
    const ens = await run('kd', 'strong+weak');
    expect(ens.seen[0].t.trainLoss).not.toBe(one.seen[0].t.trainLoss);
    await expect(run('kd+lr+ds', 'one', { dsScore: 'ensemble-disagreement' })).rejects.toThrow(/ensemble-disagreement score needs at least 2 teachers, got 1/);
  });

  it('the matched random control of KD+LR+DS keeps its per-class counts, with LR, and reports a chance-level AUC', async () => {
    const ds = await run('kd+lr+ds', 'one', { dsScore: 'teacher-margin' });
    const ctl = await run('kd+lr+ds-random', 'one');
    const sel = (r: typeof ds) => r.seen.find((e) => e.t.selection)!.t;
    expect(sel(ctl).selection!.perClass.map((c) => c.selected)).toEqual(sel(ds).selection!.perClass.map((c) => c.selected));
    expect(sel(ctl).lrChanged).toBe(sel(ds).lrChanged); // both revise
    expect(sel(ctl).lrChanged).toBeGreaterThan(0);
    expect(sel(ctl).selection!.score).toBe('random');
    expect(sel(ds).selection!.score).toBe('teacher-margin');
    // The margin puts the teacher's mistakes last (a mistake has a negative margin: every one is
    // after every correct sample); the random order does not.
    expect(sel(ds).selection!.mistakeAuc).toBe(1);
    expect(Math.abs(sel(ctl).selection!.mistakeAuc! - 0.5)).toBeLessThan(0.25);
  });
});

describe('selection quality', () => {
  it('mistakeAuc is the Mann–Whitney statistic: P(a mistake scores above a correct sample), ties half', () => {
    const rng = new Rng(3);
    for (const n of [2, 7, 301]) {
      const scores = Float32Array.from({ length: n }, () => rng.int(5)); // many ties
      const wrong = Float32Array.from({ length: n }, (_, i) => (i === 0 ? 1 : i === 1 ? 0 : rng.int(2)));
      let wins = 0;
      let pairs = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
        if (!wrong[i] || wrong[j]) continue;
        pairs++;
        wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
      }
      expect(mistakeAuc(scores, wrong)).toBeCloseTo(wins / pairs, 12);
    }
    expect(mistakeAuc(Float32Array.of(1, 2), Float32Array.of(0, 0))).toBeNull();
  });
});

describe('label noise for a teacher wrong in a known way', () => {
  it('flips exactly round(p · n_c) labels of each paired class to its partner, seeded, nothing else', () => {
    const rng = new Rng(9);
    const labels = Uint32Array.from({ length: 5003 }, () => rng.int(10));
    const rows = Uint32Array.from({ length: 4001 }, (_, i) => i + 1000);
    const pairs = parseNoisePairs('6:0,2:4', 10);
    const a = addLabelNoise(labels, rows, 10, { rate: 0.3, pairs, seed: 1 });
    const b = addLabelNoise(labels, rows, 10, { rate: 0.3, pairs, seed: 1 });
    const c = addLabelNoise(labels, rows, 10, { rate: 0.3, pairs, seed: 2 });
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(Array.from(a.labels)).not.toEqual(Array.from(c.labels));
    const partner: Record<number, number> = { 6: 0, 0: 6, 2: 4, 4: 2 };
    for (let cls = 0; cls < 10; cls++) {
      const members = Array.from(rows).filter((k) => labels[k] === cls);
      const moved = members.filter((k) => a.labels[k] !== cls);
      expect(moved.length, `class ${cls}`).toBe(cls in partner ? Math.round(0.3 * members.length) : 0);
      expect(a.flipped[cls]).toBe(moved.length);
      for (const k of moved) expect(a.labels[k]).toBe(partner[cls]);
    }
    for (let k = 0; k < 1000; k++) expect(a.labels[k]).toBe(labels[k]); // outside the rows: untouched
    // Without pairs: every class, each moved sample to another class.
    const u = addLabelNoise(labels, rows, 10, { rate: 0.25, seed: 4 });
    for (let cls = 0; cls < 10; cls++) {
      const members = Array.from(rows).filter((k) => labels[k] === cls);
      expect(members.filter((k) => u.labels[k] !== cls).length).toBe(Math.round(0.25 * members.length));
    }
    expect(() => parseNoisePairs('6:0,0:4', 10)).toThrow(/class 0 is in more than one pair/);
    expect(() => parseNoisePairs('6:11', 10)).toThrow(/class 11 .* not below the data's 10 classes/);
    expect(() => parseNoisePairs('6-0', 10)).toThrow(/"6-0" is not a pair/);
  });
});
