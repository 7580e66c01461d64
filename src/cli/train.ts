// `kdgpu train` and `kdgpu eval`: supervised training with a progress bar, a validation split held
// out of the training set to choose the epoch (as distill does), per-epoch test accuracy, JSON-lines
// metrics and atomic safetensors checkpoints.

import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { RunProgress } from './progress.js';
import type { Engine } from '../gpu/engine.js';
import { takeExamples } from '../data/dataset.js';
import { splitRows } from '../kd/distill.js';
import { createModel, type InputSpec } from '../nn/models.js';
import type { OptimizerRule } from '../optim/optimizer.js';
import { evaluate, train } from '../train.js';
import type { DataIdentity, ModelConfig, RestoredModel } from '../nn/checkpoint.js';
import { loadModel, loadWeights, saveModel } from '../nn/checkpoint-file.js';
import { loadDatasetSpec } from './datasets.js';
import { addLabelNoise, parseNoisePairs } from '../data/label-noise.js';
import { checkRunFiles, claimRunFiles, runFiles, type RunFiles } from './preflight.js';
import { checkModelFitsData, dataIdentity, describeSpec, specFromOptions, specOfCheckpoint, type DataOptions } from './data-options.js';

export interface TrainOptions extends DataOptions {
  model: string;
  epochs: number;
  batch: number;
  lr: number;
  optimizer: 'sgd' | 'adam' | 'adamw';
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  schedule: 'constant' | 'cosine' | 'step';
  seed: number;
  out?: string;
  trainSubset?: number;
  testSubset?: number;
  /** Training samples held out to choose the epoch (default: 10%, at most 5,000; 0: none, the last epoch). */
  valSplit?: number;
  /** What --out holds at the end: the last epoch's model, or the one of the best validation accuracy. */
  save?: 'last' | 'best';
  augment: boolean;
  metrics?: string;
  progress: boolean;
  /** Continue from the checkpoint at --out (weights, optimizer state, epoch), if it exists. */
  resume?: boolean;
  /** Let a new run replace an existing checkpoint at --out (refused otherwise). */
  overwrite?: boolean;
  /** Stop when the running loss diverges without becoming Inf/NaN (see DivergenceCheck); default on. */
  divergenceCheck?: boolean;
  /** Stop after this many epochs in this invocation (continue later with --resume). */
  stopAfter?: number;
  /** Relabel this fraction of the training labels (a teacher that is wrong in a known way; see data/label-noise.ts). */
  labelNoise?: number;
  /** With labelNoise: the class pairs swapped, "a:b,c:d" (default: every class, to a random other). */
  noisePairs?: string;
}

/** Options that must be the same for --resume to continue a run rather than start another. */
export const RUN_IDENTITY = ['model', 'student', 'teacher', 'teacherLogits', 'teacherTestLogits', 'onnxLayout', 'onnxMean', 'onnxStd', 'onnxInputRange', 'method', 'dataset', 'epochs', 'batch', 'lr', 'optimizer', 'momentum', 'nesterov', 'weightDecay', 'schedule', 'seed', 'trainSubset', 'augment', 'valSplit', 'T', 'lambda1', 'lambda2', 'eta', 'lrScope', 'betaAtT1', 'dsRatio', 'dsRule', 'dsBalance', 'dsRestWeight', 'dsWarmupEpochs', 'dsWarmupLoss', 'dsEvery', 'dsHessian', 'dsDamping', 'dkdAlpha', 'dkdBeta', 'dkdWarmupEpochs', 'dsScore', 'ensembleMean', 'moreTeachers', 'labelNoise', 'noisePairs'];

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
    if (JSON.stringify(was[k]) !== JSON.stringify(o[k])) {
      r.model.store.destroy();
      throw new Error(`${o.out}: was written by a run with ${k} = ${JSON.stringify(was[k])}, this one has ${JSON.stringify(o[k])}: --resume continues the same run only`);
    }
  }
  return r;
}

export function optimizerRule(o: Pick<TrainOptions, 'optimizer' | 'momentum' | 'nesterov' | 'weightDecay'>): OptimizerRule {
  if (o.optimizer === 'sgd') return { kind: 'sgd', momentum: o.momentum, nesterov: o.nesterov, weightDecay: o.weightDecay };
  return { kind: 'adam', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: o.weightDecay, decoupled: o.optimizer === 'adamw' };
}

export type { ModelConfig };

export { saveModel, loadModel, loadWeights };

/** What a user needs to hear about their checkpoint when a run stops early. */
export function checkpointState(path: string | undefined, lastSavedEpoch: number): string {
  if (!path) return 'No checkpoint was requested (--out).';
  if (lastSavedEpoch > 0) return `${path} holds the last good checkpoint (epoch ${lastSavedEpoch}), untouched.`;
  return existsSync(path) ? `This run had not saved to ${path} yet: the file there is untouched.` : `No checkpoint had been written to ${path} yet.`;
}

/** Everything checked before a training run reads data or writes a file (see preflight.ts). */
/** The data `kdgpu train` reads: the options', fashion-mnist by default. */
export function trainSpec(o: TrainOptions) {
  return specFromOptions(o, { kind: 'fashion-mnist' });
}

export function checkTrainOptions(o: TrainOptions): RunFiles {
  if (o.noisePairs !== undefined && o.labelNoise === undefined) throw new Error('--noise-pairs goes with --label-noise (the fraction of labels to swap)');
  if (o.noisePairs !== undefined) {
    try {
      parseNoisePairs(o.noisePairs, Infinity);
    } catch (e) {
      throw new Error(`--noise-pairs ${(e as Error).message.replace(/^noise pairs: /, '')}`);
    }
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
  out(`training ${o.model} (${model.store.count().toLocaleString('en-US')} parameters) on ${describeSpec(spec)}: ${data.train.channels}x${data.train.height}x${data.train.width}, ${data.train.numClasses} classes, ${data.train.n} examples (${indices.length} trained on, ${split.val.length} held out for validation), ${o.epochs} epochs of ${Math.ceil(indices.length / o.batch)} steps, batch ${o.batch}, adapter ${engine.adapterName}${noiseNote}`);
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
      { epochs: o.epochs, batchSize: o.batch, lr: o.lr, optimizer: optimizerRule(o), schedule: o.schedule, seed: o.seed, indices, augment, val, test: data.test, resume: resumed?.state, stopAfter: o.stopAfter, divergenceCheck: o.divergenceCheck ?? true },
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
