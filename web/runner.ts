// Everything the demo does on the GPU: one engine, jobs run one after another (verify, bench,
// loading, training share the device and its command encoder), results posted as messages.
// It runs in a dedicated worker (worker.ts) so the page stays responsive; with ?worker=0 the page
// runs it on its own thread instead (same code, for browsers without WebGPU in workers).

import {
  DEFAULT_DISTILL,
  FASHION_MNIST_CLASSES,
  TeacherCache,
  allIndices,
  distill,
  engineFromAdapter,
  modelFromBytes,
  fashionMnistDataset,
  normalize,
  reviseLabels,
  runKernelBench,
  takeExamples,
  trainSubset,
  unverifiedKernels,
  validationSplit,
  verifyKernels,
  type Dataset,
  type DistillOptions,
  type Engine,
  type Model,
} from '../src/index.browser.js';
import type { AdapterReport, DataSource, FromWorker, TeacherSource, TeacherView, ToWorker, TrainParams, WrongSample } from './protocol.js';

export type Post = (msg: FromWorker, transfer?: Transferable[]) => void;

interface Teacher {
  model: Model;
  hash: string;
  normalisation: { mean: number[]; std: number[] };
}

/** The demo shows this many of the samples the teacher gets wrong. */
const WRONG_SAMPLES_SHOWN = 24;
const BETA_BINS = 20;

export class Runner {
  private engine: Engine | null = null;
  private teacher: Teacher | null = null;
  private cache: TeacherCache | null = null;
  /** Unnormalised ([0, 1]) slices of Fashion-MNIST; each run takes its rows from the front. */
  private pool: { train: Dataset; test: Dataset; generation: number } | null = null;
  /** Runs with an id up to this one are stopped (running) or skipped (queued): Stop ends them all. */
  private stoppedUpTo = 0;
  private lastQueuedRun = 0;
  private queue: Promise<void> = Promise.resolve();

  constructor(private post: Post) {}

  handle(msg: ToWorker): void {
    if (msg.type === 'stop') {
      this.stoppedUpTo = this.lastQueuedRun;
      return;
    }
    if (msg.type === 'train') this.lastQueuedRun = Math.max(this.lastQueuedRun, msg.runId);
    // One job at a time: they share the device's command encoder.
    this.queue = this.queue.then(async () => {
      try {
        await this.run(msg);
      } catch (e) {
        this.post({ type: 'error', job: msg.type, message: e instanceof Error ? e.message : String(e) });
      } finally {
        this.post({ type: 'job-done', job: msg.type });
      }
    });
  }

  private async run(msg: Exclude<ToWorker, { type: 'stop' }>): Promise<void> {
    switch (msg.type) {
      case 'init':
        return this.init();
      case 'load-teacher':
        return this.loadTeacher(msg.source);
      case 'load-data':
        return this.loadData(msg.source, msg.trainCount, msg.testCount);
      case 'verify':
        return this.verify(msg.seed, msg.filter);
      case 'bench':
        return this.bench(msg.quick);
      case 'train':
        return this.train(msg.runId, msg.params);
    }
  }

  private async init(): Promise<void> {
    if (this.engine) return;
    const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
    if (!gpu) {
      this.post({ type: 'no-webgpu', reason: 'navigator.gpu is missing here: this browser has no WebGPU (or not in workers). Use a recent Chrome or Edge on https or localhost; Chromium needs --enable-unsafe-webgpu on Linux.' });
      return;
    }
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) {
      this.post({ type: 'no-webgpu', reason: 'navigator.gpu.requestAdapter() returned no adapter: WebGPU is disabled or unsupported on this machine.' });
      return;
    }
    this.engine = await engineFromAdapter(adapter);
    const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    const limits: Record<string, number> = {};
    for (const k of ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxStorageBuffersPerShaderStage', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup'] as const) {
      limits[k] = adapter.limits[k];
    }
    const report: AdapterReport = {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      isFallbackAdapter: info.isFallbackAdapter === true,
      name: this.engine.adapterName,
      software: this.engine.software,
      features: [...adapter.features].sort(),
      limits,
    };
    this.post({ type: 'adapter', adapter: report });
  }

  private requireEngine(): Engine {
    if (!this.engine) throw new Error('no WebGPU device: the adapter request failed (see the adapter panel)');
    return this.engine;
  }

  private async loadTeacher(source: TeacherSource): Promise<void> {
    const engine = this.requireEngine();
    let bytes: Uint8Array;
    let name: string;
    if (source.kind === 'url') {
      name = source.url;
      const res = await fetch(source.url);
      if (!res.ok) throw new Error(`${source.url}: HTTP ${res.status} ${res.statusText}: pick a teacher checkpoint (.safetensors from \`kdgpu train\`) instead`);
      bytes = new Uint8Array(await res.arrayBuffer());
    } else {
      name = source.file.name;
      bytes = new Uint8Array(await source.file.arrayBuffer());
    }
    // Refuses a corrupt file (content hash) and missing, extra or reshaped tensors, naming them.
    const restored = modelFromBytes(engine, bytes, name, undefined, { state: false });
    const config = restored.config;
    const problem = !config.normalisation
      ? 'config.normalisation: expected the mean and std the teacher was trained with'
      : config.dataset !== 'fashion-mnist'
        ? `config.dataset: the demo distils on fashion-mnist, this teacher was trained on ${config.dataset}`
        : null;
    if (problem) {
      restored.model.store.destroy();
      throw new Error(`${name}: ${problem}`);
    }
    const model = restored.model;
    this.teacher?.model.store.destroy();
    this.cache?.clear();
    this.cache = new TeacherCache(engine);
    this.teacher = { model, hash: restored.hash, normalisation: config.normalisation };
    this.post({
      type: 'teacher',
      source: name,
      model: config.model,
      dataset: config.dataset,
      parameters: model.store.count(),
      testAccuracy: config.testAccuracy ?? null,
      hash: this.teacher.hash,
    });
  }

  private async loadData(source: DataSource, trainCount: number, testCount: number): Promise<void> {
    const started = performance.now();
    const blobs =
      source.kind === 'server'
        ? await Promise.all(
            ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'].map(async (f) => {
              const url = new URL(f, new URL(source.baseUrl, location.href)).href;
              const res = await fetch(url);
              if (!res.ok) throw new Error(`${url}: HTTP ${res.status}: is Debian's dataset-fashion-mnist installed where the server looks (see scripts/serve-web.mjs)? Or pick the IDX files.`);
              return { blob: await res.blob(), name: f };
            }),
          )
        : [source.trainImages, source.trainLabels, source.testImages, source.testLabels].map((f) => ({ blob: f as Blob, name: f.name }));
    const [trImg, trLab, teImg, teLab] = await Promise.all(blobs.map((b, i) => idxPrefix(b.blob, i < 2 ? trainCount : testCount, b.name)));
    const train = fashionMnistDataset('train', trImg, trLab, { images: blobs[0].name, labels: blobs[1].name });
    const test = fashionMnistDataset('test', teImg, teLab, { images: blobs[2].name, labels: blobs[3].name });
    this.pool = { train, test, generation: (this.pool?.generation ?? 0) + 1 };
    this.post({
      type: 'data',
      trainCount: train.n,
      testCount: test.n,
      source: source.kind === 'server' ? new URL(source.baseUrl, location.href).href : blobs.map((b) => b.name).join(', '),
      seconds: (performance.now() - started) / 1000,
    });
  }

  private async verify(seed = Math.floor(Math.random() * 2 ** 31), filter?: string): Promise<void> {
    const engine = this.requireEngine();
    const started = performance.now();
    let passed = 0;
    let failed = 0;
    await verifyKernels(engine, {
      seed,
      filter,
      onRow: (row) => {
        if (row.pass) passed++;
        else failed++;
        this.post({ type: 'verify-row', row });
      },
    });
    this.post({ type: 'verify-done', passed, failed, unverified: filter ? [] : unverifiedKernels(engine), seconds: (performance.now() - started) / 1000, seed });
  }

  private async bench(quick: boolean): Promise<void> {
    const engine = this.requireEngine();
    const started = performance.now();
    const result = await runKernelBench(engine, { quick, onRow: (row) => this.post({ type: 'bench-row', row }) });
    this.post({ type: 'bench-done', result, seconds: (performance.now() - started) / 1000 });
  }

  private async train(runId: number, p: TrainParams): Promise<void> {
    const engine = this.requireEngine();
    const teacher = this.teacher;
    const pool = this.pool;
    if (!teacher || !this.cache) throw new Error('load a teacher first');
    if (!pool) throw new Error('load the Fashion-MNIST slice first');
    if (runId <= this.stoppedUpTo) return; // stopped while queued
    const started = performance.now();
    const stopped = () => runId <= this.stoppedUpTo;

    // The training subset is sized so that `epochs` epochs take `steps` steps; DS's validation
    // rows come on top. The run uses exactly the front of the pool, so the teacher's logits are
    // computed for no row that is not used.
    const stepsPerEpoch = Math.max(1, Math.ceil(p.steps / p.epochs));
    const subset = stepsPerEpoch * p.batch;
    const rows = subset + p.valSplit;
    if (rows > pool.train.n) {
      throw new Error(`${p.steps} steps of batch ${p.batch} over ${p.epochs} epochs need ${subset} training + ${p.valSplit} validation examples; ${pool.train.n} are loaded: load more, or lower the steps`);
    }
    if (p.testCount > pool.test.n) throw new Error(`the test slice has ${pool.test.n} examples, ${p.testCount} asked`);
    const { mean, std } = teacher.normalisation;
    const train = normalize(takeExamples(pool.train, allIndices(rows), `fashion-mnist/train[0:${rows}]#${pool.generation}`), mean, std);
    const test = normalize(takeExamples(pool.test, allIndices(p.testCount), `fashion-mnist/test[0:${p.testCount}]`), mean, std);
    this.post({ type: 'run-start', runId, params: p, stepsPerEpoch, trainSamples: subset });

    const options: DistillOptions = {
      ...DEFAULT_DISTILL,
      method: p.method,
      student: 'student-cnn',
      epochs: p.epochs,
      batchSize: p.batch,
      lr: p.lr,
      seed: p.seed,
      trainSubset: subset,
      valSplit: p.valSplit,
      temperature: p.temperature,
      eta: p.eta,
      dsRatio: p.dsRatio,
      dsWarmupEpochs: 1,
    };
    // The same rows distill() trains on, for the teacher view.
    const trainRows = trainSubset(validationSplit(allIndices(rows), p.valSplit, p.seed).train, subset, p.seed);
    this.post({ type: 'status', text: `teacher logits for ${rows} examples…` });
    const view = await this.teacherView(engine, teacher, train, pool.train, trainRows, runId, p);
    this.post({ type: 'teacher-view', ...view }, view.wrong.map((w) => w.pixels.buffer as ArrayBuffer));
    this.post({ type: 'status', text: `training ${p.method}…` });

    const result = await distill(
      engine,
      { model: teacher.model, hash: teacher.hash },
      { train, test },
      options,
      {
        progressEvery: 5,
        onProgress: (q) => {
          this.post({ type: 'progress', runId, method: p.method, step: (q.epoch - 1) * stepsPerEpoch + q.step, epoch: q.epoch, loss: q.loss, accuracy: q.accuracy, samplesPerSecond: q.samplesPerSecond });
        },
        onEpoch: (t) => {
          this.post({ type: 'epoch', runId, method: p.method, step: t.epoch * stepsPerEpoch, telemetry: t });
        },
        shouldStop: stopped,
      },
      this.cache,
    );
    result.student.store.destroy();
    this.post({ type: 'run-done', runId, method: p.method, best: result.testAtBestVal, last: result.last, seconds: (performance.now() - started) / 1000, stopped: stopped() });
  }

  /** The teacher on the run's training rows: β histogram and the samples it gets wrong, revised by LR. */
  private async teacherView(engine: Engine, teacher: Teacher, train: Dataset, raw: Dataset, trainRows: Uint32Array, runId: number, p: TrainParams): Promise<TeacherView> {
    const C = train.numClasses;
    // Cached: distill() reuses these logits.
    const cached = this.cache!.get(teacher.model, teacher.hash, train, { rows: trainRows });
    const logits = await engine.readF32(cached.logits, train.n * C);
    const rev = await reviseLabels(engine, logits, train.labels, C, { temperature: p.temperature, eta: p.eta });
    const lo = p.eta / 2;
    const hi = p.eta;
    const counts = new Array<number>(BETA_BINS).fill(0);
    let wrongCount = 0;
    let betaAtEta = 0;
    const wrong: WrongSample[] = [];
    const plane = train.height * train.width;
    for (const k of trainRows) {
      const beta = rev.beta[k];
      counts[Math.max(0, Math.min(BETA_BINS - 1, Math.floor(((beta - lo) / (hi - lo)) * BETA_BINS)))]++;
      if (Math.abs(beta - p.eta) < 1e-6) betaAtEta++;
      if (!rev.teacherWrong[k]) continue;
      wrongCount++;
      if (wrong.length >= WRONG_SAMPLES_SHOWN) continue;
      const z = logits.subarray(k * C, (k + 1) * C);
      const t = argmax(z);
      const target = rev.targets.subarray(k * C, (k + 1) * C);
      const r = argmax(target);
      const pixels = Uint8Array.from(raw.images.subarray(k * plane, (k + 1) * plane), (v) => Math.round(v * 255));
      wrong.push({ index: k, pixels, label: train.labels[k], teacherClass: t, teacherProb: softmaxAt(z, t), revisedClass: r, revisedProb: target[r], beta });
    }
    return {
      runId,
      classes: [...FASHION_MNIST_CLASSES],
      trainSamples: trainRows.length,
      teacherWrong: wrongCount,
      betaHistogram: { lo, hi, counts },
      betaAtEta,
      wrong,
      eta: p.eta,
      temperature: p.temperature,
    };
  }
}

function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

function softmaxAt(z: Float32Array, i: number): number {
  const m = z[argmax(z)];
  let sum = 0;
  for (const v of z) sum += Math.exp(v - m);
  return Math.exp(z[i] - m) / sum;
}

/**
 * The first `count` items of an IDX file (gzip or raw), as raw IDX bytes whose first dimension
 * says `count`. Only the prefix is inflated: the page needs a slice, not 60,000 images.
 * Malformed input is passed through for fashionMnistDataset to name the problem.
 */
export async function idxPrefix(blob: Blob, count: number, name: string): Promise<Uint8Array> {
  const magic = new Uint8Array(await blob.slice(0, 2).arrayBuffer());
  let stream = blob.stream() as ReadableStream<Uint8Array>;
  if (magic[0] === 0x1f && magic[1] === 0x8b) stream = stream.pipeThrough(new DecompressionStream('gzip') as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
  const reader = stream.getReader();
  let buf = new Uint8Array(1 << 16);
  let have = 0;
  let need = Infinity;
  let header = 0;
  let available = 0;
  try {
    while (have < need) {
      const { done, value } = await reader.read();
      if (done) break;
      if (have + value.length > buf.length) {
        const grown = new Uint8Array(Math.max(buf.length * 2, have + value.length));
        grown.set(buf.subarray(0, have));
        buf = grown;
      }
      buf.set(value, have);
      have += value.length;
      if (need === Infinity && have >= 4) {
        const view = new DataView(buf.buffer);
        const ndims = view.getUint32(0) & 0xff;
        const type = (view.getUint32(0) >>> 8) & 0xff;
        header = 4 + 4 * ndims;
        if (type !== 0x08 || ndims < 1 || ndims > 3) break; // not IDX u8: let the parser say so
        if (have < header) continue;
        let item = 1;
        for (let d = 1; d < ndims; d++) item *= view.getUint32(4 + 4 * d);
        available = view.getUint32(4);
        need = header + Math.min(count, available) * item;
      }
    }
  } catch (e) {
    throw new Error(`${name}: could not read the ${magic[0] === 0x1f ? 'gzip ' : ''}data: ${(e as Error).message}`);
  } finally {
    reader.cancel().catch(() => {});
  }
  const out = buf.slice(0, Math.min(have, need));
  if (need !== Infinity && have >= need && available > count) new DataView(out.buffer).setUint32(4, count);
  return out;
}
