// The distillation loop (method.md): a student trained against a fixed teacher with KD or DKD,
// optionally with Label Revision (LR) and Data Selection (DS). Every step is forward, one fused
// loss kernel (label revision + KD/DKD + selection mask + gradient over [B, C]), backward and
// update, recorded into one submit; the teacher's logits come from the GPU cache.

import type { Engine } from '../gpu/engine.js';
import { allIndices, trainSubset, validationSplit } from '../data/batches.js';
import { takeExamples, type Dataset } from '../data/dataset.js';
import { kdLoss, labelRevision, NO_REVISION, selectMask, type KdLoss, type Revision } from '../kernels/kd.js';
import { methodParts, optimizerRule, optionDefaults, optionFields, OptionError, validateOptions, type Method, type MethodParts, type RunOptionValues } from '../options.js';
import { createModel, type Model } from '../nn/models.js';
import { train, modelKernels, batchSizes, EVAL_BATCH, type EpochResult, type StepLoss, type TrainLoopOptions } from '../train.js';
import { TeacherCache } from './teacher-cache.js';
import { DS_SCORE_NAMES, mistakeAuc, selectDistillSubset, type DsScore, type ScorerState, type SelectionBuffers } from './selection.js';
import { ensembleTarget, type EnsembleMean } from '../kernels/scores.js';
import type { TrainingState } from '../nn/model-checkpoint.js';

/** The method's options, as src/options.ts declares them (defaults, ranges and help are there). */
export type MethodOptions = Pick<RunOptionValues, Exclude<ReturnType<typeof optionFields<'method'>>[number], 'method' | 'student'>>;

/** The loop's options (epochs, batch size, optimizer, schedule, seed, augmentation, resume…) and the method's. */
export interface DistillOptions extends Pick<TrainLoopOptions, 'epochs' | 'batchSize' | 'lr' | 'optimizer' | 'schedule' | 'seed' | 'augment' | 'resume' | 'stopAfter' | 'divergenceCheck'>, MethodOptions {
  method: Method;
  student: string;
  /** Train on a seeded subset of this many samples (after the validation split). */
  trainSubset?: number;
  /**
   * Training samples held out as the validation split (DS's validation gradient, and the epoch
   * the model is chosen at), for every method so all train on the same data. Default: 10% of the
   * training set, at most 5,000 (`defaultValSplit`).
   */
  valSplit?: number;
}

const METHOD_DEFAULTS = optionFields('method').filter((f): f is Exclude<typeof f, 'method' | 'student'> => f !== 'method' && f !== 'student');

export const DEFAULT_DISTILL: Omit<DistillOptions, 'method' | 'student' | 'epochs'> = {
  ...optionDefaults(['batchSize', 'lr', 'schedule', 'seed']),
  optimizer: optimizerRule(optionDefaults(['optimizer', 'momentum', 'nesterov', 'weightDecay'])),
  ...optionDefaults(METHOD_DEFAULTS),
};

/** What one data selection did (method.md §3): reported every time Dt is chosen. */
export interface SelectionTelemetry {
  /** Epoch after which the selection was made (the warm-up epochs come before it). */
  afterEpoch: number;
  /** |Dt| and the training samples it was chosen from. */
  selected: number;
  candidates: number;
  /** Per class: training samples, selected samples, selected fraction. */
  perClass: Array<{ samples: number; selected: number; fraction: number }>;
  /** The teacher's error rate on the training samples inside Dt and outside it. */
  teacherErrorInside: number;
  teacherErrorOutside: number;
  /** The scorer that ordered the samples. */
  score: DsScore;
  /** Quantiles (0, 10, 50, 90, 100 %) of the scores. */
  scoreQuantiles: number[];
  /** ROC AUC of the scores at putting the teacher's mistakes last (0.5: chance; null: no mistakes or no correct samples). */
  mistakeAuc: number | null;
  /** Samples whose membership changed since the previous selection (all of |Dt| for the first). */
  changed: number;
}

export interface EpochTelemetry {
  method: Method;
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  testAccuracy: number;
  /** Accuracy on the validation split (held out of the training set); null without one. */
  valAccuracy: number | null;
  /** Test accuracy at the epoch with the best validation accuracy so far (the last epoch without a validation split). */
  testAtBestVal: number;
  /** That epoch (1-based). */
  bestValEpoch: number;
  /** The selection made before this epoch, if one was. */
  selection?: SelectionTelemetry;
  /** Fraction of the training samples the teacher gets wrong. */
  teacherTrainError: number;
  /** Samples whose target argmax LR changed (teacher wrong → label), 0 without LR. */
  lrChanged: number;
  /** Quantiles (0, 10, 50, 90, 100 %) of β over the training samples (all 1 without LR). */
  betaQuantiles: number[];
  /** |Dt|: samples with teacher supervision this epoch. */
  distilled: number;
  trainSamples: number;
  learningRate: number;
  seconds: number;
  samplesPerSecond: number;
}

export interface DistillResult {
  student: Model;
  epochs: EpochTelemetry[];
  /** Last-epoch test accuracy. */
  last: number;
  /** Test accuracy at the epoch of best validation accuracy (model chosen without the test set). */
  testAtBestVal: number;
  bestVal: number | null;
}

export interface DistillCallbacks {
  /** Steps between onProgress calls (each is one host sync); default 20. */
  progressEvery?: number;
  /** Called every `progressEvery` steps with the running training loss/accuracy. */
  onProgress?: (p: { epoch: number; step: number; stepsPerEpoch: number; loss: number; accuracy: number; samplesPerSecond: number }) => void;
  /** After each epoch; `state()` reads what a checkpoint needs for --resume (a few readbacks). */
  onEpoch?: (t: EpochTelemetry, student: Model, state: () => Promise<TrainingState>) => void | Promise<void>;
  /** Return true to stop after the current step. */
  shouldStop?: () => boolean;
}

/** The fields of DistillOptions that are declared run options (its `optimizer` is a rule built from several). */
const DECLARED = ['epochs', 'batchSize', 'lr', 'schedule', 'seed', 'trainSubset', 'stopAfter', 'valSplit', ...optionFields('method')] as const;

/** Check the options before anything runs (validateOptions: errors name the field and the value). */
export function validateDistillOptions(o: DistillOptions): void {
  validateOptions(Object.fromEntries(DECLARED.map((k) => [k, o[k]])));
}

/** The validation split a training set of n samples gets by default: 10%, at most 5,000. */
export function defaultValSplit(n: number): number {
  return Math.min(5000, Math.floor(n / 10));
}

/** The validation split and the training rows of a run, with errors that name the options. */
export function splitRows(n: number, o: Pick<DistillOptions, 'valSplit' | 'trainSubset' | 'seed'>): { train: Uint32Array; val: Uint32Array; trainIdx: Uint32Array } {
  const valSplit = o.valSplit ?? defaultValSplit(n);
  if (!Number.isInteger(valSplit) || valSplit < 0 || valSplit >= n) {
    throw new OptionError('valSplit', valSplit, (name) => `${name('valSplit')} ${valSplit}: must be an integer in [0, ${n - 1}], fewer than the ${n} training samples${o.valSplit === undefined ? ' (the default is 10% of them, at most 5,000)' : ''}`);
  }
  const split = validationSplit(allIndices(n), valSplit, o.seed);
  if (o.trainSubset !== undefined && (!Number.isInteger(o.trainSubset) || o.trainSubset < 1 || o.trainSubset > split.train.length)) {
    const { trainSubset: subset } = o;
    throw new OptionError('trainSubset', subset, (name) => `${name('trainSubset')} ${subset}: must be an integer in [1, ${split.train.length}], the training samples left after the validation split of ${valSplit} (${name('valSplit')})`);
  }
  const trainIdx = o.trainSubset ? trainSubset(split.train, o.trainSubset, o.seed) : split.train;
  return { ...split, trainIdx };
}

function quantiles(values: Float32Array, qs: number[]): number[] {
  const s = Float32Array.from(values).sort();
  return qs.map((q) => s[Math.min(s.length - 1, Math.floor(q * (s.length - 1)))]);
}

/**
 * The teacher of a distillation: a kdgpu model (its logits are computed on the GPU, under
 * augmentation too), or logits computed elsewhere, `logits` = train.n × classes, row k the
 * teacher's logits for training sample k (a logits file, an ONNX model run by onnxruntime).
 * `hash` keys the teacher cache.
 */
export type DistillTeacher = { model: Model; hash: string } | { logits: Float32Array; classes: number; hash: string };

/**
 * Distil `teacher` (with content hash `teacherHash`, the cache key) into a fresh `student` model,
 * with the one training loop (src/train.ts): the loss is the fused KD/DKD kernel (label revision
 * and the selection mask inside), the data selection runs before the epochs that need it, and
 * the mask travels in checkpoints as the tensor "ds.mask". `cache` may be shared across runs (the
 * ablation does), so teacher logits are computed once.
 */
export async function distill(
  engine: Engine,
  teacherOrEnsemble: DistillTeacher | DistillTeacher[],
  data: { train: Dataset; test: Dataset },
  o: DistillOptions,
  cb: DistillCallbacks = {},
  cache = new TeacherCache(engine),
  /** A student to continue (with o.resume); by default a fresh one from o.seed. */
  initial?: Model,
): Promise<DistillResult> {
  validateDistillOptions(o);
  const parts = methodParts(o.method);
  const { train: trainData, test } = data;
  const C = trainData.numClasses;
  const teachers = Array.isArray(teacherOrEnsemble) ? teacherOrEnsemble : [teacherOrEnsemble];
  if (teachers.length === 0) throw new Error('distill needs at least one teacher');
  teachers.forEach((teacher, j) => {
    const name = teachers.length > 1 ? `teacher ${j + 1} of ${teachers.length}` : 'the teacher';
    const teacherClasses = 'model' in teacher ? teacher.model.input.classes : teacher.classes;
    if (teacherClasses !== C) throw new Error(`${name} predicts ${teacherClasses} classes, the dataset has ${C}`);
    if (!('model' in teacher) && o.augment) {
      throw new Error(`augmentation needs every teacher to be a model run by kdgpu: ${name}'s precomputed logits are for the training images as they are, not for their augmented copies`);
    }
  });
  // The controls carry their own order; every other method (selecting or not) names the run's score.
  const scorer: DsScore = parts.select === 'random' || parts.select === 'teacher-correct' ? parts.select : o.dsScore;
  if (parts.select !== 'none' && scorer === 'ensemble-disagreement' && teachers.length < 2) {
    throw new Error(`the ensemble-disagreement score needs at least 2 teachers, got ${teachers.length}`);
  }
  const oneTeacherAt = (teacher: DistillTeacher, epoch: number) =>
    'model' in teacher
      ? cache.get(teacher.model, teacher.hash, trainData, { rows: trainIdx, augment: o.augment, seed: o.seed, epoch })
      : cache.fromLogits(teacher.hash, trainData, teacher.logits, teacher.classes);
  // An ensemble's teachers, stacked [K, N, C], and the logits of their mean target [N, C]
  // (method.md §3b), made again per epoch under augmentation.
  let ensemble: { stacked: GPUBuffer; target: GPUBuffer } | null = null;
  const teacherLogitsAt = (epoch: number): { logits: GPUBuffer } => {
    if (teachers.length === 1) return oneTeacherAt(teachers[0], epoch);
    if (ensemble && !o.augment) return { logits: ensemble.target };
    if (ensemble) for (const b of [ensemble.stacked, ensemble.target]) engine.release(b);
    const N = trainData.n;
    const stacked = engine.alloc(teachers.length * N * C * 4, 'ensemble-teachers');
    teachers.forEach((teacher, j) => engine.copy(oneTeacherAt(teacher, epoch).logits, 0, stacked, j * N * C * 4, N * C * 4));
    const target = engine.alloc(N * C * 4, 'ensemble-target');
    ensembleTarget(engine, { zk: stacked, z: target }, teachers.length, N, C, o.temperature, o.ensembleMean);
    ensemble = { stacked, target };
    return { logits: target };
  };
  const input = { channels: trainData.channels, height: trainData.height, width: trainData.width, classes: C };
  const student = initial ?? createModel(engine, o.student, input, o.seed);

  // Same split, subset and order for every method of a seed: differences are the method's.
  const { trainIdx, ...split } = splitRows(trainData.n, o);
  const labelsAll = engine.upload(trainData.labels, 'dataset-labels');
  // Selection mask over the dataset: all ones until a selection is made.
  const mask = engine.upload(new Float32Array(trainData.n).fill(1), 'ds-mask');
  const counts = engine.alloc(2 * C * 4, 'ds-counts');
  const revision: Revision = parts.revise ? { revise: true, eta: o.eta, scope: o.lrScope, betaAtT1: o.betaAtT1 } : NO_REVISION;
  const selecting = parts.select !== 'none';
  const warmingAt = (epoch: number) => selecting && epoch < o.dsWarmupEpochs;

  // A teacher model's forward over the training rows comes first and is long: every pipeline of
  // the run (its forward, the student's step and evaluation) is built before it, in parallel.
  // (Without one, train() builds the student's quick pipelines first; see prepareRun.)
  const teacherModels = teachers.flatMap((t) => ('model' in t ? [t.model] : []));
  if (teacherModels.length > 0) {
    await engine.prepare([
      ...teacherModels.flatMap((m) => modelKernels(m, { eval: batchSizes(trainIdx.length, EVAL_BATCH) })),
      ...modelKernels(student, { train: batchSizes(trainIdx.length, o.batchSize), eval: selecting ? batchSizes(trainIdx.length, EVAL_BATCH) : [] }),
    ]);
  }
  // The teacher's logits for the training rows only (validation rows never use them), and its
  // telemetry over them (once: the teacher does not change).
  let teacherLogits = teacherLogitsAt(0);
  const tele = await teacherTelemetry(engine, teacherLogits.logits, labelsAll, trainData, trainIdx, C, o.temperature, revision);

  let distilled = parts.loss !== 'ce' ? trainIdx.length : 0;
  let selected = false;
  let previousMask: Float32Array | null = null;
  const resumedMask = o.resume?.tensors?.['ds.mask'];
  if (resumedMask) {
    engine.write(mask, resumedMask);
    previousMask = resumedMask;
    distilled = o.resume!.extra?.distilled ?? distilled;
    selected = true;
  }
  let selection: SelectionTelemetry | undefined;
  const scorerState: ScorerState = { mean: null, selections: 0 };
  const resumedMean = o.resume?.tensors?.['ds.score-mean'];
  if (resumedMean) {
    scorerState.mean = engine.upload(resumedMean, 'ds-score-mean');
    scorerState.selections = o.resume!.extra?.scoreSelections ?? 1;
  }
  const dkdWarmSteps = Math.max(1, o.dkdWarmupEpochs * Math.ceil(trainIdx.length / o.batchSize));

  // The fused loss: label revision + KD/DKD + selection mask + gradient in one pass over [B, C].
  const loss: StepLoss = ({ g, logits, labels, rows, size: B, step, epoch }) => {
    const warming = warmingAt(epoch);
    const lossT = g.tensor([B], false, 'loss');
    const correct = g.tensor([B], false, 'correct');
    const grad = g.scratch(B * C, 'grad');
    // Warm-up: the method's own loss on every sample (the mask is not used), or CE alone.
    const kdTerm = parts.loss !== 'ce' && !(warming && o.dsWarmupLoss === 'ce');
    const warm = Math.min(1, step / dkdWarmSteps);
    const lossSpec: KdLoss =
      parts.loss === 'dkd'
        ? { kind: 'dkd', lambda1: 1, alpha: kdTerm ? o.dkdAlpha : 0, beta: kdTerm ? o.dkdBeta : 0, warm }
        : { kind: 'kd', lambda1: kdTerm ? o.lambda1 : 1, lambda2: kdTerm ? o.lambda2 : 0 };
    kdLoss(
      engine,
      { zs: logits.data, zt: teacherLogits.logits, labels, idx: rows, mask, loss: lossT.data, grad, correct: correct.data },
      B,
      C,
      { loss: lossSpec, temperature: o.temperature, revision, useMask: selecting && !warming, restWeight: o.dsRestWeight === 'lambda1' ? undefined : o.dsRestWeight },
    );
    g.seed(logits, { buffer: grad });
    return { loss: lossT, correct, grad: { buffer: grad } };
  };

  const epochs: EpochTelemetry[] = [];
  const valData = split.val.length > 0 ? takeExamples(trainData, split.val, `${trainData.name}/validation`) : null;
  try {
    const result = await train(
      engine,
      student,
      trainData,
      {
        epochs: o.epochs,
        batchSize: o.batchSize,
        lr: o.lr,
        optimizer: o.optimizer,
        schedule: o.schedule,
        seed: o.seed,
        indices: trainIdx,
        augment: o.augment,
        val: valData,
        test,
        progressEvery: cb.progressEvery,
        resume: o.resume,
        stopAfter: o.stopAfter,
        divergenceCheck: o.divergenceCheck,
      },
      {
        loss,
        beforeEpoch: async (epoch) => {
          selection = undefined;
          if (o.augment && epoch > 0) teacherLogits = teacherLogitsAt(epoch);
          const rescore = o.dsEvery > 0 && (epoch - o.dsWarmupEpochs) % o.dsEvery === 0;
          if (selecting && !warmingAt(epoch) && (!selected || rescore)) {
            selected = true;
            const made = await makeSelection(
              engine,
              scorer,
              student,
              trainData,
              split,
              trainIdx,
              { teacherLogits: teacherLogits.logits, teachers: ensemble ? { logits: ensemble.stacked, count: teachers.length } : undefined, labels: labelsAll, mask, counts },
              o,
              revision,
              tele.wrong,
              previousMask,
              scorerState,
            );
            previousMask = made.mask;
            selection = { ...made.telemetry, afterEpoch: epoch };
            distilled = selection.selected;
          }
        },
        onProgress: (p) => cb.onProgress?.({ epoch: p.epoch, step: p.step, stepsPerEpoch: p.stepsPerEpoch, loss: p.loss, accuracy: p.accuracy, samplesPerSecond: p.samplesPerSecond }),
        onEpoch: async (r, state) => {
          const warming = warmingAt(r.epoch - 1);
          const t = epochTelemetry(o.method, r, {
            selection,
            teacherTrainError: tele.errorRate,
            lrChanged: parts.revise ? tele.wrongCount : 0,
            betaQuantiles: tele.betaQuantiles,
            distilled: parts.loss === 'ce' || (warming && o.dsWarmupLoss === 'ce') ? 0 : warming ? trainIdx.length : distilled,
            trainSamples: trainIdx.length,
          });
          epochs.push(t);
          await cb.onEpoch?.(t, student, state);
        },
        shouldStop: cb.shouldStop,
        state: async () => ({
          extra: { distilled, ...(scorerState.mean ? { scoreSelections: scorerState.selections } : {}) },
          tensors: selected
            ? { 'ds.mask': await engine.readF32(mask, trainData.n), ...(scorerState.mean ? { 'ds.score-mean': await engine.readF32(scorerState.mean, trainIdx.length) } : {}) }
            : undefined,
        }),
      },
    );
    return { student, epochs, last: result.last, testAtBestVal: result.testAtBestVal, bestVal: result.bestVal };
  } finally {
    for (const b of [labelsAll, mask, counts]) engine.release(b);
    if (scorerState.mean) engine.release(scorerState.mean);
    const e = ensemble as { stacked: GPUBuffer; target: GPUBuffer } | null;
    if (e) for (const b of [e.stacked, e.target]) engine.release(b);
  }
}


/** An epoch of the training loop, with what distillation adds (the teacher's and the selection's telemetry). */
export function epochTelemetry(
  method: Method,
  r: EpochResult,
  extra: Pick<EpochTelemetry, 'selection' | 'teacherTrainError' | 'lrChanged' | 'betaQuantiles' | 'distilled' | 'trainSamples'>,
): EpochTelemetry {
  return {
    method,
    epoch: r.epoch,
    trainLoss: r.trainLoss,
    trainAccuracy: r.trainAccuracy,
    testAccuracy: r.testAccuracy ?? 0,
    valAccuracy: r.valAccuracy,
    testAtBestVal: r.testAtBestVal,
    bestValEpoch: r.bestValEpoch,
    learningRate: r.learningRate,
    seconds: r.seconds,
    samplesPerSecond: r.samplesPerSecond,
    ...extra,
  };
}

/** Teacher error rate, β quantiles and wrong flags over the training rows (runs once, between epochs). */
async function teacherTelemetry(
  engine: Engine,
  logits: GPUBuffer,
  labels: GPUBuffer,
  data: Dataset,
  rows: Uint32Array,
  C: number,
  temperature: number,
  revision: Revision,
): Promise<{ errorRate: number; wrongCount: number; betaQuantiles: number[]; wrong: Float32Array }> {
  const n = data.n;
  const p = engine.alloc(n * C * 4, 'lr-p');
  const beta = engine.alloc(n * 4, 'lr-beta');
  const wrong = engine.alloc(n * 4, 'lr-wrong');
  labelRevision(engine, { zt: logits, labels, p, beta, wrong }, n, C, temperature, revision.revise ? revision : { ...NO_REVISION });
  const betaAll = await engine.readF32(beta, n);
  const wrongAll = await engine.readF32(wrong, n);
  for (const b of [p, beta, wrong]) engine.release(b);
  const betaRows = Float32Array.from(rows, (k) => betaAll[k]);
  let wrongCount = 0;
  for (const k of rows) wrongCount += wrongAll[k];
  return { errorRate: wrongCount / rows.length, wrongCount, betaQuantiles: quantiles(betaRows, [0, 0.1, 0.5, 0.9, 1]), wrong: wrongAll };
}

/**
 * Write the selection mask (zero outside the training rows) and describe it. Every scorer scores
 * on the GPU (the controls upload their seeded order) and selects with the same kernel and
 * balance rule; the controls keep exactly as many samples per group as the rule gives (for the
 * sign rule, the influence selection's own counts).
 */
async function makeSelection(
  engine: Engine,
  score: DsScore,
  student: Model,
  data: Dataset,
  split: { train: Uint32Array; val: Uint32Array },
  trainIdx: Uint32Array,
  gpu: SelectionBuffers,
  o: DistillOptions,
  revision: Revision,
  teacherWrong: Float32Array,
  previous: Float32Array | null,
  state: ScorerState,
): Promise<{ mask: Float32Array; telemetry: Omit<SelectionTelemetry, 'afterEpoch'> }> {
  const C = data.numClasses;
  const n = trainIdx.length;
  engine.write(gpu.mask, new Float32Array(data.n)); // zeros: only training rows get scored and set
  const { scores } = await selectDistillSubset(
    student,
    data,
    { train: trainIdx, val: split.val },
    gpu,
    { score, rule: o.dsRule, ratio: o.dsRatio, balance: o.dsBalance, hessian: o.dsHessian, damping: o.dsDamping, temperature: o.temperature, revision, seed: o.seed },
    state,
    teacherWrong,
  );
  const hostScores = await engine.readF32(scores, n);
  engine.release(scores);
  const scoreQuantiles = quantiles(hostScores, [0, 0.1, 0.5, 0.9, 1]);
  const auc = mistakeAuc(hostScores, Float32Array.from(trainIdx, (k) => teacherWrong[k]));
  // Telemetry, between epochs: one readback of the mask, then counts over the training rows.
  const mask = await engine.readF32(gpu.mask, data.n);
  const perClass = Array.from({ length: C }, () => ({ samples: 0, selected: 0, fraction: 0 }));
  let selected = 0;
  let wrongIn = 0;
  let wrongOut = 0;
  let changed = 0;
  for (const k of trainIdx) {
    const m = mask[k];
    const c = perClass[Math.min(C - 1, data.labels[k])];
    c.samples++;
    c.selected += m;
    selected += m;
    if (m) wrongIn += teacherWrong[k];
    else wrongOut += teacherWrong[k];
    if (previous && previous[k] !== m) changed++;
  }
  for (const c of perClass) c.fraction = c.samples ? c.selected / c.samples : 0;
  return {
    mask,
    telemetry: {
      selected,
      candidates: n,
      perClass,
      teacherErrorInside: selected ? wrongIn / selected : 0,
      teacherErrorOutside: n - selected ? wrongOut / (n - selected) : 0,
      score,
      scoreQuantiles,
      mistakeAuc: auc,
      changed: previous ? changed : selected,
    },
  };
}
