// `kdgpu distill`: one student distilled from a saved teacher, with per-epoch telemetry.

import { appendFileSync, writeFileSync } from 'node:fs';
import type { Engine } from '../gpu/engine.js';
import { distill, DEFAULT_DISTILL, validateDistillOptions, type DistillOptions, type EpochTelemetry, type Method, type SelectionTelemetry } from '../kd/distill.js';
import { TeacherCache } from '../kd/teacher-cache.js';
import { loadDatasetSpec } from './datasets.js';
import { checkModelFitsData, dataIdentity, describeSpec, namesData, specFromOptions, specOfCheckpoint, trainingSetHash } from './data-options.js';
import { RunProgress } from './progress.js';
import { checkRunPaths } from './preflight.js';
import { checkpointState, loadWeights, optimizerRule, resumePoint, saveModel, type ModelConfig, type TrainOptions } from './train.js';
import type { DataIdentity } from '../nn/checkpoint.js';

/** The method's options, named as in DistillOptions (the CLI's --T is `temperature` there). */
const METHOD_KEYS = ['lambda1', 'lambda2', 'eta', 'lrScope', 'betaAtT1', 'dsRatio', 'dsRule', 'dsBalance', 'dsRestWeight', 'dsWarmupEpochs', 'dsWarmupLoss', 'dsEvery', 'dsHessian', 'dsDamping', 'valSplit', 'dkdAlpha', 'dkdBeta', 'dkdWarmupEpochs'] as const;
type MethodOptions = Pick<DistillOptions, (typeof METHOD_KEYS)[number]>;

export interface DistillCliOptions extends Omit<TrainOptions, 'model' | 'out'>, MethodOptions {
  teacher: string;
  student: string;
  method: Method;
  out?: string;
  T: number;
}

export function distillOptions(o: Omit<DistillCliOptions, 'teacher'>, normalisationMean: number[], normalisationStd: number[], channels: number): DistillOptions {
  const method = Object.fromEntries(METHOD_KEYS.map((k) => [k, o[k]])) as MethodOptions;
  return {
    ...DEFAULT_DISTILL,
    ...method,
    method: o.method,
    student: o.student,
    epochs: o.epochs,
    batchSize: o.batch,
    lr: o.lr,
    optimizer: optimizerRule(o),
    schedule: o.schedule,
    seed: o.seed,
    trainSubset: o.trainSubset,
    augment: o.augment ? { pad: 4, flip: channels === 3, padValue: normalisationMean.map((m, c) => -m / normalisationStd[c]) } : undefined,
    temperature: o.T,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

export function describeEpoch(t: EpochTelemetry): string {
  const q = t.betaQuantiles.map((v) => v.toFixed(2)).join('/');
  const val = t.valAccuracy === null ? '' : `, validation ${pct(t.valAccuracy)} (test at best validation ${pct(t.testAtBestVal)}, epoch ${t.bestValEpoch})`;
  return (
    `epoch ${t.epoch}: test ${pct(t.testAccuracy)}${val}, train loss ${t.trainLoss.toFixed(4)}, ` +
    `teacher train error ${pct(t.teacherTrainError)}, LR changed ${t.lrChanged}, β min/p10/median/p90/max ${q}, ` +
    `|Dt| ${t.distilled}/${t.trainSamples}, ${t.samplesPerSecond.toFixed(0)} samples/s`
  );
}

/** One line per data selection: kept fraction per class, the teacher's error inside/outside Dt, scores, churn. */
export function describeSelection(s: SelectionTelemetry): string {
  const kept = s.perClass.map((c) => (100 * c.fraction).toFixed(0)).join(' ');
  const scores = s.scoreQuantiles ? `, score min/p10/median/p90/max ${s.scoreQuantiles.map((v) => v.toPrecision(3)).join('/')}` : '';
  return (
    `selection after epoch ${s.afterEpoch}: |Dt| ${s.selected}/${s.candidates}; kept % per class (0..${s.perClass.length - 1}) ${kept}; ` +
    `teacher error in Dt ${pct(s.teacherErrorInside)}, outside ${pct(s.teacherErrorOutside)}${scores}; changed ${s.changed}`
  );
}

export interface DistillRunResult {
  best: number;
  last: number;
  testAtBestVal: number;
  bestVal: number | null;
  epochs: EpochTelemetry[];
}

/**
 * Everything checked before a distillation reads data or writes a file: the method's options
 * (validateDistillOptions, which distill() would otherwise only reach after --metrics was
 * opened), the teacher, and the outputs (see preflight.ts).
 */
export function checkDistillOptions(o: DistillCliOptions): void {
  validateDistillOptions(distillOptions(o, [0], [1], 1)); // normalisation and channels shape only the augmentation's padding
  checkRunPaths(namesData(o) ? { ...o, datasetSpec: specFromOptions(o, null) } : o, [{ option: '--teacher', path: o.teacher }]);
}

export async function runDistill(engine: Engine, o: DistillCliOptions, out: (s: string) => void, cache = new TeacherCache(engine)): Promise<DistillRunResult> {
  checkDistillOptions(o);
  const teacher = await loadWeights(engine, o.teacher);
  const tc = teacher.config as ModelConfig;
  // The teacher's data unless the options name other data; the teacher must fit it.
  const spec = specFromOptions(o, specOfCheckpoint(tc, o.teacher));
  const data = await loadDatasetSpec(spec, tc.normalisation, o.testSubset, (train) => checkModelFitsData(`the teacher ${o.teacher} (${tc.model})`, tc.input, train, spec));
  if (tc.data && tc.data.trainHash !== trainingSetHash(data.train)) {
    out(`note: the teacher was trained on other data (${describeSpec(tc.data.spec)}); distilling on ${describeSpec(spec)} anyway`);
  }
  const opts = distillOptions(o, tc.normalisation.mean, tc.normalisation.std, data.train.channels);
  const resumed = await resumePoint(engine, o as DistillCliOptions & Record<string, unknown>);
  if (resumed) {
    opts.resume = resumed.state;
    out(`resuming from ${o.out} after epoch ${resumed.state!.epoch}`);
  }
  opts.stopAfter = o.stopAfter;
  opts.divergenceCheck = o.divergenceCheck ?? true;
  if (o.metrics && !resumed) writeFileSync(o.metrics, '');
  const log = (rec: unknown) => o.metrics && appendFileSync(o.metrics, JSON.stringify(rec) + '\n');
  out(
    `distilling ${tc.model} (${o.teacher}, test ${tc.testAccuracy !== undefined ? (100 * tc.testAccuracy).toFixed(2) + '%' : '?'}) into ${o.student} with ${o.method}; ` +
      `T=${o.T} λ1=${o.lambda1} λ2=${o.lambda2}${o.method.includes('lr') ? ` η=${o.eta}${o.betaAtT1 ? ' β@T=1' : ''}` : ''}` +
      `${o.method.includes('ds') ? ` ds: ${o.dsRule === 'ratio' ? `ratio ${o.dsRatio}` : 'sign'} per ${o.dsBalance === 'class' ? 'class' : 'whole set'}, rest weight ${o.dsRestWeight}, warm-up ${o.dsWarmupEpochs} epoch(s) of ${o.dsWarmupLoss === 'ce' ? 'CE' : 'the method'}${o.dsEvery ? `, re-score every ${o.dsEvery}` : ''}` : ''}; adapter ${engine.adapterName}`,
  );
  const progress = new RunProgress(o.progress, o.epochs, "the teacher's logits and the GPU pipelines", () => engine.compiledPipelines, out);
  let lastSaved = resumed?.state?.epoch ?? 0;
  let identity: DataIdentity | undefined;
  const result = await distill(
    engine,
    { model: teacher.model, hash: teacher.hash },
    data,
    opts,
    {
      onProgress: (p) => {
          progress.step(p);
        log({ event: 'step', ...p });
      },
      onEpoch: async (t, student, state) => {
        progress.epochEnd();
        if (t.selection) out(describeSelection(t.selection));
        out(describeEpoch(t));
        log({ event: 'epoch', ...t });
        if (o.out) {
          await saveModel(o.out, student, {
            model: o.student,
            input: student.input,
            dataset: spec.kind,
            data: (identity ??= dataIdentity(spec, data)),
            normalisation: tc.normalisation,
            seed: o.seed,
            epoch: t.epoch,
            testAccuracy: t.testAccuracy,
            command: { ...o },
          }, await state());
          lastSaved = t.epoch;
        }
      },
    },
    cache,
    resumed?.model,
  ).catch((e: Error) => {
    progress.stop();
    throw new Error(`${e.message}; training stopped. ${checkpointState(o.out, lastSaved)}`);
  });
  const chosen = result.bestVal === null ? '' : `, test at best validation ${pct(result.testAtBestVal)} (validation ${pct(result.bestVal)})`;
  out(`${o.method}: last ${pct(result.last)}${chosen}${o.out ? `; saved ${o.out}` : ''}`);
  result.student.store.destroy();
  teacher.model.store.destroy();
  return { best: result.best, last: result.last, testAtBestVal: result.testAtBestVal, bestVal: result.bestVal, epochs: result.epochs };
}
