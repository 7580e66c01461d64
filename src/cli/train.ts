// `kdgpu train` and `kdgpu eval`: supervised training with a progress bar, per-epoch test accuracy,
// JSON-lines metrics and atomic safetensors checkpoints.

import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { RunProgress } from './progress.js';
import type { Engine } from '../gpu/engine.js';
import { allIndices, trainSubset } from '../data/batches.js';
import { createModel, type InputSpec } from '../nn/models.js';
import { IDENTITY_FIELDS, optimizerRule, type RunOptionValues } from '../options.js';
import { flagAttribute, flagOf } from './run-options.js';
import { evaluate, train } from '../train.js';
import type { ModelConfig, RestoredModel } from '../nn/checkpoint.js';
import { loadModel, loadWeights, saveModel } from '../nn/checkpoint-file.js';
import { loadDatasetSpec } from '../data/load-dataset.js';
import { checkRunPaths } from './preflight.js';
import { checkModelFitsData, dataIdentity, describeSpec, specFromOptions, specOfCheckpoint, type DataOptions } from './data-options.js';

/** The declared training options (src/options.ts), with what only the command line has: the model, files and switches. */
export interface TrainOptions extends DataOptions, Pick<RunOptionValues, 'epochs' | 'batchSize' | 'lr' | 'optimizer' | 'momentum' | 'nesterov' | 'weightDecay' | 'schedule' | 'seed' | 'trainSubset' | 'testSubset' | 'augment' | 'stopAfter'> {
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
 * declared identity fields, and the model, teacher and data the command line names.
 */
export const RUN_IDENTITY = ['model', 'teacher', 'teacherLogits', 'teacherTestLogits', 'dataset', ...IDENTITY_FIELDS];

/**
 * The checkpoint to resume from, if --resume and it exists; refuses one written by a different run
 * (naming the option that differs).
 */
export async function resumePoint(engine: Engine, o: { out?: string; resume?: boolean } & Record<string, unknown>): Promise<RestoredModel | null> {
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

/** Everything checked before a training run reads data or writes a file (see preflight.ts). */
/** The data `kdgpu train` reads: the options', fashion-mnist by default. */
export function trainSpec(o: TrainOptions) {
  return specFromOptions(o, { kind: 'fashion-mnist' });
}

export function checkTrainOptions(o: TrainOptions): void {
  checkRunPaths({ ...o, dataset: o.dataset ?? 'fashion-mnist', datasetSpec: trainSpec(o) });
}

export async function runTrain(engine: Engine, o: TrainOptions, out: (s: string) => void): Promise<{ best: number; last: number }> {
  checkTrainOptions(o);
  const spec = trainSpec(o);
  const data = await loadDatasetSpec(spec, undefined, o.testSubset);
  const identity = dataIdentity(spec, data);
  const input: InputSpec = { channels: data.train.channels, height: data.train.height, width: data.train.width, classes: data.train.numClasses };
  const resumed = await resumePoint(engine, o as TrainOptions & Record<string, unknown>);
  const model = resumed?.model ?? createModel(engine, o.model, input, o.seed);
  const indices = o.trainSubset ? trainSubset(allIndices(data.train.n), o.trainSubset, o.seed) : allIndices(data.train.n);
  const augment = o.augment ? { pad: 4, flip: data.train.channels === 3, padValue: data.normalisation.mean.map((m, c) => -m / data.normalisation.std[c]) } : undefined;
  if (o.metrics && !resumed) writeFileSync(o.metrics, '');
  const log = (rec: Record<string, unknown>) => o.metrics && appendFileSync(o.metrics, JSON.stringify(rec) + '\n');
  out(`training ${o.model} (${model.store.count().toLocaleString('en-US')} parameters) on ${describeSpec(spec)}: ${data.train.channels}x${data.train.height}x${data.train.width}, ${data.train.numClasses} classes, ${indices.length} examples, ${o.epochs} epochs of ${Math.ceil(indices.length / o.batchSize)} steps, batch ${o.batchSize}, adapter ${engine.adapterName}`);
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
      data.train,
      { epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, optimizer: optimizerRule(o), schedule: o.schedule, seed: o.seed, indices, augment, test: data.test, resume: resumed?.state, stopAfter: o.stopAfter, divergenceCheck: o.divergenceCheck ?? true },
      {
        onProgress: (p) => {
          progress.step(p);
          log({ event: 'step', epoch: p.epoch, step: p.globalStep, loss: p.loss, train_acc: p.accuracy, lr: p.learningRate, samples_per_s: p.samplesPerSecond });
        },
        onEpoch: async (r, state) => {
          progress.epochEnd();
          const last = r.testAccuracy ?? 0;
          out(`epoch ${r.epoch}/${o.epochs}: train loss ${r.trainLoss.toFixed(4)}, test accuracy ${(100 * last).toFixed(2)}% (best ${(100 * r.bestTestAccuracy).toFixed(2)}%), ${r.samplesPerSecond.toFixed(0)} samples/s`);
          log({ event: 'epoch', epoch: r.epoch, test_acc: last, best_test_acc: r.bestTestAccuracy, test_loss: r.testLoss, seconds: r.seconds });
          if (o.out) {
            await saveModel(o.out, model, { model: o.model, input, dataset: spec.kind, data: identity, normalisation: data.normalisation, seed: o.seed, epoch: r.epoch, testAccuracy: last, command: { ...o } }, await state());
            lastSaved = r.epoch;
          }
        },
      },
    );
    out(`done in ${((performance.now() - started) / 1000).toFixed(0)} s: best ${(100 * result.best).toFixed(2)}%, last ${(100 * result.last).toFixed(2)}%${o.out ? `; saved ${o.out}` : ''}`);
    return { best: result.best, last: result.last };
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
    out(`${path}: ${config.model} on ${describeSpec(spec)} test: accuracy ${(100 * r.accuracy).toFixed(2)}%, loss ${r.loss.toFixed(4)}`);
    return r.accuracy;
  } finally {
    model.store.destroy();
  }
}
