// Every model by name builds for Fashion-MNIST and CIFAR shapes and takes a training step that
// lowers its loss on a fixed batch, with finite parameters; the same seed gives the same weights.
import { describe, expect, it } from 'vitest';
import { testEngine } from './engine.js';
import { createModel, MODEL_NAMES } from '../src/nn/models.js';
import { Optimizer } from '../src/optim/optimizer.js';
import { BatchBuffers, GpuMetrics, trainStep } from '../src/train.js';
import { Rng } from '../src/util/rng.js';

describe('models', () => {
  for (const name of MODEL_NAMES) {
    for (const input of [
      { channels: 1, height: 28, width: 28, classes: 10 },
      { channels: 3, height: 32, width: 32, classes: 100 },
    ]) {
      it(`${name} on ${input.channels}x${input.height}x${input.width}, ${input.classes} classes: steps lower the loss on a fixed batch`, async () => {
        const engine = await testEngine();
        const model = createModel(engine, name, input, 3);
        // Adam: stable for the BN-free CNNs and the ResNets alike (SGD+momentum diverges on some of them here).
        const opt = new Optimizer(model.store, { kind: 'adam', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false }, 1e-3);
        const B = 8;
        const size = input.channels * input.height * input.width;
        const rng = new Rng(4);
        const bufs = new BatchBuffers(engine, B, size);
        const metrics = new GpuMetrics(engine);
        bufs.upload(rng.fillUniform(B * size), Uint32Array.from({ length: B }, () => rng.int(input.classes)), B);
        const losses: number[] = [];
        for (let s = 0; s < 10; s++) {
          trainStep(model, opt, bufs, B, metrics);
          losses.push((await metrics.take()).loss);
        }
        expect(losses.every(Number.isFinite)).toBe(true);
        expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
        const params = await engine.readF32(model.store.buffers.params, model.store.paramFloats);
        expect(params.every(Number.isFinite)).toBe(true);
        const again = createModel(engine, name, input, 3);
        const fresh = createModel(engine, name, input, 3);
        const [a, b] = [await fresh.store.read(), await again.store.read()];
        for (const [k, v] of a) expect(Array.from(v.data)).toEqual(Array.from(b.get(k)!.data));
        opt.destroy();
        bufs.destroy();
        metrics.destroy();
      });
    }
  }
});
