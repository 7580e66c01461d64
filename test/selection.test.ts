// Data selection end to end on the committed teacher and a slice of Fashion-MNIST: class balance
// keeps every class's ratio to within one sample, the selection telemetry agrees with the mask it
// describes, the controls keep exactly as many samples per class as the influence rule, and the
// warm-up makes a DS method identical to its non-DS twin until the selection.
import { describe, expect, it } from 'vitest';
import { testEngine } from './engine.js';
import { loadDataset } from '../src/data/load-dataset.js';
import { takeExamples } from '../src/data/dataset.js';
import { allIndices, trainSubset, validationSplit } from '../src/data/batches.js';
import { distill, DEFAULT_DISTILL, defaultValSplit, splitRows, type DistillOptions, type EpochTelemetry } from '../src/kd/distill.js';
import type { Method } from '../src/options.js';
import { TeacherCache } from '../src/kd/teacher-cache.js';
import { loadModel } from '../src/nn/model-file.js';
import type { TrainingState } from '../src/nn/model-checkpoint.js';
import type { ModelConfig } from '../src/nn/model-checkpoint.js';

const TEACHER = 'models/teacher-cnn.safetensors';
const SUBSET = 1500;
const VAL = 500;

async function setup() {
  const engine = await testEngine();
  const teacher = await loadModel(engine, TEACHER);
  const data = await loadDataset('fashion-mnist', undefined, (teacher.config as ModelConfig).normalisation);
  const test = takeExamples(data.test, allIndices(400), 'fashion-mnist/test-400');
  return { engine, teacher, data: { train: data.train, test }, cache: new TeacherCache(engine) };
}
const ready = setup();

async function run(method: Method, over: Partial<DistillOptions> = {}) {
  const { engine, teacher, data, cache } = await ready;
  const o: DistillOptions = { ...DEFAULT_DISTILL, method, student: 'student-cnn', epochs: 2, trainSubset: SUBSET, valSplit: VAL, seed: 3, dsScore: 'influence', ...over };
  const seen: Array<{ t: EpochTelemetry; state: TrainingState }> = [];
  const r = await distill(engine, { model: teacher.model, hash: teacher.hash }, data, o, { onEpoch: async (t, _s, state) => void seen.push({ t, state: await state() }) }, cache);
  r.student.store.destroy();
  return { r, seen, o };
}

/** The training rows distill() uses for these options, and the teacher's wrong flags on them. */
async function rowsAndWrong(o: DistillOptions) {
  const { engine, teacher, data, cache } = await ready;
  const split = validationSplit(allIndices(data.train.n), o.valSplit!, o.seed);
  const rows = trainSubset(split.train, o.trainSubset!, o.seed);
  const C = data.train.numClasses;
  const logits = await engine.readF32(cache.get(teacher.model, teacher.hash, data.train, { rows, seed: o.seed, epoch: 0 }).logits, data.train.n * C);
  const wrong = new Map<number, boolean>();
  for (const k of rows) {
    let arg = 0;
    for (let c = 1; c < C; c++) if (logits[k * C + c] > logits[k * C + arg]) arg = c;
    wrong.set(k, arg !== data.train.labels[k]);
  }
  return { rows, wrong, labels: data.train.labels, C };
}

describe('data selection on the committed teacher', () => {
  it('--ds-balance class keeps each class to round(ratio · its size), ±1; the telemetry matches the mask', async () => {
    const { seen, o } = await run('kd+lr+ds', { dsBalance: 'class', dsRatio: 0.7 });
    const sel = seen.find((e) => e.t.selection);
    expect(sel).toBeDefined();
    const s = sel!.t.selection!;
    const mask = sel!.state.tensors!['ds.mask'];
    const { rows, wrong, labels, C } = await rowsAndWrong(o);
    const perClass = Array.from({ length: C }, () => ({ samples: 0, selected: 0 }));
    let wrongIn = 0;
    let wrongOut = 0;
    for (const k of rows) {
      perClass[labels[k]].samples++;
      perClass[labels[k]].selected += mask[k];
      if (wrong.get(k)) mask[k] ? wrongIn++ : wrongOut++;
    }
    const selected = perClass.reduce((a, c) => a + c.selected, 0);
    // Nothing outside the training rows is selected.
    expect(mask.reduce((a, v) => a + v, 0)).toBe(selected);
    expect(s.selected).toBe(selected);
    expect(s.candidates).toBe(SUBSET);
    expect(s.afterEpoch).toBe(1);
    expect(s.changed).toBe(selected); // the first selection: every member is new
    perClass.forEach((c, k) => {
      expect(c.samples).toBeGreaterThan(0);
      expect(Math.abs(c.selected - 0.7 * c.samples)).toBeLessThanOrEqual(1);
      expect(s.perClass[k]).toEqual({ samples: c.samples, selected: c.selected, fraction: c.selected / c.samples });
    });
    expect(s.teacherErrorInside).toBeCloseTo(wrongIn / selected, 12);
    expect(s.teacherErrorOutside).toBeCloseTo(wrongOut / (SUBSET - selected), 12);
    const q = s.scoreQuantiles!;
    expect(q).toHaveLength(5);
    for (let i = 1; i < 5; i++) expect(q[i]).toBeGreaterThanOrEqual(q[i - 1]);
    // The next epoch reports the same |Dt|.
    expect(seen[seen.length - 1].t.distilled).toBe(selected);
  });

  it('the random and teacher-correct controls keep exactly as many samples per class as the influence rule', async () => {
    const counts = (e: Array<{ t: EpochTelemetry }>) => e.find((x) => x.t.selection)!.t.selection!.perClass.map((c) => c.selected);
    for (const [dsRule, dsBalance] of [['ratio', 'class'], ['ratio', 'global'], ['sign', 'class']] as const) {
      const influence = counts((await run('kd+ds', { dsRule, dsBalance })).seen);
      const random = await run('kd+ds-random', { dsRule, dsBalance });
      const correct = await run('kd+ds-correct', { dsRule, dsBalance });
      const total = influence.reduce((a, b) => a + b, 0);
      expect(counts(random.seen).reduce((a, b) => a + b, 0)).toBe(total);
      expect(counts(correct.seen).reduce((a, b) => a + b, 0)).toBe(total);
      if (dsBalance === 'class') {
        expect(counts(random.seen)).toEqual(influence);
        expect(counts(correct.seen)).toEqual(influence);
      }
      // Teacher-correct first: over the whole set, no wrong sample is kept while a right one is left
      // out; per class, the kept error rate cannot exceed the overall one.
      const first = correct.seen.find((x) => x.t.selection)!;
      const c = first.t.selection!;
      if (dsBalance === 'global') expect(c.teacherErrorInside).toBe(0);
      else expect(c.teacherErrorInside).toBeLessThanOrEqual(first.t.teacherTrainError);
    }
  });

  it("the warm-up trains with the method's own loss: kd+ds equals kd until the selection; the CE warm-up does not", async () => {
    const kd = await run('kd');
    const ds = await run('kd+ds');
    const ce = await run('kd+ds', { dsWarmupLoss: 'ce' });
    expect(ds.seen[0].t.trainLoss).toBe(kd.seen[0].t.trainLoss);
    expect(ds.seen[0].t.testAccuracy).toBe(kd.seen[0].t.testAccuracy);
    expect(ds.seen[0].t.distilled).toBe(SUBSET);
    expect(Array.from(ds.seen[0].state.optimizer.m)).toEqual(Array.from(kd.seen[0].state.optimizer.m));
    expect(ce.seen[0].t.distilled).toBe(0);
    expect(ce.seen[0].t.trainLoss).not.toBe(kd.seen[0].t.trainLoss);
  });

  it('the model is chosen on validation accuracy: test accuracy is reported at the best validation epoch', async () => {
    const { r, seen } = await run('kd', { epochs: 3 });
    const vals = seen.map((e) => e.t.valAccuracy!);
    const best = vals.indexOf(Math.max(...vals));
    expect(r.bestVal).toBe(vals[best]);
    expect(r.testAtBestVal).toBe(seen[best].t.testAccuracy);
    expect(seen[seen.length - 1].t.bestValEpoch).toBe(best + 1);
    expect(r.last).toBe(seen[seen.length - 1].t.testAccuracy);
  });
});

describe('the validation split is sized to the data', () => {
  it('10% of the training set, at most 5,000; errors name valSplit and trainSubset', () => {
    expect(defaultValSplit(1397)).toBe(139);
    expect(defaultValSplit(60_000)).toBe(5000);
    const small = splitRows(1397, { seed: 1 });
    expect(small.val.length).toBe(139);
    expect(small.trainIdx.length).toBe(1397 - 139);
    expect(new Set([...small.val, ...small.trainIdx]).size).toBe(1397);
    expect(() => splitRows(1397, { seed: 1, valSplit: 5000 })).toThrow(/valSplit 5000: must be an integer in \[0, 1396\], fewer than the 1397 training samples/);
    expect(() => splitRows(1397, { seed: 1, trainSubset: 1300 })).toThrow(/trainSubset 1300: must be an integer in \[1, 1258\].*validation split of 139 \(valSplit\)/);
  });
});
