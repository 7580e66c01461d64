// The training loop, the one every trainer in kdgpu uses (`kdgpu train`, distill(), the browser
// worker), and evaluation. A step records forward, the loss (a plug-in: cross-entropy, or the
// fused KD/DKD kernel), backward and the optimizer update into the engine's current command
// encoder; its only host work is uploading the batch's plan, labels and rows (which submits the
// previous step): the pixels are gathered, normalised and augmented on the GPU from the dataset's
// stored values, resident there when they fit (device-images.ts). Loss and accuracy are summed on
// the GPU and read every few steps, never inside a step.

import type { Engine } from './gpu/engine.js';
import type { KernelDef, Variant } from './gpu/kernel.js';
import { hasQuickTwin, quickVariants } from './kernels/gemm.js';
import { reduceAxis } from './kernels/reduce.js';
import { finiteCheck, HEALTHY } from './kernels/finite.js';
import type { Binding } from './gpu/engine.js';
import type { ParameterStore } from './nn/parameters.js';
import { softmaxCrossEntropyLoss } from './autograd.js';
import type { Model } from './nn/models.js';
import { Optimizer, scheduleFor, type OptimizerRule, type ScheduleKind } from './optim/optimizer.js';
import { Graph, type Tensor } from './tensor.js';
import { Batcher, type Batch } from './data/batches.js';
import { exampleSize, type Dataset } from './data/dataset.js';
import { DeviceImages } from './device-images.js';
import type { AugmentOptions } from './data/augment.js';
import type { TrainingState } from './nn/model-checkpoint.js';

/** Running sums of loss and correct predictions, kept on the GPU. */
export class GpuMetrics {
  private sums: GPUBuffer;
  private count = 0;

  constructor(private engine: Engine) {
    // [loss sum, correct sum] at offsets 0 and 256 bytes (each bindable on its own).
    this.sums = engine.upload(new Float32Array(128), 'metrics');
  }

  /** Add a batch's per-sample loss and correct flags (no readback). */
  add(loss: Tensor | null, correct: Tensor, batch: number): void {
    if (loss) reduceAxis(this.engine, loss.data, { buffer: this.sums, offset: 0, size: 4 }, [batch], 0, 'sum', true);
    reduceAxis(this.engine, correct.data, { buffer: this.sums, offset: 256, size: 4 }, [batch], 0, 'sum', true);
    this.count += batch;
  }

  /** Read the means so far and reset (one host sync). */
  async take(): Promise<{ loss: number; accuracy: number; samples: number }> {
    const raw = await this.engine.readF32(this.sums, 65);
    const n = this.count;
    this.engine.write(this.sums, new Float32Array(128));
    this.count = 0;
    return { loss: raw[0] / Math.max(1, n), accuracy: raw[64] / Math.max(1, n), samples: n };
  }

  destroy(): void {
    this.engine.release(this.sums);
  }
}

/** A loss, gradient or parameter became Inf/NaN (or, see DivergenceCheck, the loss diverged). */
export class NumericalFault extends Error {
  constructor(
    readonly step: number,
    readonly tensor: string,
    readonly detail = 'became Inf or NaN',
  ) {
    super(`numerical fault at step ${step}: ${tensor} ${detail}`);
    this.name = 'NumericalFault';
  }
}

/**
 * When the running loss counts as diverged although it is finite (Adam at --lr 1000 reaches a
 * loss of 1e12 without an Inf): above `factor` times the reference, the smaller of its first
 * reading and ln(classes) (a uniform guess's cross-entropy, so a run that is already diverging at
 * its first reading is caught too), and above `floor`. A healthy run's loss stays within a few
 * times ln(classes), KD's T²-scaled terms included.
 */
export const DIVERGENCE = { factor: 1e4, floor: 1e4 } as const;

/**
 * Divergence without Inf/NaN, from the running loss the host already reads every few steps (no
 * readback of its own): observe() throws a NumericalFault naming the step.
 */
export class DivergenceCheck {
  private reference: number | null = null;

  constructor(
    private classes: number,
    readonly enabled = true,
  ) {}

  /** `loss`: the running mean loss read at optimizer step `step`. */
  observe(loss: number, step: number): void {
    // An Inf/NaN loss is a divergence whatever the check's setting (the per-step values can each
    // be finite while their running sum overflows).
    if (!Number.isFinite(loss)) throw new NumericalFault(step, `the running loss (${loss})`, 'is not finite: the run diverged; lower the learning rate');
    if (!this.enabled) return;
    this.reference ??= Math.min(loss, Math.log(this.classes));
    const limit = Math.max(DIVERGENCE.floor, DIVERGENCE.factor * this.reference);
    if (loss > limit) {
      throw new NumericalFault(
        step,
        `the running loss (${loss.toPrecision(3)})`,
        `exceeds the divergence limit ${limit.toPrecision(3)} (${DIVERGENCE.factor} × ${this.reference.toPrecision(3)}, the smaller of its first reading and ln ${this.classes}; at least ${DIVERGENCE.floor}): the run diverged; ` +
          'lower the learning rate, or turn the divergence check off to let it continue',
      );
    }
  }
}

/**
 * Inf/NaN detection on the GPU: each step checks the loss, the logits' gradient, the parameter
 * gradients and the parameters into a 4-u32 record; the optimizer skips its update once the
 * record holds a fault (so the parameters stay those of the last good step), and the host reads
 * the record only when it reads its metrics.
 */
export class NumericGuard {
  readonly health: GPUBuffer;
  private names: string[] = [''];

  constructor(
    private engine: Engine,
    private store: ParameterStore,
  ) {
    this.health = engine.upload(HEALTHY, 'health');
  }

  private id(name: string): number {
    let i = this.names.indexOf(name);
    if (i < 0) i = this.names.push(name) - 1;
    return i;
  }

  check(x: Binding, n: number, step: number, name: string): void {
    finiteCheck(this.engine, x, n, this.health, step, this.id(name));
  }

  /** Throw NumericalFault naming the step and the first bad tensor, if one was recorded. */
  async verify(): Promise<void> {
    const [flag, step, id, index] = new Uint32Array(await this.engine.read(this.health, 16));
    if (!flag) return;
    let tensor = this.names[id] ?? `tensor #${id}`;
    if (tensor === 'gradients' || tensor === 'parameters') {
      const e = this.store.entries.find((p) => p.trainable && index >= p.offset && index < p.offset + p.size);
      tensor = e ? `${tensor === 'gradients' ? 'the gradient of' : 'the parameter'} ${e.name} (element ${index - e.offset})` : `${tensor} (element ${index})`;
    } else {
      tensor = `the ${tensor} (element ${index})`;
    }
    throw new NumericalFault(step, tensor);
  }

  destroy(): void {
    this.engine.release(this.health);
  }
}

/** GPU buffers for one batch of inputs, allocated once for the largest batch. */
export class BatchBuffers {
  readonly images: GPUBuffer;
  readonly labels: GPUBuffer;
  /** The batch's dataset rows (u32), for losses that look up per-sample state (teacher logits, a mask). */
  readonly rows: GPUBuffer;

  constructor(
    private engine: Engine,
    readonly batchSize: number,
    readonly exampleFloats: number,
  ) {
    this.images = engine.alloc(batchSize * exampleFloats * 4, 'batch-images');
    this.labels = engine.alloc(batchSize * 4, 'batch-labels');
    this.rows = engine.alloc(batchSize * 4, 'batch-rows');
  }

  /**
   * A filled batch (Batcher.fill) gathered from `source` on the GPU: its labels and rows uploaded
   * (this submits whatever was recorded before), its images gathered into this.images.
   */
  load(source: DeviceImages, batch: Batch): void {
    this.engine.write(this.labels, batch.labels.subarray(0, batch.size));
    this.engine.write(this.rows, batch.indices.subarray(0, batch.size));
    source.gather(batch, this.images);
  }

  /** Upload a batch of model inputs computed on the host (this submits whatever was recorded before); `rows` when a loss needs them. */
  upload(images: Float32Array, labels: Uint32Array, size: number, rows?: Uint32Array): void {
    this.engine.write(this.images, images.subarray(0, size * this.exampleFloats));
    this.engine.write(this.labels, labels.subarray(0, size));
    if (rows) this.engine.write(this.rows, rows.subarray(0, size));
  }

  destroy(): void {
    this.engine.release(this.images);
    this.engine.release(this.labels);
    this.engine.release(this.rows);
  }
}

/** What a loss sees of one step. */
export interface StepInput {
  g: Graph;
  /** The model's output [size, classes]. */
  logits: Tensor;
  /** Labels [size] and dataset rows [size] of the batch (u32). */
  labels: GPUBuffer;
  rows: GPUBuffer;
  size: number;
  /** The optimizer step this is (1-based) and the epoch (0-based). */
  step: number;
  epoch: number;
}

/** What a loss records: per-sample loss and correct flags, and the logits' gradient, seeded on the graph. */
export interface StepLossResult {
  loss: Tensor;
  correct: Tensor;
  grad: Binding;
}

/** A training loss, recorded into the step's graph (no readback). */
export type StepLoss = (s: StepInput) => StepLossResult;

/** Cross-entropy with its gradient, fused (the default loss). */
export const crossEntropyLoss: StepLoss = ({ g, logits, labels }) => {
  const { loss, correct } = softmaxCrossEntropyLoss(g, logits, { buffer: labels });
  return { loss, correct, grad: logits.grad! };
};

/**
 * Record one training step on an uploaded batch of `size` examples: forward, the loss (fused with
 * its gradient), backward, optimizer update, and the GPU-side Inf/NaN checks.
 */
export function trainStep(model: Model, optimizer: Optimizer, batch: BatchBuffers, size: number, metrics: GpuMetrics, guard?: NumericGuard, loss: StepLoss = crossEntropyLoss, epoch = 0): void {
  const engine = model.store.engine;
  const { channels, height, width } = model.input;
  const step = optimizer.stepCount + 1;
  const g = new Graph(engine);
  const x = g.input(batch.images, [size, channels, height, width]);
  const logits = model.forward(g, x);
  const r = loss({ g, logits, labels: batch.labels, rows: batch.rows, size, step, epoch });
  metrics.add(r.loss, r.correct, size);
  guard?.check(r.loss.data, size, step, 'loss');
  guard?.check(r.grad, logits.size, step, 'gradient of the logits');
  g.backward();
  guard?.check(model.store.buffers.grads, model.store.paramFloats, step, 'gradients');
  optimizer.step();
  guard?.check(model.store.buffers.params, model.store.paramFloats, step, 'parameters');
  g.release();
}

export interface BatchPass {
  g: Graph;
  /** The batch's input [size, C, H, W]. */
  x: Tensor;
  batch: Batch;
  bufs: BatchBuffers;
  /** Batch number, and the offset of its first row among the rows asked for. */
  index: number;
  offset: number;
}

/** Batch size of evaluation passes (forEachBatch, evaluate) unless told otherwise. */
export const EVAL_BATCH = 500;

/**
 * The kernel variants of `model`'s training steps and evaluation passes at the given batch sizes
 * (a run has at most two of each: full batches and the last, partial one; `batchSizes` below says
 * which), for Engine.prepare(). Found by recording the passes (forward, cross-entropy and, for
 * training, backward) once inside Engine.plan(), where nothing is dispatched. A loss plug-in's and
 * the optimizer's kernels are small; they are built at first use.
 */
export function modelKernels(model: Model, sizes: { train?: number[]; eval?: number[] }): Array<[KernelDef, Variant]> {
  const engine = model.store.engine;
  const { channels, height, width } = model.input;
  const passes = [...(sizes.train ?? []).map((n) => [n, true] as const), ...(sizes.eval ?? []).map((n) => [n, false] as const)];
  const most = Math.max(1, ...passes.map(([n]) => n));
  const images = engine.alloc(most * channels * height * width * 4, 'plan-images');
  const labels = engine.alloc(most * 4, 'plan-labels');
  const wasTraining = model.net.training;
  try {
    return engine.plan(() => {
      for (const [size, training] of passes) {
        model.net.train(training);
        const g = new Graph(engine, training);
        softmaxCrossEntropyLoss(g, model.forward(g, g.input(images, [size, channels, height, width])), { buffer: labels });
        if (training) g.backward();
        g.release();
      }
    });
  } finally {
    model.net.train(wasTraining);
    engine.release(images);
    engine.release(labels);
  }
}

/**
 * Build a run's pipelines ahead of its first step: every small kernel and the quick twins of its
 * GEMM variants (4-row blocks) now, all in parallel; the planned GEMM variants when the returned
 * function is called (in the background). Until each arrives, the kernels dispatch its quick
 * twin (tilingNow: same results). train() starts them after its first step, in runs of 100 steps
 * or more: on a CPU adapter the big pipelines take seconds of both cores, which the first step
 * would otherwise wait behind, and which a run of a few steps would never earn back.
 */
export async function prepareRun(engine: Engine, wanted: Array<[KernelDef, Variant]>): Promise<() => void> {
  const plan = wanted.filter(([def, v]) => !engine.built(def, v));
  await engine.prepare([...plan.filter(([, v]) => !hasQuickTwin(v)), ...quickVariants(plan)]);
  const later = plan.filter(([, v]) => hasQuickTwin(v));
  return () => void engine.prepare(later, { background: true });
}

/** Runs of at least this many steps build their planned pipelines (see prepareRun). */
const LONG_RUN_STEPS = 100;

/** The batch sizes of passes over `rows` rows in batches of `batch`: full ones, and the last. */
export function batchSizes(rows: number, batch: number): number[] {
  return [...new Set([Math.min(rows, batch), rows % batch].filter((n) => n > 0))];
}

/**
 * Eval-mode forward passes over `data` (rows `indices`, in order; default all) in batches: `each`
 * records what it needs on the batch's graph (it calls model.forward itself, with a tap if it
 * wants features), which is released after. The one batched inference loop: evaluation, data
 * selection and the teacher cache use it.
 */
export function forEachBatch(
  model: Model,
  data: Dataset,
  opts: { indices?: Uint32Array; batchSize?: number; augment?: AugmentOptions; seed?: number; epoch?: number; images?: DeviceImages },
  each: (p: BatchPass) => void,
): void {
  const engine = model.store.engine;
  const batchSize = opts.batchSize ?? EVAL_BATCH;
  const wasTraining = model.net.training;
  model.net.train(false);
  const batcher = new Batcher(data, { batchSize, seed: opts.seed ?? 0, shuffle: false, indices: opts.indices, augment: opts.augment });
  const bufs = new BatchBuffers(engine, batchSize, exampleSize(data));
  const own = !opts.images || opts.images.dataset !== data || opts.augment !== undefined;
  const images = own ? new DeviceImages(engine, data, batcher.padValue, { rows: opts.indices }) : opts.images!;
  try {
    batcher.startEpoch(opts.epoch ?? 0);
    for (let b = 0; b < batcher.batchesPerEpoch; b++) {
      const batch = batcher.fill(b);
      bufs.load(images, batch);
      const g = new Graph(engine, false);
      const x = g.input(bufs.images, [batch.size, data.channels, data.height, data.width]);
      each({ g, x, batch, bufs, index: b, offset: b * batchSize });
      g.release();
    }
  } finally {
    bufs.destroy();
    if (own) images.destroy();
    model.net.train(wasTraining);
  }
}

/**
 * Top-1 accuracy (and mean loss) of `model` on `data`, in eval mode; one readback at the end.
 * `images`: the data already on the device (a caller that evaluates every epoch keeps it there).
 */
export async function evaluate(model: Model, data: Dataset, batchSize = EVAL_BATCH, images?: DeviceImages): Promise<{ accuracy: number; loss: number }> {
  const metrics = new GpuMetrics(model.store.engine);
  try {
    forEachBatch(model, data, { batchSize, images }, ({ g, x, bufs, batch }) => {
      const { loss, correct } = softmaxCrossEntropyLoss(g, model.forward(g, x), { buffer: bufs.labels });
      metrics.add(loss, correct, batch.size);
    });
    const m = await metrics.take();
    return { accuracy: m.accuracy, loss: m.loss };
  } finally {
    metrics.destroy();
  }
}

// ---- the training loop --------------------------------------------------------------------------

export interface TrainLoopOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: OptimizerRule;
  schedule: ScheduleKind;
  /** Seeds the data order and augmentation (the model was initialised by its creator). */
  seed: number;
  /** The training rows of the dataset (default: all). */
  indices?: Uint32Array;
  augment?: AugmentOptions;
  /** Evaluated after every epoch: the model is chosen on `val`, and `test` is reported (either may be absent). */
  val?: Dataset | null;
  test?: Dataset | null;
  /** Steps between reads of the running loss (each is one host sync, never inside a step); default 20. The first step of a call is read too. */
  progressEvery?: number;
  /** Continue from this state (the weights are the model's own). */
  resume?: TrainingState;
  /** Stop after this many epochs in this call. */
  stopAfter?: number;
  /** Treat a finite loss that grows far beyond its start as a numerical fault (DivergenceCheck); default true. */
  divergenceCheck?: boolean;
  /**
   * Keep the training images resident on the device (true), upload each batch's (false), or
   * resident when they fit (absent: see residentFits). Batches are bit-identical either way.
   */
  resident?: boolean;
}

export interface TrainProgress {
  /** 1-based epoch and step within it. */
  epoch: number;
  step: number;
  stepsPerEpoch: number;
  /** Optimizer steps so far. */
  globalStep: number;
  loss: number;
  accuracy: number;
  samplesPerSecond: number;
  learningRate: number;
}

export interface EpochResult {
  /** 1-based. */
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  /** Null when there is no validation split. */
  valAccuracy: number | null;
  /** Null when there is no test set. */
  testAccuracy: number | null;
  testLoss: number | null;
  /** Test accuracy at the epoch of best validation accuracy so far (the last epoch without a validation split). */
  testAtBestVal: number;
  bestValEpoch: number;
  learningRate: number;
  seconds: number;
  samples: number;
  samplesPerSecond: number;
}

export interface TrainHooks {
  /** The loss (default: cross-entropy). */
  loss?: StepLoss;
  /** Before each epoch's steps (e.g. a data selection); may read back, it is between epochs. */
  beforeEpoch?: (epoch: number) => void | Promise<void>;
  /** Every `progressEvery` steps and at the end of an epoch. */
  onProgress?: (p: TrainProgress) => void;
  /** After each epoch's evaluation; `state()` reads what a checkpoint needs to resume (a few readbacks). */
  onEpoch?: (r: EpochResult, state: () => Promise<TrainingState>) => void | Promise<void>;
  /** Return true to stop after the current step. */
  shouldStop?: () => boolean;
  /** The caller's own state for checkpoints (numbers and tensors, e.g. a selection mask). */
  state?: () => Promise<Pick<TrainingState, 'extra' | 'tensors'>>;
}

export interface TrainResult {
  epochs: EpochResult[];
  last: number;
  testAtBestVal: number;
  bestVal: number | null;
}

/**
 * Train `model` on `data` for o.epochs epochs with the given loss (default cross-entropy):
 * shuffled batches (seeded), the optimizer and schedule, GPU-side Inf/NaN checks read with the
 * running loss every `progressEvery` steps, evaluation after each epoch, and the state a
 * checkpoint needs to resume bit-identically. Throws a NumericalFault naming the step on Inf/NaN
 * or divergence.
 */
export async function train(engine: Engine, model: Model, data: Dataset, o: TrainLoopOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  const loss = hooks.loss ?? crossEntropyLoss;
  const batcher = new Batcher(data, { batchSize: o.batchSize, seed: o.seed, indices: o.indices, augment: o.augment });
  const stepsPerEpoch = batcher.batchesPerEpoch;
  const guard = new NumericGuard(engine, model.store);
  const optimizer = new Optimizer(model.store, o.optimizer, o.lr, scheduleFor(o.schedule, stepsPerEpoch * o.epochs), guard.health);
  const bufs = new BatchBuffers(engine, o.batchSize, exampleSize(data));
  const images = new DeviceImages(engine, data, batcher.padValue, { resident: o.resident, rows: o.indices });
  // Evaluated every epoch: on the device for the whole run.
  const evalImages = new Map<Dataset, DeviceImages>();
  const evalOn = (d: Dataset) => {
    let im = evalImages.get(d);
    if (!im) evalImages.set(d, (im = new DeviceImages(engine, d)));
    return evaluate(model, d, EVAL_BATCH, im);
  };
  const metrics = new GpuMetrics(engine);
  const divergence = new DivergenceCheck(model.input.classes, o.divergenceCheck ?? true);
  const every = Math.max(1, o.progressEvery ?? 20);
  const buildRest = await prepareRun(
    engine,
    modelKernels(model, {
      train: batchSizes(o.indices?.length ?? data.n, o.batchSize),
      eval: [o.val, o.test].flatMap((d) => (d ? batchSizes(d.n, EVAL_BATCH) : [])),
    }),
  );

  // The checkpoint's training state keeps the maximum test accuracy (its format has the field);
  // nothing reports it or chooses by it.
  let best = 0;
  let last = 0;
  let bestVal = -1;
  let testAtBestVal = 0;
  let bestValEpoch = 0;
  let firstEpoch = 0;
  if (o.resume) {
    optimizer.writeState(o.resume.optimizer);
    ({ best, last, epoch: firstEpoch } = o.resume);
    const x = o.resume.extra ?? {};
    bestVal = x.bestVal ?? bestVal;
    testAtBestVal = x.testAtBestVal ?? last;
    bestValEpoch = x.bestValEpoch ?? firstEpoch;
  }
  const state = async (epoch: number): Promise<TrainingState> => {
    const own = (await hooks.state?.()) ?? {};
    return { epoch, best, last, optimizer: await optimizer.readState(), extra: { ...own.extra, bestVal, testAtBestVal, bestValEpoch }, tensors: own.tensors };
  };
  const epochs: EpochResult[] = [];
  const lastEpoch = Math.min(o.epochs, o.stopAfter ? firstEpoch + o.stopAfter : o.epochs);
  try {
    for (let epoch = firstEpoch; epoch < lastEpoch; epoch++) {
      await hooks.beforeEpoch?.(epoch);
      model.net.train(true);
      batcher.startEpoch(epoch);
      const started = performance.now();
      let seen = 0;
      let running = { loss: 0, accuracy: 0, samples: 0 };
      let stopped = false;
      for (let b = 0; b < stepsPerEpoch; b++) {
        const batch = batcher.fill(b);
        bufs.load(images, batch);
        trainStep(model, optimizer, bufs, batch.size, metrics, guard, loss, epoch);
        seen += batch.size;
        stopped = hooks.shouldStop?.() ?? false;
        // Also after the first step of the call: it compiles the run's pipelines, and a caller
        // showing progress wants to know when that is over.
        const first = epoch === firstEpoch && b === 0;
        if (b % every === every - 1 || b === stepsPerEpoch - 1 || stopped || first) {
          running = await metrics.take();
          // The planned pipelines cost seconds of CPU to build on a CPU adapter: worth it for a
          // run of some length, not for a few steps, which finish on the quick ones.
          if (first && stepsPerEpoch * (lastEpoch - firstEpoch) >= LONG_RUN_STEPS) buildRest();
          await guard.verify();
          divergence.observe(running.loss, optimizer.stepCount);
          hooks.onProgress?.({
            epoch: epoch + 1,
            step: b + 1,
            stepsPerEpoch,
            globalStep: optimizer.stepCount,
            loss: running.loss,
            accuracy: running.accuracy,
            samplesPerSecond: seen / ((performance.now() - started) / 1000),
            learningRate: optimizer.currentLr(),
          });
        }
        if (stopped) break;
      }
      const seconds = (performance.now() - started) / 1000;
      const valAccuracy = o.val ? (await evalOn(o.val)).accuracy : null;
      const test = o.test ? await evalOn(o.test) : null;
      if (test) {
        last = test.accuracy;
        best = Math.max(best, last);
      }
      // Model choice on the validation split (strictly better: the earliest epoch wins ties).
      if (valAccuracy === null || valAccuracy > bestVal) {
        bestVal = valAccuracy ?? -1;
        testAtBestVal = last;
        bestValEpoch = epoch + 1;
      }
      const r: EpochResult = {
        epoch: epoch + 1,
        trainLoss: running.loss,
        trainAccuracy: running.accuracy,
        valAccuracy,
        testAccuracy: test?.accuracy ?? null,
        testLoss: test?.loss ?? null,
        testAtBestVal,
        bestValEpoch,
        learningRate: optimizer.currentLr(),
        seconds,
        samples: seen,
        samplesPerSecond: seen / seconds,
      };
      epochs.push(r);
      await hooks.onEpoch?.(r, () => state(epoch + 1));
      if (stopped || hooks.shouldStop?.()) break;
    }
  } finally {
    metrics.destroy();
    guard.destroy();
    bufs.destroy();
    images.destroy();
    for (const im of evalImages.values()) im.destroy();
    optimizer.destroy();
  }
  return { epochs, last, testAtBestVal, bestVal: bestVal >= 0 ? bestVal : null };
}
