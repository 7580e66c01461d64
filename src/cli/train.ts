// `kdgpu train` and `kdgpu eval`: supervised training with a progress bar, a validation split held
// out of the training set to choose the epoch (as distill does), per-epoch test accuracy, JSON-lines
// metrics and atomic safetensors checkpoints.

import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { RunProgress } from './progress.js';
import type { Engine } from '../gpu/engine.js';
import { takeExamples } from '../data/dataset.js';
import { splitRows } from '../kd/distill.js';
import { createModel, type InputSpec } from '../nn/models.js';
import { IDENTITY_FIELDS, optimizerRule, validateOptions, type RunOptionValues } from '../options.js';
import { flagAttribute, flagOf, withFlags } from './run-options.js';
import { evaluate, train } from '../train.js';
import type { DataIdentity, ModelConfig, RestoredModel } from '../nn/model-checkpoint.js';
import { loadModel, loadWeights, saveModel } from '../nn/model-file.js';
import { loadDatasetSpec } from '../data/load-dataset.js';
import { addLabelNoise, parseNoisePairs } from '../data/label-noise.js';
import { checkRunFiles, claimRunFiles, runFiles, type RunFiles } from './preflight.js';
import { checkModelFitsData, dataIdentity, describeSpec, specFromOptions, specOfCheckpoint, type DataOptions } from './data-options.js';

/** The declared training options (src/options.ts), with what only the command line has: the model, files and switches. */
export interface TrainOptions
  extends DataOptions,
    Pick<RunOptionValues, 'epochs' | 'batchSize' | 'lr' | 'optimizer' | 'momentum' | 'nesterov' | 'weightDecay' | 'schedule' | 'seed' | 'trainSubset' | 'testSubset' | 'augment' | 'stopAfter' | 'valSplit' | 'labelNoise' | 'noisePairs'> {
  /** What --out holds at the end: the last epoch's model, or the one of the best validation accuracy (default last). */
  save?: RunOptionValues['save'];
  model: string;
  out?: string;
  metrics?: string;
  progress: boolean;
  /** Continue from the checkpoint at --out (weights, optimizer state, epoch), if it exists. */
  resume?: boolean;
  /** Let a new run replace an existing checkpoint at --out (refused otherwise). */
  overwrite?: boolean;
  /** Stop when the running loss diverges without becoming Inf/NaN (see DivergenceCheck); default on. */
  divergenceCheck?: boolean;
}

/**
 * Options that must be the same for --resume to continue a run rather than start another: the
 * declared identity fields, and the model, teachers and data the command line names.
 */
export const RUN_IDENTITY = ['model', 'teacher', 'moreTeachers', 'teacherLogits', 'teacherTestLogits', 'dataset', ...IDENTITY_FIELDS];

/**
 * The checkpoint to resume from, if --resume and it exists; refuses one written by a different run
 * (naming the option that differs), on other data (naming both: the checkpoint records its training
 * set's hash), or that records more epochs done than the run has.
 */
export async function resumePoint(engine: Engine, o: { out?: string; resume?: boolean; epochs?: number } & Record<string, unknown>, dataOf: () => DataIdentity): Promise<RestoredModel | null> {
  if (!o.resume) return null;
  if (!o.out) throw new Error('--resume needs --out: the checkpoint to continue from and to keep writing');
  if (!existsSync(o.out)) return null;
  const r = await loadModel(engine, o.out);
  const optimizer = o.optimizer;
  if (r.state && (optimizer === 'adam' || optimizer === 'adamw') && r.state.optimizer.v.length !== r.state.optimizer.m.length) {
    r.model.store.destroy();
    throw new Error(`${o.out}: tensor "train_state/optimizer.v" (Adam's second moments) is missing: cannot --resume --optimizer ${optimizer} from it`);
  }
  if (!r.state) {
    r.model.store.destroy();
    throw new Error(`${o.out}: has no training state (written by an older kdgpu or not by train/distill): cannot --resume from it`);
  }
  const refuse = (why: string): never => {
    r.model.store.destroy();
    throw new Error(`${o.out}: ${why}`);
  };
  const trained = r.config.data;
  const data = dataOf();
  if (trained && trained.trainHash !== data.trainHash) {
    refuse(
      `was trained on ${describeSpec(trained.spec)} (training set sha256 ${trained.trainHash.slice(0, 16)}…), this run's data is ${describeSpec(data.spec)} (sha256 ${data.trainHash.slice(0, 16)}…): ` +
        '--resume continues on the same data only (name it with the same data options)',
    );
  }
  if (o.epochs !== undefined && r.state.epoch > o.epochs) {
    refuse(`__metadata__.train_state.epoch records ${r.state.epoch} epochs done, more than the run's --epochs ${o.epochs}: an edited or corrupt checkpoint; cannot --resume from it`);
  }
  const was = (r.config.command ?? {}) as Record<string, unknown>;
  for (const k of RUN_IDENTITY) {
    const before = k in was ? was[k] : was[flagAttribute(k)];
    if (JSON.stringify(before) !== JSON.stringify(o[k])) {
      r.model.store.destroy();
      throw new Error(`${o.out}: was written by a run with ${flagOf(k)} ${JSON.stringify(before)}, this one has ${JSON.stringify(o[k])}: --resume continues the same run only`);
    }
  }
  return r;
}

export type { ModelConfig };

export { saveModel, loadModel, loadWeights };

/** What a user needs to hear about their checkpoint when a run stops early. */
export function checkpointState(path: string | undefined, lastSavedEpoch: number): string {
  if (!path) return 'No checkpoint was requested (--out).';
  if (lastSavedEpoch > 0) return `${path} holds the last good checkpoint (epoch ${lastSavedEpoch}), untouched.`;
  return existsSync(path) ? `This run had not saved to ${path} yet: the file there is untouched.` : `No checkpoint had been written to ${path} yet.`;
}

/** The data `kdgpu train` reads: the options', fashion-mnist by default. */
export function trainSpec(o: TrainOptions) {
  return specFromOptions(o, { kind: 'fashion-mnist' });
}

/** Everything checked before a training run reads data or writes a file (see preflight.ts). */
export function checkTrainOptions(o: TrainOptions): RunFiles {
  try {
    validateOptions(o);
  } catch (e) {
    throw withFlags(e);
  }
  if (o.save === 'best' && o.resume) {
    throw new Error('--resume continues from the last epoch\'s checkpoint; with --save best, --out holds an earlier epoch: use --save last to resume');
  }
  const files = runFiles('train', o);
  checkRunFiles(files, o);
  return files;
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

type TrainResult = { last: number; testAtBestVal: number; bestVal: number | null };

export async function runTrain(engine: Engine, o: TrainOptions, out: (s: string) => void): Promise<TrainResult> {
  checkTrainOptions(o);
  const release = claimRunFiles(runFiles('train', o), o);
  try {
    return await trainRun(engine, o, out);
  } finally {
    release();
  }
}

async function trainRun(engine: Engine, o: TrainOptions, out: (s: string) => void): Promise<TrainResult> {
  const spec = trainSpec(o);
  const data = await loadDatasetSpec(spec, undefined, o.testSubset);
  const identity = dataIdentity(spec, data);
  const input: InputSpec = { channels: data.train.channels, height: data.train.height, width: data.train.width, classes: data.train.numClasses };
  const resumed = await resumePoint(engine, o as TrainOptions & Record<string, unknown>, () => identity);
  const model = resumed?.model ?? createModel(engine, o.model, input, o.seed);
  const split = splitRows(data.train.n, { valSplit: o.valSplit, trainSubset: o.trainSubset, seed: o.seed });
  const indices = split.trainIdx;
  const val = split.val.length > 0 ? takeExamples(data.train, split.val, `${data.train.name}/validation`) : undefined;
  const save = o.save ?? 'last';
  const augment = o.augment ? { pad: 4, flip: data.train.channels === 3, padValue: data.normalisation.mean.map((m, c) => -m / data.normalisation.std[c]) } : undefined;
  // Label noise changes what the model learns from, not the data it records (a distillation
  // from it uses the clean labels): the checkpoint's data identity is the clean set's.
  let trainData = data.train;
  let noiseNote = '';
  if (o.labelNoise !== undefined) {
    const pairs = o.noisePairs ? parseNoisePairs(o.noisePairs, data.train.numClasses) : undefined;
    const noisy = addLabelNoise(data.train.labels, indices, data.train.numClasses, { rate: o.labelNoise, pairs, seed: o.seed });
    trainData = { ...data.train, labels: noisy.labels };
    const moved = noisy.flipped.map((n, c) => [c, n]).filter(([, n]) => n > 0);
    noiseNote = `; label noise ${o.labelNoise}${o.noisePairs ? ` on pairs ${o.noisePairs}` : ' to random other classes'}: relabelled ${moved.reduce((s, [, n]) => s + n, 0)} (${moved.map(([c, n]) => `class ${c}: ${n}`).join(', ')})`;
  }
  if (o.metrics && !resumed) writeFileSync(o.metrics, '');
  const log = (rec: Record<string, unknown>) => o.metrics && appendFileSync(o.metrics, JSON.stringify(rec) + '\n');
  out(`training ${o.model} (${model.store.count().toLocaleString('en-US')} parameters) on ${describeSpec(spec)}: ${data.train.channels}x${data.train.height}x${data.train.width}, ${data.train.numClasses} classes, ${data.train.n} examples (${indices.length} trained on, ${split.val.length} held out for validation), ${o.epochs} epochs of ${Math.ceil(indices.length / o.batchSize)} steps, batch ${o.batchSize}, adapter ${engine.adapterName}${noiseNote}`);
  let lastSaved = 0;
  if (resumed?.state) {
    lastSaved = resumed.state.epoch;
    out(`resuming from ${o.out} after epoch ${lastSaved} (step ${resumed.state.optimizer.step})`);
  }
  const started = performance.now();
  const progress = new RunProgress(o.progress, o.epochs, 'building the GPU pipelines', engine, out);
  try {
    const result = await train(
      engine,
      model,
      trainData,
      { epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, optimizer: optimizerRule(o), schedule: o.schedule, seed: o.seed, indices, augment, val, test: data.test, resume: resumed?.state, stopAfter: o.stopAfter, divergenceCheck: o.divergenceCheck ?? true },
      {
        onProgress: (p) => {
          progress.step(p);
          log({ event: 'step', epoch: p.epoch, step: p.globalStep, loss: p.loss, train_acc: p.accuracy, lr: p.learningRate, samples_per_s: p.samplesPerSecond });
        },
        onEpoch: async (r, state) => {
          progress.epochEnd();
          const last = r.testAccuracy ?? 0;
          const chosen = r.valAccuracy === null ? '' : `, validation ${pct(r.valAccuracy)} (test at best validation ${pct(r.testAtBestVal)}, epoch ${r.bestValEpoch})`;
          out(`epoch ${r.epoch}/${o.epochs}: train loss ${r.trainLoss.toFixed(4)}, test accuracy ${pct(last)}${chosen}, ${r.samplesPerSecond.toFixed(0)} samples/s`);
          log({ event: 'epoch', epoch: r.epoch, test_acc: last, val_acc: r.valAccuracy, test_at_best_val: r.testAtBestVal, best_val_epoch: r.bestValEpoch, test_loss: r.testLoss, seconds: r.seconds });
          // --save best: only an epoch that is the best on validation so far replaces --out.
          if (o.out && (save === 'last' || r.bestValEpoch === r.epoch)) {
            await saveModel(o.out, model, { model: o.model, input, dataset: spec.kind, data: identity, normalisation: data.normalisation, seed: o.seed, epoch: r.epoch, testAccuracy: last, command: { ...o } }, await state());
            lastSaved = r.epoch;
          }
        },
      },
    );
    const chosen = result.bestVal === null ? '' : `, test at best validation ${pct(result.testAtBestVal)} (validation ${pct(result.bestVal)})`;
    const saved = o.out ? `; saved ${o.out} (${save === 'best' ? `epoch ${lastSaved}, the best on validation` : `epoch ${lastSaved}, the last`})` : '';
    out(`done in ${((performance.now() - started) / 1000).toFixed(0)} s: last ${pct(result.last)}${chosen}${saved}`);
    return { last: result.last, testAtBestVal: result.testAtBestVal, bestVal: result.bestVal };
  } catch (e) {
    progress.stop();
    throw new Error(`${(e as Error).message}; training stopped. ${checkpointState(o.out, lastSaved)}`);
  } finally {
    model.store.destroy();
  }
}

export async function runEval(engine: Engine, path: string, opts: DataOptions & { model?: string }, out: (s: string) => void): Promise<number> {
  const { model, config } = await loadWeights(engine, path, opts.model);
  try {
    // The data the checkpoint records, unless the options name other data.
    const spec = specFromOptions(opts, specOfCheckpoint(config, path));
    const data = await loadDatasetSpec(spec, config.normalisation, undefined, (train) => checkModelFitsData(`${path} (${config.model})`, config.input, train, spec));
    const r = await evaluate(model, data.test);
    if (!Number.isFinite(r.loss)) throw new Error(`${path}: ${config.model}'s loss on the test set is ${r.loss}: its weights overflow float32 arithmetic (saved from a diverged run?)`);
    out(`${path}: ${config.model} on ${describeSpec(spec)} test: accuracy ${(100 * r.accuracy).toFixed(2)}%, loss ${r.loss.toFixed(4)}`);
    return r.accuracy;
  } finally {
    model.store.destroy();
  }
}
