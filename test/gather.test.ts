// Datasets as bytes, batches gathered on the GPU: the gather kernel against its float64 reference,
// the GPU batch against its host twin (Batcher.fillImages) bit for bit, resident against uploaded
// per batch, and 8-bit data training as the same data given as CSV fractions.
import { describe, expect, it } from 'vitest';
import { testEngine } from './engine.js';
import { verifyKernels } from '../src/kernels/verify.js';
import { Batcher } from '../src/data/batches.js';
import { csvDatasets } from '../src/data/csv.js';
import { channelStats, inputValues, normalize, type Dataset } from '../src/data/dataset.js';
import { DeviceImages, residentFits } from '../src/device-images.js';
import { BatchBuffers, train, type TrainLoopOptions } from '../src/train.js';
import { defineModel, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../src/index.js';
import type { Engine } from '../src/gpu/engine.js';
import { Rng } from '../src/util/rng.js';

/** n images of bytes, C x H x W, labels of 3 classes: a bright band whose row depends on the class, plus noise. */
function bands(n: number, C: number, H: number, W: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const size = C * H * W;
  const images = new Uint8Array(n * size);
  const labels = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const y = rng.int(3);
    labels[i] = y;
    for (let j = 0; j < size; j++) {
      const row = Math.floor((j % (H * W)) / W);
      const on = Math.floor((row * 3) / H) === y;
      images[i * size + j] = Math.max(0, Math.min(255, Math.round((on ? 200 : 40) + 80 * (rng.next() - 0.5))));
    }
  }
  return { images, labels, n, channels: C, height: H, width: W, numClasses: 3, name: `bands-${seed}` };
}

/** The same data as CSV fractions (b / 255 written out), read back: float32 images. */
function asCsvFractions(ds: Dataset): Dataset {
  const size = ds.channels * ds.height * ds.width;
  const text = Array.from({ length: ds.n }, (_, i) => [ds.labels[i], ...Array.from(ds.images.subarray(i * size, (i + 1) * size), (b) => String(b / 255))].join(',')).join('\n');
  const file = { fileName: 'fractions.csv', text };
  const { train } = csvDatasets(file, file, { imageShape: [ds.height, ds.width, ds.channels], layout: 'chw', numClasses: ds.numClasses, name: ds.name });
  return train;
}

async function gathered(engine: Engine, images: DeviceImages, batcher: Batcher, b: number): Promise<Float32Array> {
  const ds = batcher.dataset;
  const size = ds.channels * ds.height * ds.width;
  const bufs = new BatchBuffers(engine, batcher.batchSize, size);
  try {
    engine.write(bufs.images, new Float32Array(batcher.batchSize * size).fill(NaN)); // poisoned
    const batch = batcher.fill(b);
    bufs.load(images, batch);
    return await engine.readF32(bufs.images, batch.size * size);
  } finally {
    bufs.destroy();
  }
}

describe('the gather kernel', () => {
  it('matches its float64 reference (bytes and floats, resident and uploaded, odd sizes)', async () => {
    const engine = await testEngine();
    const rows = await verifyKernels(engine, { seed: 7, filter: 'gather_batch' });
    expect(rows.length).toBeGreaterThanOrEqual(7);
    expect(rows.filter((r) => !r.pass).map((r) => `${r.shape}: ${r.detail}`)).toEqual([]);
  });
});

describe('batches gathered on the GPU', () => {
  const cases: Array<[string, Dataset]> = [];
  const bytes = bands(23, 3, 5, 7, 1); // 105 bytes an example: examples straddle u32 words
  const stats = channelStats(bytes);
  cases.push(['bytes, normalised', normalize(bytes, stats.mean, stats.std)]);
  cases.push(['CSV fractions, normalised', normalize(asCsvFractions(bytes), stats.mean, stats.std)]);
  cases.push(['bytes as read', bytes]);

  for (const [what, ds] of cases) {
    it(`${what}: the host twin bit for bit, resident and uploaded per batch alike, with augmentation`, async () => {
      const engine = await testEngine();
      const augment = { pad: 2, flip: true, padValue: ds.normalisation ? ds.normalisation.mean.map((m, c) => -m / ds.normalisation!.std[c]) : 0 };
      const batcher = new Batcher(ds, { batchSize: 6, seed: 3, augment });
      const resident = new DeviceImages(engine, ds, batcher.padValue, { resident: true });
      const uploaded = new DeviceImages(engine, ds, batcher.padValue, { resident: false });
      // Only the rows a batch reads resident, in another order (a training subset).
      const rows = Uint32Array.from({ length: ds.n }, (_, i) => ds.n - 1 - i);
      const subset = new DeviceImages(engine, ds, batcher.padValue, { resident: true, rows });
      try {
        expect([resident.resident, uploaded.resident, subset.resident]).toEqual([true, false, true]);
        batcher.startEpoch(1);
        let flipped = 0;
        for (let b = 0; b < batcher.batchesPerEpoch; b++) {
          const host = batcher.fillImages(batcher.fill(b), new Float32Array(6 * 105));
          const n = batcher.batch.size * 105;
          for (let i = 0; i < batcher.batch.size; i++) flipped += batcher.batch.plan[4 * i + 3];
          const a = await gathered(engine, resident, batcher, b);
          const u = await gathered(engine, uploaded, batcher, b);
          // Compared as bits: equal floats, no NaN left from the poison.
          const bits = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, n));
          expect(bits(a), `batch ${b}, resident`).toEqual(bits(host.subarray(0, n)));
          expect(bits(u), `batch ${b}, uploaded`).toEqual(bits(a));
          expect(bits(await gathered(engine, subset, batcher, b)), `batch ${b}, a subset resident`).toEqual(bits(a));
        }
        expect(flipped).toBeGreaterThan(0); // the augmentation did something
      } finally {
        resident.destroy();
        uploaded.destroy();
        subset.destroy();
      }
    });
  }

  it('bytes and CSV fractions give the same model input: bit for bit as read, within 2 float32 roundings normalised', () => {
    const fractions = asCsvFractions(bytes);
    expect(bytes.images).toBeInstanceOf(Uint8Array);
    expect(fractions.images).toBeInstanceOf(Float32Array);
    const all = Array.from({ length: bytes.n }, (_, i) => i);
    expect(Array.from(inputValues(fractions, all))).toEqual(Array.from(inputValues(bytes, all)));
    const a = inputValues(normalize(bytes, stats.mean, stats.std), all);
    const b = inputValues(normalize(fractions, stats.mean, stats.std), all);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(a[i])));
    expect(worst).toBeLessThan(4 * 2 ** -23);
  });

  it('keeps a set resident only within the device limits and the budget', async () => {
    const engine = await testEngine();
    expect(residentFits(engine, bytes)).toBe(true);
    expect(residentFits(engine, bytes, 100)).toBe(false);
    expect(residentFits(engine, bytes, 105 * 4, [1, 2, 3, 4])).toBe(true); // 4 rows of 105 bytes
    expect(residentFits(engine, bytes, 105 * 4, [1, 2, 3, 4, 5])).toBe(false);
  });
});

describe('8-bit data and the same data as CSV fractions train the same', () => {
  const tiny = (engine: Engine) =>
    defineModel(engine, 'tiny-cnn', { channels: 1, height: 9, width: 9, classes: 3 }, 5, (store, rng, input) => ({
      body: new Sequential(new Conv2d(store, 'conv', rng, input.channels, 4, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2), new Flatten()),
      head: new Linear(store, 'fc', rng, 4 * 4 * 4, input.classes),
    }));
  const data = bands(300, 1, 9, 9, 2);
  const test = bands(120, 1, 9, 9, 3);
  const o: TrainLoopOptions = { epochs: 2, batchSize: 32, lr: 0.05, optimizer: { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 0 }, schedule: 'cosine', seed: 1, augment: { pad: 1, flip: false } };

  const run = async (d: Dataset, t: Dataset, resident?: boolean, indices?: Uint32Array) => {
    const engine = await testEngine();
    const model = tiny(engine);
    try {
      const r = await train(engine, model, d, { ...o, test: t, resident, indices });
      const weights = [...(await model.store.read()).values()].map((x) => Array.from(x.data));
      return { losses: r.epochs.map((e) => e.trainLoss), accuracy: r.last, weights };
    } finally {
      model.store.destroy();
    }
  };

  it('as read (mean 0, std 1): bit-identical weights, bytes resident (all rows or the subset) or uploaded, or floats', async () => {
    const a = await run(data, test);
    const b = await run(data, test, false);
    const sub = Uint32Array.from({ length: 250 }, (_, i) => i + 50);
    const s1 = await run(data, test, undefined, sub);
    const s2 = await run(data, test, false, sub);
    expect(s2.weights).toEqual(s1.weights);
    expect(s1.weights).not.toEqual(a.weights);
    const c = await run(asCsvFractions(data), asCsvFractions(test));
    expect(a.accuracy).toBeGreaterThan(0.6);
    expect(b.weights).toEqual(a.weights);
    expect(c.weights).toEqual(a.weights);
  });

  it('normalised: the same losses and accuracy up to float rounding', async () => {
    const s = channelStats(data);
    const a = await run(normalize(data, s.mean, s.std), normalize(test, s.mean, s.std));
    const c = await run(normalize(asCsvFractions(data), s.mean, s.std), normalize(asCsvFractions(test), s.mean, s.std));
    expect(a.accuracy).toBeGreaterThan(0.6);
    expect(Math.abs(c.accuracy - a.accuracy)).toBeLessThanOrEqual(2 / test.n);
    c.losses.forEach((l, e) => expect(Math.abs(l - a.losses[e]), `epoch ${e + 1}`).toBeLessThan(1e-3 * a.losses[e]));
  });
});
