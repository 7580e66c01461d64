// Everything the demo does on the GPU: one engine, jobs run one after another (verify, bench,
// loading, training share the device and its command encoder), results posted as messages.
// It runs in a dedicated worker (worker.ts) so the page stays responsive; with ?worker=0 the page
// runs it on its own thread instead (same code, for browsers without WebGPU in workers).
//
// Data: Fashion-MNIST's files from the server, or the user's own IDX, CSV or image-folder files,
// read with the library's pure parsers (errors name the file, row or image); images are decoded
// here with createImageBitmap and an OffscreenCanvas. Without a teacher that takes the data's
// shape and classes, only CE runs (the library's training loop, no teacher logits).
//
// The teacher is a kdgpu checkpoint, or an ONNX model (trained anywhere) that onnxruntime-web runs
// on the CPU in this worker: its wasm build is loaded only when one is picked, the wasm binary
// from the page's own server (/ort/, scripts/serve-web.mjs), never a CDN. Its logits for a run's
// training rows are computed once per run, then distillation proceeds as with a logits file.
//
// Beside it: data-files.ts reads the data's bytes (gzip, IDX prefixes, folder paths), and
// teacher-input.ts holds the teacher, onnxruntime-web and the ONNX feed.

import {
  DEFAULT_DISTILL,
  TeacherCache,
  allIndices,
  channelStats,
  createModel,
  csvDatasets,
  decodeImageInBrowser,
  distill,
  encodeModel,
  engineFromAdapter,
  onnxFromModel,
  modelFromBytes,
  onnxTeacherLogits,
  fashionMnistDataset,
  idxDataset,
  validateOptions,
  imageFolderDatasets,
  imageFolderListing,
  normalize,
  reviseLabels,
  runKernelBench,
  splitRows,
  takeExamples,
  train as trainLoop,
  unverifiedKernels,
  verifyKernels,
  type ChannelStats,
  type Dataset,
  type Engine,
  epochTelemetry,
  type DistillTeacher,
  type ImageFolderEntry,
  type Model,
} from '../src/index.browser.js';
import {
  describeShape,
  sameShape,
  type AdapterReport,
  type DataOptions,
  type DataSource,
  type FromWorker,
  type TeacherSource,
  type TeacherView,
  type ToWorker,
  type TrainParams,
  type WrongSample,
  pageDistillOptions,
} from './protocol.js';
import { sha256Hex } from '../src/util/sha256.js';
import { checkOnnxTeacher } from '../src/interop/onnx-teacher.js';
import { DEFAULT_FEED, inTeacherPanelWords, loadOrtWeb, onnxShape, type Teacher } from './teacher-input.js';
import { classNamesOf, dataMessage, describeTrainedOn, idxPrefix, joinPath, readFileBytes, shapeOf, shuffledSample } from './data-files.js';

export type Post = (msg: FromWorker, transfer?: Transferable[]) => void;

/** The demo shows this many of the samples the teacher gets wrong. */
const WRONG_SAMPLES_SHOWN = 24;
const BETA_BINS = 20;

export class Runner {
  private engine: Engine | null = null;
  private teacher: Teacher | null = null;
  private cache: TeacherCache | null = null;
  /**
   * The loaded data, unnormalised ([0, 1]); each run takes its rows from the front (the user's own
   * data is shuffled when loaded, so the front is a random sample). stats: the train pool's
   * per-channel mean and std, the normalisation of a run without a teacher.
   */
  private pool: { train: Dataset; test: Dataset; generation: number; kind: DataSource['kind']; stats: ChannelStats } | null = null;
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
        return this.loadData(msg.source, msg.trainCount, msg.testCount, msg.options ?? {});
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
    if (/\.onnx$/i.test(name)) return this.loadOnnxTeacher(name, bytes);
    // Refuses a corrupt file (content hash) and missing, extra or reshaped tensors, naming them.
    const restored = modelFromBytes(engine, bytes, name, undefined, { state: false });
    const config = restored.config;
    // Any kdgpu checkpoint: whether it fits the data (input shape, classes) is decided per run,
    // and the page offers distillation only when it does.
    if (!config.normalisation) {
      restored.model.store.destroy();
      throw new Error(`${name}: config.normalisation: expected the mean and std the teacher was trained with`);
    }
    const model = restored.model;
    this.dropTeacher();
    this.cache = new TeacherCache(engine);
    this.teacher = { format: 'kdgpu', model, hash: restored.hash, input: { ...config.input }, normalisation: config.normalisation };
    this.post({
      type: 'teacher',
      format: 'kdgpu',
      source: name,
      model: config.model,
      dataset: config.dataset,
      trainedOn: describeTrainedOn(config.dataset, config.data?.spec),
      input: { ...config.input },
      classNames: config.data?.classNames ? [...config.data.classNames] : null,
      parameters: model.store.count(),
      testAccuracy: config.testAccuracy ?? null,
      hash: this.teacher.hash,
    });
  }

  private dropTeacher(): void {
    if (this.teacher?.format === 'kdgpu') this.teacher.model.store.destroy();
    this.teacher = null;
    this.cache?.clear();
  }

  /** An ONNX teacher: onnxruntime-web reads it once here, for its declared input and output. */
  private async loadOnnxTeacher(name: string, bytes: Uint8Array): Promise<void> {
    const engine = this.requireEngine();
    this.post({ type: 'status', text: 'loading onnxruntime-web…' });
    const ort = await loadOrtWeb();
    let session;
    try {
      session = await ort.InferenceSession.create(bytes);
    } catch (e) {
      throw new Error(`${name}: onnxruntime-web could not load the model: ${(e as Error).message}`);
    }
    const meta = (list: unknown, key: string) => (list as Array<{ name: string; isTensor: boolean; shape?: Array<number | string> }> | undefined)?.find((m) => m.name === key);
    const s = session as unknown as { inputNames: string[]; outputNames: string[]; inputMetadata?: unknown; outputMetadata?: unknown };
    if (s.inputNames.length !== 1) throw new Error(`${name}: the model takes ${s.inputNames.length} inputs; an ONNX teacher takes one, the images`);
    const input = meta(s.inputMetadata, s.inputNames[0]);
    const output = meta(s.outputMetadata, s.outputNames[0]);
    const { shape, layout } = onnxShape(name, input?.shape, output?.shape);
    await session.release?.();
    this.dropTeacher();
    this.cache = new TeacherCache(engine);
    const hash = sha256Hex(bytes);
    this.teacher = { format: 'onnx', name, bytes, hash, input: shape, ort };
    this.post({
      type: 'teacher',
      format: 'onnx',
      source: name,
      model: 'ONNX model',
      dataset: 'onnx',
      trainedOn: 'data of its own (an ONNX model)',
      input: shape,
      classNames: null,
      parameters: null,
      testAccuracy: null,
      hash,
      onnxInput: { name: s.inputNames[0], declared: [...input!.shape!], layout },
    });
  }

  private async loadData(source: DataSource, trainCount: number, testCount: number, options: DataOptions): Promise<void> {
    const started = performance.now();
    let train: Dataset;
    let test: Dataset;
    let trainTotal = 0;
    let testTotal = 0;
    let where: string;
    if (source.kind === 'server') {
      const blobs = await Promise.all(
        ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'].map(async (f) => {
          const url = new URL(f, new URL(source.baseUrl, location.href)).href;
          const res = await fetch(url);
          if (!res.ok) throw new Error(`${url}: HTTP ${res.status}: is Debian's dataset-fashion-mnist installed where the server looks (see scripts/serve-web.mjs)? Or pick your own data.`);
          return { blob: await res.blob(), name: f };
        }),
      );
      const [trImg, trLab, teImg, teLab] = await Promise.all(blobs.map((b, i) => idxPrefix(b.blob, i < 2 ? trainCount : testCount, b.name)));
      train = fashionMnistDataset('train', trImg, trLab, { images: blobs[0].name, labels: blobs[1].name });
      test = fashionMnistDataset('test', teImg, teLab, { images: blobs[2].name, labels: blobs[3].name });
      [trainTotal, testTotal] = [train.n, test.n];
      where = new URL(source.baseUrl, location.href).href;
    } else {
      let full: { train: Dataset; test: Dataset };
      if (source.kind === 'idx') {
        const [trImg, trLab, teImg, teLab] = await Promise.all([source.trainImages, source.trainLabels, source.testImages, source.testLabels].map((f) => readFileBytes(f)));
        const expectSize = options.imageShape ? { height: options.imageShape[0], width: options.imageShape[1], channels: options.imageShape[2] ?? 1 } : undefined;
        const trainSet = idxDataset({
          images: trImg, labels: trLab, imagesFile: source.trainImages.name, labelsFile: source.trainLabels.name, name: 'idx/train',
          layout: options.layout, expectSize, expectSizeFrom: expectSize ? ' (the image shape given)' : undefined,
        });
        full = {
          train: trainSet,
          test: idxDataset({
            images: teImg, labels: teLab, imagesFile: source.testImages.name, labelsFile: source.testLabels.name, name: 'idx/test',
            // The train file settled how a 4-D file reads (as the CLI's loadIdx).
            layout: options.layout ?? (trainSet.channels > 1 ? 'hwc' : undefined),
            numClasses: trainSet.numClasses, numClassesFrom: ` (the classes of ${source.trainLabels.name}: its largest label + 1)`,
            expectSize: trainSet, expectSizeFrom: expectSize ? ' (the image shape given)' : ` (the size of the images in ${source.trainImages.name})`,
          }),
        };
        where = [source.trainImages, source.trainLabels, source.testImages, source.testLabels].map((f) => f.name).join(', ');
      } else if (source.kind === 'csv') {
        const [a, b] = await Promise.all([source.train, source.test].map(async (f) => ({ fileName: f.name, text: new TextDecoder().decode(await readFileBytes(f)) })));
        this.post({ type: 'data-status', text: `parsing ${a.fileName} and ${b.fileName}…` });
        full = csvDatasets(a, b, { imageShape: options.imageShape, layout: options.layout });
        where = `${source.train.name}, ${source.test.name}`;
      } else {
        const root = source.root;
        const byPath = new Map(source.files.map((f) => [joinPath(root, f.path), f.file]));
        const listing = imageFolderListing(source.files.map((f) => f.path), root);
        // Decode only the images kept: a seeded random sample of each split, in shuffled order
        // (the listing is sorted by class; a run takes its rows from the front of the pool).
        const totalTrain = listing.train.length;
        const totalTest = listing.test.length;
        const sample = (entries: ImageFolderEntry[], count: number, seed: number) => Array.from(shuffledSample(entries.length, count, seed), (i) => entries[i]);
        const kept = { ...listing, train: sample(listing.train, trainCount, 1), test: sample(listing.test, testCount, 2) };
        const total = kept.train.length + kept.test.length;
        let decoded = 0;
        let lastPost = 0;
        const read = async (path: string) => {
          const file = byPath.get(path);
          if (!file) throw new Error(`${path}: not among the files picked`);
          return new Uint8Array(await file.arrayBuffer());
        };
        const decode = async (bytes: Uint8Array, path: string) => {
          const img = await decodeImageInBrowser(bytes, path);
          decoded++;
          if (performance.now() - lastPost > 250 || decoded === total) {
            lastPost = performance.now();
            this.post({ type: 'data-status', text: `decoding images: ${decoded} of ${total}…` });
          }
          return img;
        };
        full = await imageFolderDatasets(kept, read, decode, { imageShape: options.imageShape, name: 'folder' });
        where = `${root}/`;
        [trainTotal, testTotal] = [totalTrain, totalTest];
      }
      if (source.kind === 'folder') {
        ({ train, test } = full); // sampled and shuffled before decoding
      } else {
        [trainTotal, testTotal] = [full.train.n, full.test.n];
        train = takeExamples(full.train, shuffledSample(full.train.n, trainCount, 1));
        test = takeExamples(full.test, shuffledSample(full.test.n, testCount, 2));
      }
    }
    this.setPool(train, test, source.kind);
    this.post(dataMessage(source.kind, train, test, trainTotal, testTotal, where, started));
  }

  private setPool(train: Dataset, test: Dataset, kind: DataSource['kind']): void {
    this.pool = { train, test, kind, stats: channelStats(train), generation: (this.pool?.generation ?? 0) + 1 };
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
    const pool = this.pool;
    if (!pool) throw new Error('load the data first');
    if (runId <= this.stoppedUpTo) return; // stopped while queued
    // The teacher must take the data's input and predict its classes; without one that does,
    // only CE (which needs no teacher) runs.
    const dataShape = shapeOf(pool.train);
    if (dataShape.height < 4 || dataShape.width < 4) {
      throw new Error(`student-cnn pools twice by 2: it needs images of at least 4×4, the data's are ${dataShape.height}×${dataShape.width}`);
    }
    const teacher = this.teacher && sameShape(this.teacher.input, dataShape) ? this.teacher : null;
    if (!teacher && p.method !== 'ce') {
      throw new Error(
        this.teacher
          ? `${p.method.toUpperCase()} needs a teacher that fits the data: the teacher takes ${describeShape(this.teacher.input)}, the data is ${describeShape(dataShape)}; pick a teacher checkpoint trained on this data, or train CE`
          : `${p.method.toUpperCase()} needs a teacher: load one that takes ${describeShape(dataShape)}, or train CE`,
      );
    }
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
    // The teacher's normalisation (its inputs must look like its training data's); without a
    // teacher, the loaded training pool's own statistics.
    // An ONNX teacher describes its own input (p.onnx): the student takes the pool's statistics.
    const { mean, std } = teacher?.format === 'kdgpu' ? teacher.normalisation : pool.stats;
    const base = pool.train.name.replace(/\/train$/, '');
    const train = normalize(takeExamples(pool.train, allIndices(rows), `${base}/train[0:${rows}]#${pool.generation}`), mean, std);
    const test = normalize(takeExamples(pool.test, allIndices(p.testCount), `${base}/test[0:${p.testCount}]#${pool.generation}`), mean, std);
    this.post({ type: 'run-start', runId, params: p, stepsPerEpoch, trainSamples: subset, teacherFree: !teacher });
    if (!teacher) return this.trainWithoutTeacher(engine, runId, p, train, test, subset, stepsPerEpoch, started, stopped);
    if (!this.cache) throw new Error('load a teacher first');

    const options = pageDistillOptions(p, subset);
    // The same rows distill() trains on, for the teacher view.
    const trainRows = splitRows(rows, { valSplit: p.valSplit, trainSubset: subset, seed: p.seed }).trainIdx;
    let logits: Float32Array;
    let distillTeacher: DistillTeacher;
    const C = train.numClasses;
    if (teacher.format === 'kdgpu') {
      this.post({ type: 'status', text: `teacher logits for ${rows} examples…` });
      // Cached: distill() reuses these logits.
      const cached = this.cache.get(teacher.model, teacher.hash, train, { rows: trainRows });
      logits = await engine.readF32(cached.logits, train.n * C);
      distillTeacher = { model: teacher.model, hash: teacher.hash };
    } else {
      const feed = p.onnx ?? DEFAULT_FEED;
      this.post({ type: 'status', text: `the ONNX teacher's logits for ${trainRows.length} examples (onnxruntime-web)…` });
      const r = await inTeacherPanelWords(() => {
        // The library's checks of the feed: the declared options' ranges, then (inside) one value or one per channel.
        validateOptions({ onnxLayout: feed.layout, onnxInputRange: feed.inputRange, onnxMean: feed.mean, onnxStd: feed.std });
        return onnxTeacherLogits(teacher.ort, teacher.bytes, teacher.name, train, { mean, std }, trainRows, { ...feed, batchSize: 128 }, (done, total) =>
          this.post({ type: 'status', text: `the ONNX teacher's logits: ${done} of ${total} examples (onnxruntime-web)…` }),
        );
      });
      checkOnnxTeacher(r, teacher.name, train.labels, trainRows, { hint: 'check its input layout, pixel range, mean and std in the Teacher panel' });
      logits = r.logits;
      distillTeacher = { logits, classes: C, hash: `${teacher.hash}:${JSON.stringify(feed)}` };
    }
    const view = await this.teacherView(engine, logits, train, pool.train, trainRows, runId, p);
    this.post({ type: 'teacher-view', ...view }, view.wrong.map((w) => w.pixels.buffer as ArrayBuffer));
    this.post({ type: 'status', text: `training ${p.method}…` });

    const result = await distill(
      engine,
      distillTeacher,
      { train, test },
      options,
      {
        progressEvery: 5,
        onProgress: (q) => {
          this.post({ type: 'progress', runId, method: p.method, step: (q.epoch - 1) * stepsPerEpoch + q.step, epoch: q.epoch, loss: q.loss, accuracy: q.accuracy, samplesPerSecond: q.samplesPerSecond });
        },
        onEpoch: (t) => {
          this.post({ type: 'epoch', runId, method: p.method, step: t.epoch * stepsPerEpoch, telemetry: t, teacherFree: false });
        },
        shouldStop: stopped,
      },
      this.cache,
    );
    try {
      await this.postStudent(runId, p, result.student, { mean, std }, classNamesOf(pool.train), result.last);
    } finally {
      result.student.store.destroy();
    }
    this.post({ type: 'run-done', runId, method: p.method, best: result.testAtBestVal, last: result.last, seconds: (performance.now() - started) / 1000, stopped: stopped() });
  }

  /** The run's student as a kdgpu checkpoint and as ONNX (the same exporter as `kdgpu export`), for the page's downloads. */
  private async postStudent(runId: number, p: TrainParams, student: Model, normalisation: { mean: number[]; std: number[] }, classNames: string[], testAccuracy: number): Promise<void> {
    const safetensors = await encodeModel(student, {
      model: student.name,
      input: { ...student.input },
      dataset: this.pool?.kind ?? 'unknown',
      normalisation,
      seed: p.seed,
      epoch: p.epochs,
      testAccuracy,
      command: { method: p.method, page: true },
    });
    const { bytes: onnx, summary } = await onnxFromModel(student, { normalisation, classNames });
    this.post({ type: 'student', runId, method: p.method, model: student.name, safetensors, onnx, onnxOperators: summary.operators }, [safetensors.buffer as ArrayBuffer, onnx.buffer as ArrayBuffer]);
  }

  /**
   * CE without a teacher (none fits the data): student-cnn sized from the data, trained by the
   * library's loop on the rows distill() would use (the same validation split and subset), so a
   * run here is comparable with one that has a teacher.
   */
  private async trainWithoutTeacher(
    engine: Engine,
    runId: number,
    p: TrainParams,
    train: Dataset,
    test: Dataset,
    subset: number,
    stepsPerEpoch: number,
    started: number,
    stopped: () => boolean,
  ): Promise<void> {
    const student = createModel(engine, 'student-cnn', shapeOf(train), p.seed);
    try {
      const split = splitRows(train.n, { valSplit: p.valSplit, trainSubset: subset, seed: p.seed });
      const val = split.val.length > 0 ? takeExamples(train, split.val, `${train.name}/validation`) : null;
      this.post({ type: 'status', text: `training ${p.method} without a teacher…` });
      const result = await trainLoop(
        engine,
        student,
        train,
        {
          epochs: p.epochs,
          batchSize: p.batch,
          lr: p.lr,
          optimizer: DEFAULT_DISTILL.optimizer,
          schedule: DEFAULT_DISTILL.schedule,
          seed: p.seed,
          indices: split.trainIdx,
          val,
          test,
          progressEvery: 5,
        },
        {
          onProgress: (q) => {
            this.post({ type: 'progress', runId, method: p.method, step: (q.epoch - 1) * stepsPerEpoch + q.step, epoch: q.epoch, loss: q.loss, accuracy: q.accuracy, samplesPerSecond: q.samplesPerSecond });
          },
          onEpoch: (r) => {
            const t = epochTelemetry(p.method, r, { teacherTrainError: 0, lrChanged: 0, betaQuantiles: [1, 1, 1, 1, 1], distilled: 0, trainSamples: split.trainIdx.length });
            this.post({ type: 'epoch', runId, method: p.method, step: r.epoch * stepsPerEpoch, telemetry: t, teacherFree: true });
          },
          shouldStop: stopped,
        },
      );
      const pool = this.pool!;
      await this.postStudent(runId, p, student, { mean: [...pool.stats.mean], std: [...pool.stats.std] }, classNamesOf(pool.train), result.last);
      this.post({ type: 'run-done', runId, method: p.method, best: result.testAtBestVal, last: result.last, seconds: (performance.now() - started) / 1000, stopped: stopped() });
    } finally {
      student.store.destroy();
    }
  }

  /** The teacher on the run's training rows: β histogram and the samples it gets wrong, revised by LR. */
  private async teacherView(engine: Engine, logits: Float32Array, train: Dataset, raw: Dataset, trainRows: Uint32Array, runId: number, p: TrainParams): Promise<TeacherView> {
    const C = train.numClasses;
    const rev = await reviseLabels(engine, logits, train.labels, C, { temperature: p.temperature, eta: p.eta });
    const lo = p.eta / 2;
    const hi = p.eta;
    const counts = new Array<number>(BETA_BINS).fill(0);
    let wrongCount = 0;
    let betaAtEta = 0;
    const wrong: WrongSample[] = [];
    const { channels, height, width } = train;
    const plane = height * width;
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
      // CHW bytes (or floats in [0, 1]) to HWC bytes, for a canvas.
      const chw = raw.images.subarray(k * plane * channels, (k + 1) * plane * channels);
      const scale = chw instanceof Uint8Array ? 1 : 255;
      const pixels = new Uint8Array(plane * channels);
      for (let c = 0; c < channels; c++) for (let q = 0; q < plane; q++) pixels[q * channels + c] = Math.round(chw[c * plane + q] * scale);
      wrong.push({ index: k, pixels, width, height, channels, label: train.labels[k], teacherClass: t, teacherProb: softmaxAt(z, t), revisedClass: r, revisedProb: target[r], beta });
    }
    return {
      runId,
      classes: classNamesOf(raw),
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

