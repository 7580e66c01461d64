// The one training loop, used directly: a model of your own built from the exported layers,
// trained with train() on small synthetic data of another shape (8×8, 3 classes), with a
// validation split choosing the model and a state that resumes bit-identically.
import { describe, expect, it } from 'vitest';
import { testEngine } from './engine.js';
import { Conv2d, defineModel, Flatten, Linear, MaxPool2d, ReLU, Sequential, train, type Dataset, type TrainLoopOptions, type TrainingState } from '../src/index.js';
import { createNodeEngine } from '../src/gpu/node.js';
import { createModel } from '../src/nn/models.js';
import { BatchBuffers, GpuMetrics, modelKernels, trainStep } from '../src/train.js';
import { Optimizer } from '../src/optim/optimizer.js';
import { hasQuickTwin } from '../src/kernels/gemm.js';
import { Rng } from '../src/util/rng.js';

/** 8×8 grey images of 3 classes: a bright bar in row band 0-2, 3-5 or 6-7, plus noise. */
function bars(n: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const images = new Float32Array(n * 64);
  const labels = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const y = rng.int(3);
    labels[i] = y;
    for (let p = 0; p < 64; p++) {
      const row = Math.floor(p / 8);
      const on = y === 0 ? row < 3 : y === 1 ? row >= 3 && row < 6 : row >= 6;
      images[i * 64 + p] = (on ? 0.8 : 0.1) + 0.3 * (rng.next() - 0.5);
    }
  }
  return { images, labels, n, channels: 1, height: 8, width: 8, numClasses: 3, name: `bars-${seed}` };
}

/** 28×28 noise with random labels of 10 classes (a student-cnn's input; only the pipelines matter). */
function noise28(n: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const labels = new Uint32Array(n).map(() => rng.int(10));
  return { images: rng.fillUniform(n * 784, 0, 1), labels, n, channels: 1, height: 28, width: 28, numClasses: 10, name: `noise-${seed}` };
}

const tiny = (engine: Awaited<ReturnType<typeof testEngine>>, seed: number) =>
  defineModel(engine, 'tiny-cnn', { channels: 1, height: 8, width: 8, classes: 3 }, seed, (store, rng, input) => ({
    body: new Sequential(new Conv2d(store, 'conv', rng, input.channels, 4, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2), new Flatten()),
    head: new Linear(store, 'fc', rng, 4 * 4 * 4, input.classes),
  }));

describe('train() with a model of your own', () => {
  const data = bars(600, 1);
  const val = bars(150, 2);
  const test = bars(300, 3);
  const o: TrainLoopOptions = { epochs: 3, batchSize: 32, lr: 0.05, optimizer: { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 0 }, schedule: 'cosine', seed: 1, val, test };

  it('learns 8×8, 3-class data far above chance; reports validation-chosen test accuracy', async () => {
    const engine = await testEngine();
    const model = tiny(engine, 1);
    const seen: number[] = [];
    const r = await train(engine, model, data, o, { onEpoch: (e) => void seen.push(e.epoch) });
    expect(seen).toEqual([1, 2, 3]);
    expect(r.last).toBeGreaterThan(0.8);
    const vals = r.epochs.map((e) => e.valAccuracy!);
    const best = vals.indexOf(Math.max(...vals));
    expect(r.testAtBestVal).toBe(r.epochs[best].testAccuracy);
    model.store.destroy();
  });

  it('stopping after an epoch and resuming from its state ends bit-identical to an uninterrupted run', async () => {
    const engine = await testEngine();
    const whole = tiny(engine, 7);
    await train(engine, whole, data, o);
    const part = tiny(engine, 7);
    let saved: TrainingState | null = null;
    await train(engine, part, data, { ...o, stopAfter: 1 }, { onEpoch: async (_e, state) => void (saved = await state()) });
    await train(engine, part, data, { ...o, resume: saved! });
    const a = await whole.store.read();
    const b = await part.store.read();
    for (const [k, v] of a) expect(Array.from(b.get(k)!.data)).toEqual(Array.from(v.data));
    whole.store.destroy();
    part.store.destroy();
  });

  it('a head that does not match the classes is refused by name', async () => {
    const engine = await testEngine();
    expect(() =>
      defineModel(engine, 'bad', { channels: 1, height: 8, width: 8, classes: 3 }, 1, (store, rng) => ({ body: new Sequential(new Flatten()), head: new Linear(store, 'fc', rng, 64, 10) })),
    ).toThrow(/model "bad": the head has 10 outputs, the data has 3 classes/);
  });
});

describe('pipelines built ahead of the first step', () => {
  it('Engine.plan notes what a step would dispatch without dispatching or reading; after prepare(), a step and an evaluation build no GEMM or conv pipeline', async () => {
    // A fresh engine: nothing built yet.
    const engine = await createNodeEngine({ log: () => {} });
    try {
      const model = createModel(engine, 'student-cnn', { channels: 1, height: 28, width: 28, classes: 10 }, 1);
      const dispatched = [...engine.dispatchCounts.values()].reduce((a, b) => a + b, 0);
      const submits = engine.submits;
      const plan = modelKernels(model, { train: [32], eval: [40] });
      expect([...engine.dispatchCounts.values()].reduce((a, b) => a + b, 0)).toBe(dispatched);
      expect(engine.submits).toBe(submits);
      expect(engine.compiledPipelines).toBe(0);
      const names = new Set(plan.map(([def]) => def.name));
      for (const k of ['conv2d_forward', 'conv2d_backward_data', 'conv2d_backward_weight', 'matmul', 'softmax_xent']) expect(names).toContain(k);
      const buf = engine.alloc(16);
      let read: Promise<unknown> | null = null;
      engine.plan(() => {
        read = engine.read(buf, 16);
      });
      await expect(read).rejects.toThrow(/inside Engine.plan/);
      engine.release(buf);

      await engine.prepare(plan);
      const prepared = new Set(engine.compiledVariants());
      expect(prepared.size).toBe(plan.length);
      await train(engine, model, noise28(64, 5), { epochs: 1, batchSize: 32, lr: 0.01, optimizer: { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 0 }, schedule: 'constant', seed: 1, test: noise28(40, 6) });
      const later = engine.compiledVariants().filter((k) => !prepared.has(k));
      expect(later.filter((k) => /^(conv2d|matmul)/.test(k))).toEqual([]);
    } finally {
      engine.destroy();
    }
  });
});

describe('quick tilings while the planned ones build', () => {
  it('a training step gives bit-identical weights on the 4-row quick tilings and on the planned ones', async () => {
    const engine = await createNodeEngine({ log: () => {} });
    try {
      const input = { channels: 1, height: 28, width: 28, classes: 10 };
      const data = noise28(32, 7);
      const step = async (): Promise<Float32Array[]> => {
        const model = createModel(engine, 'student-cnn', input, 3);
        const optimizer = new Optimizer(model.store, { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 5e-4 }, 0.05);
        const bufs = new BatchBuffers(engine, 32, 784);
        const metrics = new GpuMetrics(engine);
        bufs.upload(data.images as Float32Array, data.labels, 32);
        trainStep(model, optimizer, bufs, 32, metrics);
        trainStep(model, optimizer, bufs, 32, metrics);
        await metrics.take();
        const weights = [...(await model.store.read()).values()].map((t) => t.data);
        metrics.destroy();
        bufs.destroy();
        optimizer.destroy();
        return weights;
      };
      const plan = modelKernels(createModel(engine, 'student-cnn', input, 3), { train: [32] });
      const big = plan.filter(([, v]) => hasQuickTwin(v));
      expect(big.length).toBeGreaterThan(0);
      // Nothing resolves before the next macrotask, so the steps recorded right after this
      // dispatch the quick twins (built on the spot).
      void engine.prepare(big, { background: true });
      const quick = step();
      const used = engine.compiledVariants();
      for (const name of ['conv2d_forward', 'conv2d_backward_data', 'conv2d_backward_weight', 'matmul']) {
        expect(used.some((k) => k.startsWith(name) && k.includes('["TM",4]'))).toBe(true);
      }
      const a = await quick;
      await engine.settled();
      const before = engine.compiledPipelines;
      const b = await step();
      expect(engine.compiledPipelines).toBe(before); // the planned pipelines, already built
      expect(a.length).toBe(b.length);
      a.forEach((w, i) => expect(Buffer.compare(Buffer.from(w.buffer, w.byteOffset, w.byteLength), Buffer.from(b[i].buffer, b[i].byteOffset, b[i].byteLength))).toBe(0));
    } finally {
      engine.destroy();
    }
  });
});
