// `kdgpu train` and `kdgpu eval`: supervised training with a progress bar, per-epoch test accuracy,
// JSON-lines metrics and atomic safetensors checkpoints.

import { appendFileSync, writeFileSync } from 'node:fs';
import { epochBar } from './progress.js';
import type { Engine } from '../gpu/engine.js';
import { Batcher, allIndices, trainSubset } from '../data/batches.js';
import { exampleSize } from '../data/dataset.js';
import { createModel, type InputSpec, type Model } from '../nn/models.js';
import { Optimizer, type OptimizerRule, type Schedule } from '../optim/optimizer.js';
import { BatchBuffers, GpuMetrics, NumericGuard, evaluate, trainStep } from '../train.js';
import { encodeCheckpoint } from '../io/checkpoint.js';
import { loadCheckpoint, saveCheckpointAtomic } from '../io/checkpoint-file.js';
import { loadDataset, type Normalisation } from './datasets.js';

export interface TrainOptions {
  model: string;
  dataset: string;
  dataDir?: string;
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
  augment: boolean;
  metrics?: string;
  progress: boolean;
}

/** What a checkpoint's `config` records: enough to rebuild the model and its input pipeline. */
export interface ModelConfig {
  model: string;
  input: InputSpec;
  dataset: string;
  normalisation: Normalisation;
  seed: number;
  epoch?: number;
  testAccuracy?: number;
  command?: Partial<TrainOptions>;
}

export function optimizerRule(o: Pick<TrainOptions, 'optimizer' | 'momentum' | 'nesterov' | 'weightDecay'>): OptimizerRule {
  if (o.optimizer === 'sgd') return { kind: 'sgd', momentum: o.momentum, nesterov: o.nesterov, weightDecay: o.weightDecay };
  return { kind: 'adam', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: o.weightDecay, decoupled: o.optimizer === 'adamw' };
}

export function schedule(kind: TrainOptions['schedule'], totalSteps: number): Schedule {
  if (kind === 'cosine') return { kind: 'cosine', totalSteps };
  if (kind === 'step') return { kind: 'step', milestones: [0.5, 0.75].map((f) => Math.round(f * totalSteps)), gamma: 0.1 };
  return { kind: 'constant' };
}

export async function saveModel(path: string, model: Model, config: ModelConfig): Promise<void> {
  const values = await model.store.read();
  const bytes = encodeCheckpoint({ model: model.name, config, tensors: values, extraMetadata: { format: 'kdgpu-1' } });
  await saveCheckpointAtomic(path, bytes);
}

/** Load a checkpoint into a freshly built model of the recorded name; refuses mismatched shapes. */
export async function loadModel(engine: Engine, path: string, expectName?: string): Promise<{ model: Model; config: ModelConfig; hash: string }> {
  const ck = await loadCheckpoint(path);
  const config = ck.config as ModelConfig;
  if (!config || typeof config !== 'object' || !config.input || !config.model) {
    throw new Error(`${path}: config: expected a kdgpu model config with "model" and "input", found ${JSON.stringify(ck.config).slice(0, 120)}`);
  }
  if (expectName && config.model !== expectName) {
    throw new Error(`${path}: holds a "${config.model}" model, expected "${expectName}"`);
  }
  const model = createModel(engine, config.model, config.input, config.seed ?? 0);
  const expected = new Map(model.store.entries.map((e) => [e.name, e.shape]));
  for (const [name, shape] of expected) {
    const t = ck.tensors.get(name);
    if (!t) throw new Error(`${path}: tensor "${name}" of model "${config.model}" is missing from the checkpoint`);
    if (t.shape.join(',') !== shape.join(',')) {
      throw new Error(`${path}: tensor "${name}" has shape [${t.shape.join(', ')}], model "${config.model}" expects [${shape.join(', ')}]`);
    }
  }
  for (const name of ck.tensors.keys()) {
    if (!expected.has(name)) throw new Error(`${path}: tensor "${name}" is not part of model "${config.model}"`);
  }
  model.store.write(new Map([...ck.tensors].map(([k, v]) => [k, v.data])));
  return { model, config, hash: ck.metadata.content_sha256 };
}

/** What a user needs to hear about their checkpoint when a run stops early. */
export function checkpointState(path: string | undefined, lastSavedEpoch: number): string {
  if (!path) return 'No checkpoint was requested (--out).';
  return lastSavedEpoch > 0 ? `${path} holds the last good checkpoint (epoch ${lastSavedEpoch}), untouched.` : `No checkpoint had been written to ${path} yet.`;
}

export async function runTrain(engine: Engine, o: TrainOptions, out: (s: string) => void): Promise<{ best: number; last: number }> {
  const data = await loadDataset(o.dataset, o.dataDir);
  const input: InputSpec = { channels: data.train.channels, height: data.train.height, width: data.train.width, classes: data.train.numClasses };
  const model = createModel(engine, o.model, input, o.seed);
  const indices = o.trainSubset ? trainSubset(allIndices(data.train.n), o.trainSubset, o.seed) : allIndices(data.train.n);
  const augment = o.augment ? { pad: 4, flip: data.train.channels === 3, padValue: data.normalisation.mean.map((m, c) => -m / data.normalisation.std[c]) } : undefined;
  const batcher = new Batcher(data.train, { batchSize: o.batch, seed: o.seed, indices, augment });
  const steps = batcher.batchesPerEpoch * o.epochs;
  const guard = new NumericGuard(engine, model.store);
  const optimizer = new Optimizer(model.store, optimizerRule(o), o.lr, schedule(o.schedule, steps), guard.health);
  const bufs = new BatchBuffers(engine, o.batch, exampleSize(data.train));
  const metrics = new GpuMetrics(engine);
  if (o.metrics) writeFileSync(o.metrics, '');
  const log = (rec: Record<string, unknown>) => o.metrics && appendFileSync(o.metrics, JSON.stringify(rec) + '\n');
  out(`training ${o.model} (${model.store.count().toLocaleString('en-US')} parameters) on ${o.dataset}: ${indices.length} examples, ${o.epochs} epochs of ${batcher.batchesPerEpoch} steps, batch ${o.batch}, adapter ${engine.adapterName}`);

  let best = 0;
  let last = 0;
  let lastSaved = 0;
  const started = performance.now();
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    model.net.train(true);
    batcher.startEpoch(epoch);
    const bar = epochBar(o.progress, `epoch ${epoch + 1}/${o.epochs}`, batcher.batchesPerEpoch);
    const epochStart = performance.now();
    let seen = 0;
    let running = { loss: 0, accuracy: 0 };
    for (let b = 0; b < batcher.batchesPerEpoch; b++) {
      const batch = batcher.fill(b);
      bufs.upload(batch.images, batch.labels, batch.size);
      trainStep(model, optimizer, bufs, batch.size, metrics, guard);
      seen += batch.size;
      if (b % 20 === 19 || b === batcher.batchesPerEpoch - 1) {
        running = await metrics.take();
        await guard.verify().catch((e) => {
          bar.stop();
          throw new Error(`${e.message}; training stopped. ${checkpointState(o.out, lastSaved)}`);
        });
        const rate = seen / ((performance.now() - epochStart) / 1000);
        bar.update(b + 1, running.loss, running.accuracy, rate);
        log({ event: 'step', epoch: epoch + 1, step: optimizer.stepCount, loss: running.loss, train_acc: running.accuracy, lr: optimizer.currentLr(), samples_per_s: rate });
      }
    }
    bar.stop();
    const test = await evaluate(model, data.test);
    last = test.accuracy;
    best = Math.max(best, last);
    const seconds = (performance.now() - epochStart) / 1000;
    out(
      `epoch ${epoch + 1}/${o.epochs}: train loss ${running.loss.toFixed(4)}, test accuracy ${(100 * last).toFixed(2)}% (best ${(100 * best).toFixed(2)}%), ${(seen / seconds).toFixed(0)} samples/s`,
    );
    log({ event: 'epoch', epoch: epoch + 1, test_acc: last, best_test_acc: best, test_loss: test.loss, seconds });
    if (o.out) {
      await saveModel(o.out, model, { model: o.model, input, dataset: o.dataset, normalisation: data.normalisation, seed: o.seed, epoch: epoch + 1, testAccuracy: last, command: o });
      lastSaved = epoch + 1;
    }
  }
  out(`done in ${((performance.now() - started) / 1000).toFixed(0)} s: best ${(100 * best).toFixed(2)}%, last ${(100 * last).toFixed(2)}%${o.out ? `; saved ${o.out}` : ''}`);
  metrics.destroy();
  guard.destroy();
  bufs.destroy();
  optimizer.destroy();
  model.store.destroy();
  return { best, last };
}

export async function runEval(engine: Engine, path: string, opts: { dataset?: string; dataDir?: string; model?: string }, out: (s: string) => void): Promise<number> {
  const { model, config } = await loadModel(engine, path, opts.model);
  const data = await loadDataset(opts.dataset ?? config.dataset, opts.dataDir, config.normalisation);
  const r = await evaluate(model, data.test);
  out(`${path}: ${config.model} on ${opts.dataset ?? config.dataset} test: accuracy ${(100 * r.accuracy).toFixed(2)}%, loss ${r.loss.toFixed(4)}`);
  model.store.destroy();
  return r.accuracy;
}
