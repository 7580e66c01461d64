// Soak: many student-cnn training steps in one process, reporting the buffer pool's counters and
// the process's memory at the start and the end. GPU memory must stay flat: the bytes in use at
// step 10 and at the last step are the same, and nothing is allocated after warm-up.
//   node dist/bench-soak.js [--steps 10000] [--batch 128] [--json FILE]

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createNodeEngine } from '../src/gpu/node.js';
import { createModel } from '../src/nn/models.js';
import { Optimizer } from '../src/optim/optimizer.js';
import { BatchBuffers, GpuMetrics, NumericGuard, trainStep } from '../src/train.js';
import { DeviceImages } from '../src/device-images.js';
import { Batcher } from '../src/data/batches.js';
import { loadFashionMnist } from '../src/data/node-files.js';
import { normalize, exampleSize } from '../src/data/dataset.js';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '10000' }, batch: { type: 'string', default: '128' }, json: { type: 'string' } } });
const steps = Number(values.steps);
const batchSize = Number(values.batch);

const engine = await createNodeEngine();
const train = normalize(await loadFashionMnist('train'), 0.286, 0.353);
const model = createModel(engine, 'student-cnn', { channels: 1, height: 28, width: 28, classes: 10 }, 1);
const guard = new NumericGuard(engine, model.store);
const optimizer = new Optimizer(model.store, { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 5e-4 }, 0.01, { kind: 'constant' }, guard.health);
const batcher = new Batcher(train, { batchSize, seed: 1, dropLast: true });
const bufs = new BatchBuffers(engine, batchSize, exampleSize(train));
const images = new DeviceImages(engine, train);
const metrics = new GpuMetrics(engine);

const samples: Array<{ step: number; seconds: number; loss: number; bytesInUse: number; bytesAllocated: number; buffersCreated: number; rssMB: number; heapMB: number }> = [];
const started = performance.now();
let epoch = -1;
for (let s = 1; s <= steps; s++) {
  const b = (s - 1) % batcher.batchesPerEpoch;
  if (b === 0) batcher.startEpoch(++epoch);
  const batch = batcher.fill(b);
  bufs.load(images, batch);
  trainStep(model, optimizer, bufs, batch.size, metrics, guard);
  if (s === 10 || s % 500 === 0 || s === steps) {
    const m = await metrics.take();
    await guard.verify();
    const p = engine.pool.stats();
    const mem = process.memoryUsage();
    const row = { step: s, seconds: (performance.now() - started) / 1000, loss: m.loss, bytesInUse: p.bytesInUse, bytesAllocated: p.bytesAllocated, buffersCreated: p.buffersCreated, rssMB: mem.rss / 2 ** 20, heapMB: mem.heapUsed / 2 ** 20 };
    samples.push(row);
    console.log(`step ${s}: loss ${m.loss.toFixed(4)}, pool in use ${p.bytesInUse} B, allocated ${p.bytesAllocated} B, buffers created ${p.buffersCreated}, rss ${row.rssMB.toFixed(0)} MB, ${(s / row.seconds).toFixed(1)} steps/s`);
  }
}
const first = samples[0];
const last = samples[samples.length - 1];
const flat = first.bytesInUse === last.bytesInUse && first.bytesAllocated === last.bytesAllocated;
console.log(`\n${steps} steps in ${last.seconds.toFixed(0)} s on ${engine.adapterName}`);
console.log(`pool bytes in use: step 10 ${first.bytesInUse}, step ${steps} ${last.bytesInUse}; bytes allocated: ${first.bytesAllocated} -> ${last.bytesAllocated}; ${flat ? 'FLAT' : 'NOT FLAT'}`);
if (values.json) writeFileSync(values.json, JSON.stringify({ adapter: engine.adapterName, steps, batchSize, flat, samples }, null, 2));
engine.destroy();
process.exitCode = flat ? 0 : 1;
