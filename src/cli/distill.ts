// `kdgpu distill`: one student distilled from a teacher, with per-epoch telemetry. The teacher is
// a kdgpu checkpoint, an ONNX model (run once by onnxruntime-node), or its logits on the training
// set computed anywhere (a logits file); see docs/interop.md.

import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, statSync, writeFileSync } from 'node:fs';
import type { Engine } from '../gpu/engine.js';
import { distill, DEFAULT_DISTILL, splitRows, validateDistillOptions, type DistillOptions, type DistillTeacher, type EpochTelemetry, type SelectionTelemetry } from '../kd/distill.js';
import { methodParts, optimizerRule, optionFields, OptionError, type RunOptionValues } from '../options.js';
import { TeacherCache } from '../kd/teacher-cache.js';
import { allIndices } from '../data/batches.js';
import { readRegularFile } from '../io/regular-file.js';
import { checkLogitsShape, logitsAgreement, readLogitsFile, refuseChanceTeacher, type LogitsMatrix } from '../interop/logits-file.js';
import { checkOnnxTeacher, DEFAULT_ONNX_INPUT, onnxTeacherLogits, type OnnxInputOptions, type OrtModule } from '../interop/onnx-teacher.js';
import { loadOnnxRuntimeNode } from '../interop/onnx-node.js';
import { loadDatasetSpec, type LoadedData } from '../data/load-dataset.js';
import type { DatasetSpec } from '../data/spec.js';
import { checkModelFitsData, dataIdentity, describeSpec, specFromOptions, specOfCheckpoint, trainingSetHash } from './data-options.js';
import { RunProgress } from './progress.js';
import { flagOf } from './run-options.js';
import { checkRunFiles, claimRunFiles, runFiles, type RunFiles } from './preflight.js';
import { checkpointState, loadWeights, resumePoint, saveModel, type ModelConfig, type TrainOptions } from './train.js';
import { NumericalFault } from '../train.js';
import type { DataIdentity } from '../nn/model-checkpoint.js';
import { defaultCacheDir, LogitsCache } from '../io/logits-cache.js';
import { cachedTeacherLogits, chooseTeacherBackend, describeBackend, type TeacherBackendChoice } from './teacher-logits.js';

/** The method's options: the declared method group (src/options.ts), the method and student among them. */
const METHOD_KEYS = optionFields('method');
type MethodOptions = Pick<RunOptionValues, (typeof METHOD_KEYS)[number]>;

/** What `kdgpu distill` takes: the training options, the method's, the teacher and how an ONNX teacher is fed. */
export interface DistillCliOptions extends Omit<TrainOptions, 'model' | 'out'>, MethodOptions, Pick<RunOptionValues, 'onnxLayout' | 'onnxMean' | 'onnxStd' | 'onnxInputRange' | 'onnxBatch'> {
  /** A kdgpu checkpoint, or an ONNX model (a path ending in .onnx). */
  teacher?: string;
  /**
   * More teachers, for an ensemble (its target: the mean of the teachers' probabilities at T, or
   * of their logits): checkpoints, ONNX models or logits files, on the first teacher's data.
   */
  moreTeachers?: string[];
  /** The teacher's logits on the training set, instead of --teacher (see src/interop/logits-file.ts). */
  teacherLogits?: string;
  /** Its logits on the test set (optional; or the tensor test_logits of --teacher-logits). */
  teacherTestLogits?: string;
  /** false (--no-teacher-check): distil from a teacher whose training predictions are at chance level. */
  teacherCheck?: boolean;
  /** Where a checkpoint teacher's forward runs (default auto: onnxruntime-node on a software adapter when installed). */
  teacherBackend?: TeacherBackendChoice;
  /** false (--no-cache): a checkpoint teacher's logits are neither read from nor written to the disk cache. */
  cache?: boolean;
  /** The disk cache's directory (default: defaultCacheDir(), $XDG_CACHE_HOME/kdgpu or ~/.cache/kdgpu). */
  cacheDir?: string;
  out?: string;
}

export function distillOptions(o: Omit<DistillCliOptions, 'teacher'>, normalisationMean: number[], normalisationStd: number[], channels: number): DistillOptions {
  const method = Object.fromEntries(METHOD_KEYS.map((k) => [k, o[k]])) as MethodOptions;
  return {
    ...DEFAULT_DISTILL,
    ...method,
    epochs: o.epochs,
    batchSize: o.batchSize,
    lr: o.lr,
    optimizer: optimizerRule(o),
    schedule: o.schedule,
    seed: o.seed,
    trainSubset: o.trainSubset,
    valSplit: o.valSplit,
    augment: o.augment ? { pad: 4, flip: channels === 3, padValue: normalisationMean.map((m, c) => -m / normalisationStd[c]) } : undefined,
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
  const scores = `${s.score} min/p10/median/p90/max ${s.scoreQuantiles.map((v) => v.toPrecision(3)).join('/')}`;
  const auc = s.mistakeAuc === null ? 'no mistakes to separate' : `AUC at putting the teacher's mistakes last ${s.mistakeAuc.toFixed(3)}`;
  return (
    `selection after epoch ${s.afterEpoch}: |Dt| ${s.selected}/${s.candidates}; kept % per class (0..${s.perClass.length - 1}) ${kept}; ` +
    `teacher error in Dt ${pct(s.teacherErrorInside)}, outside ${pct(s.teacherErrorOutside)}; ${auc}; ${scores}; changed ${s.changed}`
  );
}

/** Above this temperature, a numerical fault is blamed on --T first: T² scales the KD term. */
const HIGH_TEMPERATURE = 20;

/**
 * What to say about --T when a run at a high temperature faults: the KD term is scaled by T²
 * (method.md), so float32 rounding in the softened probabilities alone grows with it, and lowering
 * --lr does not help.
 */
function temperatureNote(e: Error, T: number): string {
  if (!(e instanceof NumericalFault) || !(T > HIGH_TEMPERATURE)) return '';
  return ` At --T ${T} the KD term is scaled by T² = ${(T * T).toPrecision(3)}, which magnifies float32 rounding in the softened probabilities: lower --T (KD uses 1 to ${HIGH_TEMPERATURE}) before --lr.`;
}

export interface DistillRunResult {
  last: number;
  testAtBestVal: number;
  bestVal: number | null;
  epochs: EpochTelemetry[];
}

/** Whether --teacher names an ONNX model (by its extension) rather than a kdgpu checkpoint. */
export const isOnnxPath = (path: string | undefined): boolean => !!path && /\.onnx$/i.test(path);

/** The data of a teacher that records none (logits, ONNX): the options', fashion-mnist by default. */
const externalSpec = (o: DistillCliOptions): DatasetSpec => specFromOptions(o, { kind: 'fashion-mnist' });

/**
 * Everything checked before a distillation reads data or writes a file: the method's options
 * (validateDistillOptions, which distill() would otherwise only reach after --metrics was
 * opened), the teacher (one of --teacher and --teacher-logits, and the options that go with each),
 * and the outputs (see preflight.ts).
 */
export function checkDistillOptions(o: DistillCliOptions): RunFiles {
  validateDistillOptions(distillOptions(o, [0], [1], 1)); // normalisation and channels shape only the augmentation's padding
  if (!o.teacher && !o.teacherLogits) throw new Error('distill needs a teacher: --teacher (a kdgpu checkpoint or an ONNX model, .onnx) or --teacher-logits (its logits on the training set)');
  if (o.teacher && o.teacherLogits) throw new Error('--teacher and --teacher-logits cannot be used together: give the teacher as a model or as its logits');
  const onnx = isOnnxPath(o.teacher);
  if (o.teacherTestLogits && !o.teacherLogits) throw new Error('--teacher-test-logits goes with --teacher-logits (a teacher model\'s test accuracy is computed)');
  for (const key of optionFields('teacher')) {
    if (o[key] !== undefined && !onnx) throw new Error(`${flagOf(key)} applies to an ONNX teacher (--teacher model.onnx)${o.teacher ? `, not to ${o.teacher}` : ''}`);
  }
  checkTeacherLogitsOptions(o);
  if ((onnx || o.teacherLogits) && o.augment) {
    throw new Error(`--augment needs a teacher that kdgpu runs (a checkpoint): the logits of ${o.teacherLogits ? '--teacher-logits' : 'an ONNX teacher'} are computed once, for the training images as they are`);
  }
  if (o.moreTeachers?.length && o.teacherLogits) throw new Error('an ensemble is given with --teacher only (checkpoints, ONNX models or logits files, several times): leave out --teacher-logits');
  if (o.moreTeachers?.length && o.augment) throw new Error('--augment with several teachers is not supported: an ensemble\'s logits are computed once, for the training images as they are');
  const files = runFiles('distill', o);
  checkRunFiles(files, o);
  return files;
}

/**
 * Where a checkpoint teacher's logits come from (--teacher-backend, --cache-dir, --no-cache):
 * options of distill and ablate, which apply to a kdgpu checkpoint teacher only.
 */
export function checkTeacherLogitsOptions(o: Pick<DistillCliOptions, 'teacher' | 'teacherLogits' | 'teacherBackend' | 'cache' | 'cacheDir' | 'augment'>): void {
  const onnx = isOnnxPath(o.teacher);
  if (o.teacherBackend && o.teacherBackend !== 'auto' && (onnx || o.teacherLogits)) {
    throw new Error(`--teacher-backend applies to a kdgpu checkpoint teacher, not to ${o.teacherLogits ? '--teacher-logits' : 'an ONNX teacher (onnxruntime runs it)'}`);
  }
  if (o.cacheDir !== undefined) {
    if (o.cache === false) throw new Error('--cache-dir and --no-cache cannot be used together: the cache is used (in --cache-dir) or not at all');
    if (onnx || o.teacherLogits) throw new Error(`--cache-dir applies to a kdgpu checkpoint teacher, whose logits it keeps; ${o.teacherLogits ? '--teacher-logits are read from their file' : "an ONNX teacher's are computed each run"}`);
    if (existsSync(o.cacheDir) && !statSync(o.cacheDir).isDirectory()) throw new Error(`--cache-dir ${o.cacheDir}: exists and is not a folder`);
  }
  if (o.teacherBackend === 'onnxruntime' && o.augment) {
    throw new Error("--teacher-backend onnxruntime cannot be used with --augment: the teacher sees each epoch's augmented images, which kdgpu's forward computes on the device (--teacher-backend kdgpu or auto)");
  }
}

/** The teacher of a run, the data it is distilled on, and a line that describes it. */
interface PreparedTeacher {
  teacher: DistillTeacher;
  spec: DatasetSpec;
  data: LoadedData;
  description: string;
  /** A line after the run's first: where the teacher's logits came from. */
  detail?: string;
  release(): void;
}

/** The disk cache of teacher logits the options ask for (--cache-dir, --no-cache). */
export const logitsCacheOf = (o: { cache?: boolean; cacheDir?: string }): LogitsCache | null => (o.cache === false ? null : new LogitsCache(o.cacheDir ?? defaultCacheDir()));

/**
 * A kdgpu checkpoint: the data it records (unless the options name other data), normalised as it
 * was trained. Without augmentation its logits for the run's training rows are computed here, once
 * (or read from the disk cache), by the backend chosen for this adapter (teacher-logits.ts); with
 * augmentation the model itself goes to distill(), which runs it on each epoch's images.
 */
async function checkpointTeacher(engine: Engine, o: DistillCliOptions, out: (s: string) => void): Promise<PreparedTeacher> {
  const path = o.teacher!;
  const teacher = await loadWeights(engine, path);
  try {
    const tc = teacher.config as ModelConfig;
    const spec = specFromOptions(o, specOfCheckpoint(tc, path));
    const data = await loadDatasetSpec(spec, tc.normalisation, o.testSubset, (train) => checkModelFitsData(`the teacher ${path} (${tc.model})`, tc.input, train, spec));
    const trainHash = trainingSetHash(data.train);
    if (tc.data && tc.data.trainHash !== trainHash) {
      out(`note: the teacher was trained on other data (${describeSpec(tc.data.spec)}); distilling on ${describeSpec(spec)} anyway`);
    }
    const description = `${tc.model} (${path}, test ${tc.testAccuracy !== undefined ? pct(tc.testAccuracy) : '?'})`;
    const choose = () => chooseTeacherBackend(engine, o.teacherBackend ?? 'auto', !!o.augment);
    if (o.augment) {
      return {
        teacher: { model: teacher.model, hash: teacher.hash },
        spec,
        data,
        description,
        detail: `the teacher's forward: ${describeBackend(await choose(), engine)}, on each epoch's augmented images`,
        release: () => teacher.model.store.destroy(),
      };
    }
    const logits = await checkpointLogits(engine, teacher, data, o, trainHash, out);
    teacher.model.store.destroy();
    return { ...logits, spec, data, description };
  } catch (e) {
    teacher.model.store.destroy();
    throw e;
  }
}

/** A checkpoint teacher's logits on the run's training rows (from the disk cache, or computed by the chosen backend). */
async function checkpointLogits(engine: Engine, teacher: Awaited<ReturnType<typeof loadWeights>>, data: LoadedData, o: DistillCliOptions, trainHash: string, out: (s: string) => void) {
  const choose = () => chooseTeacherBackend(engine, o.teacherBackend ?? 'auto', !!o.augment);
  const { trainIdx } = splitRows(data.train.n, { valSplit: o.valSplit, trainSubset: o.trainSubset, seed: o.seed });
  const got = await cachedTeacherLogits(engine, teacher, data.train, trainIdx, { choice: o.teacherBackend ?? 'auto', backend: choose, cache: logitsCacheOf(o), trainingSetHash: trainHash }, out);
  return {
    teacher: { logits: got.logits, classes: (teacher.config as ModelConfig).input.classes, hash: teacher.hash },
    detail: `the teacher's logits for the ${trainIdx.length} training rows: ${got.how}`,
    release: () => {},
  };
}

/** An ONNX teacher's input options, the defaults filled in. */
function onnxInputOptions(o: DistillCliOptions): OnnxInputOptions {
  return {
    layout: o.onnxLayout ?? DEFAULT_ONNX_INPUT.layout,
    inputRange: o.onnxInputRange ?? DEFAULT_ONNX_INPUT.inputRange,
    mean: o.onnxMean ?? DEFAULT_ONNX_INPUT.mean,
    std: o.onnxStd ?? DEFAULT_ONNX_INPUT.std,
    batchSize: o.onnxBatch ?? DEFAULT_ONNX_INPUT.batchSize,
  };
}

/**
 * A teacher given as logits (a file) or as an ONNX model (its logits computed here once, for the
 * run's training rows and the test set). It records no data: the options name it (fashion-mnist
 * by default), normalised with the training set's own statistics, as kdgpu train does.
 */
async function externalTeacher(o: DistillCliOptions, out: (s: string) => void): Promise<PreparedTeacher> {
  // onnxruntime-node first: without it, say so before the data is read.
  const ort = o.teacherLogits ? null : await loadOnnxRuntimeNode();
  const spec = externalSpec(o);
  const data = await loadDatasetSpec(spec, undefined, o.testSubset);
  const { train, test } = data;
  const C = train.numClasses;
  const testAccuracy = (m: LogitsMatrix | { data: Float32Array } | undefined) => (m ? logitsAgreement(m.data, C, test.labels, allIndices(test.n)).accuracy : undefined);
  const check = o.teacherCheck ?? true;
  if (o.teacherLogits) {
    const file = readLogitsFile(await readRegularFile(o.teacherLogits, 'a teacher logits file'), o.teacherLogits);
    checkLogitsShape(file.logits, {
      rows: train.n,
      classes: C,
      exactRows: true,
      what: `the training set, ${describeSpec(spec)},`,
      rowsHint: "one row per training sample in the training set's order (all of it: the validation split and --train-subset are taken from these rows)",
    });
    let testLogits = file.testLogits;
    if (o.teacherTestLogits) {
      if (testLogits) throw new Error(`${o.teacherLogits} holds a tensor "test_logits" and --teacher-test-logits names ${o.teacherTestLogits}: give the teacher's test logits once`);
      testLogits = readLogitsFile(await readRegularFile(o.teacherTestLogits, 'a teacher logits file'), o.teacherTestLogits).logits;
    }
    if (testLogits) {
      checkLogitsShape(testLogits, {
        rows: test.n,
        classes: C,
        exactRows: o.testSubset === undefined,
        what: `the test set${o.testSubset !== undefined ? ` (its first ${o.testSubset}, --test-subset)` : ''}`,
        rowsHint: "one row per test sample in the test set's order",
      });
    }
    const agreement = logitsAgreement(file.logits.data, C, train.labels);
    if (check) {
      refuseChanceTeacher(agreement, `${file.logits.source}: the logits' argmax predictions`, `are the rows in the training set's order (${describeSpec(spec)}, the order of its files)? --no-teacher-check distils from them anyway`);
    }
    const t = testAccuracy(testLogits);
    const m = file.logits;
    return {
      teacher: { logits: m.data, classes: C, hash: file.hash },
      spec,
      data,
      description: `the logits in ${o.teacherLogits} (${m.rows}×${m.classes} ${m.dtype === 'F16' ? 'float16' : 'float32'}, train accuracy ${pct(agreement.accuracy)}, ${t === undefined ? 'no test logits' : `test ${pct(t)}`})`,
      release: () => {},
    };
  }
  // An ONNX model: its logits for the rows this run trains on, and for the test set.
  const path = o.teacher!;
  const started = performance.now();
  const onnx = await onnxTeacher(ort!, path, o, data, { withTest: true, out });
  const { input } = onnx;
  const declared = onnx.modelInput.declared ? `[${onnx.modelInput.declared.join(', ')}]` : '(shape not declared)';
  const t = testAccuracy({ data: onnx.testLogits! });
  return {
    teacher: onnx.teacher,
    spec,
    data,
    description:
      `the ONNX model ${path} (input "${onnx.modelInput.name}" ${declared} fed ${input.layout.toUpperCase()}, pixels × ${input.inputRange}, mean ${input.mean.join(',')}, std ${input.std.join(',')}; ` +
      `train accuracy ${pct(onnx.agreement.accuracy)}, test ${pct(t!)}; logits in ${((performance.now() - started) / 1000).toFixed(1)} s)`,
    release: () => {},
  };
}

/**
 * An ONNX teacher (the first or an ensemble's): its logits for the rows this run trains on
 * (distill() takes the same split), refused when they agree with the labels no better than chance
 * (unless --no-teacher-check), and with `withTest` its logits for the test set; its hash covers the
 * model and how it is fed.
 */
async function onnxTeacher(ort: OrtModule, path: string, o: DistillCliOptions, data: LoadedData, opts: { withTest?: boolean; out?: (s: string) => void } = {}) {
  const { train, test } = data;
  const input = onnxInputOptions(o);
  const bytes = await readRegularFile(path, 'an ONNX model');
  const model = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { trainIdx } = splitRows(train.n, { valSplit: o.valSplit, trainSubset: o.trainSubset, seed: o.seed });
  opts.out?.(`computing the teacher's logits with onnxruntime (${path}): ${trainIdx.length} training${opts.withTest ? ` and ${test.n} test` : ''} images…`);
  const onTrain = await onnxTeacherLogits(ort, model, path, train, data.normalisation, trainIdx, input);
  const agreement = checkOnnxTeacher(onTrain, path, train.labels, trainIdx, {
    refuse: o.teacherCheck ?? true,
    hint: `check how it expects its input: --onnx-layout (${input.layout}), --onnx-input-range (${input.inputRange}), --onnx-mean (${input.mean.join(',')}), --onnx-std (${input.std.join(',')}); --no-teacher-check distils from it anyway`,
  });
  const testLogits = opts.withTest ? (await onnxTeacherLogits(ort, model, path, test, data.normalisation, allIndices(test.n), input)).logits : undefined;
  const hash = createHash('sha256').update(model).update(JSON.stringify(input)).digest('hex');
  return { teacher: { logits: onTrain.logits, classes: train.numClasses, hash }, agreement, input, modelInput: onTrain.input, testLogits };
}

/** Whether a file holds teacher logits (.npy, or safetensors with a tensor "logits") rather than a checkpoint. */
function isLogitsFile(bytes: Uint8Array): boolean {
  if (bytes[0] === 0x93 && bytes[1] === 0x4e) return true; // \x93NUMPY
  if (bytes.length < 8) return false;
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  try {
    return n <= bytes.length - 8 && 'logits' in (JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as object);
  } catch {
    return false;
  }
}

/**
 * A further teacher of an ensemble, on the first teacher's data: a checkpoint (trained with the same
 * input normalisation), an ONNX model, or a logits file.
 */
async function ensembleMember(engine: Engine, path: string, o: DistillCliOptions, first: PreparedTeacher, out: (s: string) => void): Promise<PreparedTeacher> {
  const { data, spec } = first;
  const { train } = data;
  const C = train.numClasses;
  if (isOnnxPath(path)) {
    const onnx = await onnxTeacher(await loadOnnxRuntimeNode(), path, o, data);
    return { teacher: onnx.teacher, spec, data, description: `the ONNX model ${path} (train accuracy ${pct(onnx.agreement.accuracy)})`, release: () => {} };
  }
  const bytes = await readRegularFile(path, 'a teacher checkpoint or logits file');
  if (isLogitsFile(bytes)) {
    const file = readLogitsFile(bytes, path);
    checkLogitsShape(file.logits, { rows: train.n, classes: C, exactRows: true, what: `the training set, ${describeSpec(spec)},`, rowsHint: "one row per training sample in the training set's order" });
    const agreement = logitsAgreement(file.logits.data, C, train.labels);
    if (o.teacherCheck ?? true) refuseChanceTeacher(agreement, `${path}: the logits' argmax predictions`, "are the rows in the training set's order? --no-teacher-check distils from them anyway");
    return { teacher: { logits: file.logits.data, classes: C, hash: file.hash }, spec, data, description: `the logits in ${path} (train accuracy ${pct(agreement.accuracy)})`, release: () => {} };
  }
  const loaded = await loadWeights(engine, path);
  try {
    const tc = loaded.config as ModelConfig;
    checkModelFitsData(`the teacher ${path} (${tc.model})`, tc.input, train, spec);
    const norm = data.normalisation;
    if (tc.normalisation && JSON.stringify(tc.normalisation) !== JSON.stringify(norm)) {
      throw new Error(`${path}: this teacher was trained with another input normalisation (mean ${tc.normalisation.mean.join(',')}, std ${tc.normalisation.std.join(',')}) than the first teacher (mean ${norm.mean.join(',')}, std ${norm.std.join(',')}): an ensemble's teachers must read the same inputs`);
    }
    const trainHash = trainingSetHash(train);
    if (tc.data && tc.data.trainHash !== trainHash) out(`note: the teacher ${path} was trained on other data (${describeSpec(tc.data.spec)})`);
    // Every member the way the first is computed (an ensemble refuses augmentation), so identical
    // teachers give identical logits.
    const logits = await checkpointLogits(engine, loaded, data, o, trainHash, out);
    return { ...logits, spec, data, description: `${tc.model} (${path}, test ${tc.testAccuracy !== undefined ? pct(tc.testAccuracy) : '?'})` };
  } finally {
    loaded.model.store.destroy();
  }
}

export async function runDistill(engine: Engine, o: DistillCliOptions, out: (s: string) => void, cache = new TeacherCache(engine)): Promise<DistillRunResult> {
  checkDistillOptions(o);
  const release = claimRunFiles(runFiles('distill', o), o);
  try {
    const prepared = [o.teacherLogits || isOnnxPath(o.teacher) ? await externalTeacher(o, out) : await checkpointTeacher(engine, o, out)];
    try {
      for (const path of o.moreTeachers ?? []) prepared.push(await ensembleMember(engine, path, o, prepared[0], out));
      return await distillFrom(engine, o, prepared, out, cache);
    } finally {
      for (const p of prepared) p.release();
    }
  } finally {
    release();
  }
}

async function distillFrom(engine: Engine, o: DistillCliOptions, members: PreparedTeacher[], out: (s: string) => void, cache: TeacherCache): Promise<DistillRunResult> {
  const { spec, data } = members[0];
  const description = members.length === 1 ? members[0].description : `an ensemble of ${members.length} teachers (mean of their ${o.ensembleMean === 'logit' ? 'logits' : 'probabilities at T'}): ${members.map((m) => m.description).join('; ')}`;
  const normalisation = data.normalisation;
  const opts = distillOptions(o, normalisation.mean, normalisation.std, data.train.channels);
  let identity: DataIdentity | undefined;
  const identityOf = () => (identity ??= dataIdentity(spec, data)); // a hash of the training set: only when resuming or saving
  const resumed = await resumePoint(engine, o as DistillCliOptions & Record<string, unknown>, identityOf);
  if (resumed) {
    opts.resume = resumed.state;
    out(`resuming from ${o.out} after epoch ${resumed.state!.epoch}`);
  }
  opts.stopAfter = o.stopAfter;
  opts.divergenceCheck = o.divergenceCheck ?? true;
  if (o.metrics && !resumed) writeFileSync(o.metrics, '');
  const log = (rec: unknown) => o.metrics && appendFileSync(o.metrics, JSON.stringify(rec) + '\n');
  const parts = methodParts(o.method);
  out(
    `distilling ${description} into ${o.student} with ${o.method}; ` +
      `T=${o.temperature} λ1=${o.lambda1} λ2=${o.lambda2}${parts.revise ? ` η=${o.eta}${o.betaAtT1 ? ' β@T=1' : ''}` : ''}` +
      `${parts.select !== 'none' ? ` ds: ${parts.select === 'score' ? o.dsScore : parts.select} scores, ${o.dsRule === 'ratio' ? `ratio ${o.dsRatio}` : 'sign'} per ${o.dsBalance === 'class' ? 'class' : 'whole set'}, rest weight ${o.dsRestWeight}, warm-up ${o.dsWarmupEpochs} epoch(s) of ${o.dsWarmupLoss === 'ce' ? 'CE' : 'the method'}${o.dsEvery ? `, re-score every ${o.dsEvery}` : ''}` : ''}; adapter ${engine.adapterName}`,
  );
  for (const m of members) if (m.detail) out(m.detail);
  // A teacher given as logits has them already (computed, read from a file or the cache).
  const progress = new RunProgress(o.progress, o.epochs, members.some((m) => 'model' in m.teacher) ? "the GPU pipelines and the teacher's logits" : 'the GPU pipelines', engine, out);
  let lastSaved = resumed?.state?.epoch ?? 0;
  const result = await distill(
    engine,
    members.map((m) => m.teacher),
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
            data: identityOf(),
            normalisation,
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
    if (e instanceof OptionError) throw e; // found before the first step: the CLI names the flag
    throw new Error(`${e.message}; training stopped.${temperatureNote(e, o.temperature)} ${checkpointState(o.out, lastSaved)}`);
  });
  const chosen = result.bestVal === null ? '' : `, test at best validation ${pct(result.testAtBestVal)} (validation ${pct(result.bestVal)})`;
  out(`${o.method}: last ${pct(result.last)}${chosen}${o.out ? `; saved ${o.out}` : ''}`);
  result.student.store.destroy();
  return { last: result.last, testAtBestVal: result.testAtBestVal, bestVal: result.bestVal, epochs: result.epochs };
}
