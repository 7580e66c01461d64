// The kdgpu side of `kdgpu bench steps`: one training step exactly as `kdgpu train` runs it
// (src/cli/train.ts), with a loss readback after every step instead of every few. Its pipelines
// are built as train() builds them (prepareRun).
//
// Step (after the shared Batcher.fill): BatchBuffers.load (queue.writeBuffer of the labels, rows
// and gather plan, and the gather kernel reading the resident training bytes), trainStep (records forward, the fused softmax-cross-entropy + gradient, backward and
// the fused SGD-momentum update into the engine's encoder, with GpuMetrics.add's loss sum), then
// `await metrics.take()`: one submit of everything recorded, one readback of the loss sum (which
// waits for the whole step on the GPU), and a queue.writeBuffer that zeroes the sum.

import { writeFileSync } from 'node:fs';
import { createNodeEngine } from '../../src/gpu/node.js';
import type { AdapterChoice } from '../../src/gpu/acquire.js';
import { createModel } from '../../src/nn/models.js';
import { Optimizer } from '../../src/optim/optimizer.js';
import { BatchBuffers, GpuMetrics, modelKernels, prepareRun, trainStep } from '../../src/train.js';
import { DeviceImages } from '../../src/device-images.js';
import { encodeSafetensors, type SafeTensor } from '../../src/io/safetensors.js';
import { INPUT, RECIPE, serveSteps } from './protocol.js';

serveSteps('kdgpu', async (init, data) => {
  const logged: string[] = [];
  const engine = await createNodeEngine({ adapter: (init.adapter ?? 'auto') as AdapterChoice, log: (l) => logged.push(l), ...(init.throttlePolls === undefined ? {} : { throttlePolls: init.throttlePolls }) });
  const model = createModel(engine, init.model, { ...INPUT }, init.seed);
  if (init.weightsPath) {
    const tensors = new Map<string, SafeTensor>();
    for (const [name, t] of await model.store.read()) tensors.set(name, { dtype: 'F32', shape: t.shape, data: t.data });
    writeFileSync(init.weightsPath, encodeSafetensors(tensors, { model: init.model, seed: String(init.seed) }));
  }
  const optimizer = new Optimizer(model.store, { kind: 'sgd', momentum: RECIPE.momentum, nesterov: RECIPE.nesterov, weightDecay: RECIPE.weightDecay }, RECIPE.lr);
  const example = INPUT.channels * INPUT.height * INPUT.width;
  const bufs = new BatchBuffers(engine, init.batch, example);
  const images = new DeviceImages(engine, data);
  const metrics = new GpuMetrics(engine);
  // As train() does: the quick pipelines built before "ready", the planned ones in the background
  // after the first step, which runs on the quick ones; the second step waits for them (a warm-up
  // step), so the timed steps measure the planned kernels.
  const buildRest = await prepareRun(engine, modelKernels(model, { train: [init.batch] }));
  let steps = 0;
  return {
    device: engine.adapterName,
    software: engine.software,
    details: { parameters: model.store.count(), ...(logged.length ? { note: logged.join(' ') } : {}) },
    peer: {
      async step(batch) {
        bufs.load(images, batch);
        if (steps === 1) {
          buildRest();
          await engine.settled();
        }
        steps++;
        trainStep(model, optimizer, bufs, batch.size, metrics);
        return (await metrics.take()).loss;
      },
      destroy() {
        metrics.destroy();
        bufs.destroy();
        images.destroy();
        engine.destroy();
      },
    },
  };
});
