// Supervised training and evaluation on the GPU. A step records forward, backward and the
// optimizer update into the engine's current command encoder; its only host work is uploading
// the batch (which submits the previous step). Loss and accuracy are summed on the GPU and read
// every few steps, never inside a step.

import type { Engine } from './gpu/engine.js';
import { reduceAxis } from './kernels/reduce.js';
import { finiteCheck, HEALTHY } from './kernels/finite.js';
import type { Binding } from './gpu/engine.js';
import type { ParameterStore } from './nn/parameters.js';
import { softmaxCrossEntropyLoss } from './autograd.js';
import type { Model } from './nn/models.js';
import type { Optimizer } from './optim/optimizer.js';
import { Graph, type Tensor } from './tensor.js';
import { Batcher } from './data/batches.js';
import { exampleSize, type Dataset } from './data/dataset.js';

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
    if (!this.enabled || !Number.isFinite(loss)) return; // Inf/NaN is NumericGuard's
    this.reference ??= Math.min(loss, Math.log(this.classes));
    const limit = Math.max(DIVERGENCE.floor, DIVERGENCE.factor * this.reference);
    if (loss > limit) {
      throw new NumericalFault(
        step,
        `the running loss (${loss.toPrecision(3)})`,
        `exceeds the divergence limit ${limit.toPrecision(3)} (${DIVERGENCE.factor} × ${this.reference.toPrecision(3)}, the smaller of its first reading and ln ${this.classes}; at least ${DIVERGENCE.floor}): the run diverged; ` +
          'lower --lr, or pass --no-divergence-check to let it continue',
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

  constructor(
    private engine: Engine,
    readonly batchSize: number,
    readonly exampleFloats: number,
  ) {
    this.images = engine.alloc(batchSize * exampleFloats * 4, 'batch-images');
    this.labels = engine.alloc(batchSize * 4, 'batch-labels');
  }

  /** Upload a host batch (this submits whatever was recorded before). */
  upload(images: Float32Array, labels: Uint32Array, size: number): void {
    this.engine.write(this.images, images.subarray(0, size * this.exampleFloats));
    this.engine.write(this.labels, labels.subarray(0, size));
  }

  destroy(): void {
    this.engine.release(this.images);
    this.engine.release(this.labels);
  }
}

/**
 * Record one cross-entropy training step on an uploaded batch of `size` examples:
 * forward, loss (fused with its gradient), backward, optimizer update.
 */
export function trainStep(model: Model, optimizer: Optimizer, batch: BatchBuffers, size: number, metrics: GpuMetrics, guard?: NumericGuard): void {
  const engine = model.store.engine;
  const { channels, height, width } = model.input;
  const step = optimizer.stepCount + 1;
  const g = new Graph(engine);
  const x = g.input(batch.images, [size, channels, height, width]);
  const logits = model.forward(g, x);
  const { loss, correct } = softmaxCrossEntropyLoss(g, logits, { buffer: batch.labels });
  metrics.add(loss, correct, size);
  guard?.check(loss.data, size, step, 'loss');
  guard?.check(logits.grad!, logits.size, step, 'gradient of the logits');
  g.backward();
  guard?.check(model.store.buffers.grads, model.store.paramFloats, step, 'gradients');
  optimizer.step();
  guard?.check(model.store.buffers.params, model.store.paramFloats, step, 'parameters');
  g.release();
}

/** Top-1 accuracy (and mean loss) of `model` on `data`, in eval mode; one readback at the end. */
export async function evaluate(model: Model, data: Dataset, batchSize = 500): Promise<{ accuracy: number; loss: number }> {
  const engine = model.store.engine;
  const wasTraining = model.net.training;
  model.net.train(false);
  const batcher = new Batcher(data, { batchSize, seed: 0, shuffle: false });
  const bufs = new BatchBuffers(engine, batchSize, exampleSize(data));
  const metrics = new GpuMetrics(engine);
  try {
    for (const b of batcher.epochBatches(0)) {
      bufs.upload(b.images, b.labels, b.size);
      const g = new Graph(engine, false);
      const x = g.input(bufs.images, [b.size, data.channels, data.height, data.width]);
      const { loss, correct } = softmaxCrossEntropyLoss(g, model.forward(g, x), { buffer: bufs.labels });
      metrics.add(loss, correct, b.size);
      g.release();
    }
    const m = await metrics.take();
    return { accuracy: m.accuracy, loss: m.loss };
  } finally {
    metrics.destroy();
    bufs.destroy();
    model.net.train(wasTraining);
  }
}
