// The messages between the page (app.ts) and the GPU worker (runner.ts). Everything the worker
// sends is plain data (structured-clone safe); pixels travel as transferable byte arrays.

import { DEFAULT_DISTILL, type BenchRow, type DistillOptions, type EpochTelemetry, type KernelBenchResult, type VerifyRow } from '../src/index.browser.js';

export const WEB_METHODS = ['ce', 'kd', 'kd+lr', 'kd+ds', 'kd+lr+ds'] as const;
export type WebMethod = (typeof WEB_METHODS)[number];

export interface TrainParams {
  method: WebMethod;
  /** Total optimizer steps; the training subset is sized so that `epochs` epochs take this many. */
  steps: number;
  epochs: number;
  batch: number;
  lr: number;
  temperature: number;
  eta: number;
  dsRatio: number;
  /** Training examples held out for DS's validation gradient (for every method, as in the CLI). */
  valSplit: number;
  /** Test examples evaluated after every epoch. */
  testCount: number;
  seed: number;
  /** How an ONNX teacher is fed (the command line's --onnx-* options); ignored for a kdgpu teacher. */
  onnx?: OnnxFeed;
}

/** The distillation a page run asks for on `subset` training images (the page's worker and the e2e test's Node twin both use it). */
export function pageDistillOptions(p: TrainParams, subset: number): DistillOptions {
  return {
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
}

/** An ONNX teacher's input: layout, pixel range (1 or 255), then (x − mean) / std per channel (one value for all, or one per channel). */
export interface OnnxFeed {
  layout: 'nchw' | 'nhwc';
  inputRange: number;
  mean: number[];
  std: number[];
}

export type DataSource =
  /** Fashion-MNIST's four files from the server (the first trainCount / testCount of each split). */
  | { kind: 'server'; baseUrl: string }
  /** The four IDX files a user picked (gzip or raw), by role: images [N,H,W] or [N,H,W,C], labels [N]. */
  | { kind: 'idx'; trainImages: File; trainLabels: File; testImages: File; testLabels: File }
  /** A train and a test CSV file (gzip or raw): a row per image, the label then the pixels, header optional. */
  | { kind: 'csv'; train: File; test: File }
  /**
   * A folder picked with a directory input: every file with its path relative to the folder
   * (`root`), e.g. 'train/cat/1.png'. The worker sorts them into classes (imageFolderListing) and
   * decodes the images with the browser's decoders.
   */
  | { kind: 'folder'; root: string; files: Array<{ path: string; file: File }> };

export type DataKind = DataSource['kind'];

/** How to read the user's own data (the CLI's --image-shape and layout). */
export interface DataOptions {
  /** idx, folder: the shape every image must have; csv: a row's shape (absent: a square of one channel). */
  imageShape?: [number, number, number?];
  /** idx (4-D files) and csv: how a colour image's values are ordered; absent: 'hwc'. */
  layout?: 'hwc' | 'chw';
}

/** A model's input (channels × height × width) and class count, as the data and checkpoints state them. */
export interface InputShape {
  channels: number;
  height: number;
  width: number;
  classes: number;
}

/** 'C×H×W, K classes': how the page and the worker name a shape. */
export function describeShape(s: InputShape): string {
  return `${s.channels}×${s.height}×${s.width}, ${s.classes} class${s.classes === 1 ? '' : 'es'}`;
}

/** Whether a model taking `model` can be trained against data of shape `data`. */
export function sameShape(model: InputShape, data: InputShape): boolean {
  return model.channels === data.channels && model.height === data.height && model.width === data.width && model.classes === data.classes;
}

export type TeacherSource = { kind: 'url'; url: string } | { kind: 'file'; file: File };

export type ToWorker =
  | { type: 'init' }
  | { type: 'load-teacher'; source: TeacherSource }
  /** trainCount / testCount: the most examples kept per split (the user's data: a seeded random sample, shuffled). */
  | { type: 'load-data'; source: DataSource; trainCount: number; testCount: number; options?: DataOptions }
  | { type: 'verify'; seed?: number; filter?: string }
  | { type: 'bench'; quick: boolean }
  | { type: 'train'; runId: number; params: TrainParams }
  | { type: 'stop' };

export interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  /** The engine's one-line name (describeAdapter). */
  name: string;
  software: boolean;
  features: string[];
  limits: Record<string, number>;
}

/** A training sample the teacher gets wrong, with what LR makes of it. */
export interface WrongSample {
  index: number;
  /** height · width · channels bytes, a pixel's channels together (HWC), rows top to bottom. */
  pixels: Uint8Array;
  width: number;
  height: number;
  channels: number;
  label: number;
  teacherClass: number;
  /** softmax(z_t) at T = 1, for the teacher's class. */
  teacherProb: number;
  revisedClass: number;
  /** The revised target's largest probability (at the KD temperature). */
  revisedProb: number;
  beta: number;
}

export interface TeacherView {
  runId: number;
  classes: string[];
  /** Over the run's training rows. */
  trainSamples: number;
  teacherWrong: number;
  /** Histogram of β over the training rows: bin lower edges (last one closed at `hi`). */
  betaHistogram: { lo: number; hi: number; counts: number[] };
  betaAtEta: number;
  wrong: WrongSample[];
  eta: number;
  temperature: number;
}

export type FromWorker =
  | { type: 'adapter'; adapter: AdapterReport }
  | { type: 'no-webgpu'; reason: string }
  | { type: 'status'; text: string }
  | { type: 'error'; job: string; message: string }
  /** input: what the teacher takes; trainedOn: its data (the checkpoint's dataset kind and where). */
  | {
      type: 'teacher';
      source: string;
      /** A kdgpu checkpoint, or an ONNX model run by onnxruntime-web (its input described by `onnxInput`). */
      format: 'kdgpu' | 'onnx';
      model: string;
      dataset: string;
      trainedOn: string;
      input: InputShape;
      classNames: string[] | null;
      /** null: not known (an ONNX model). */
      parameters: number | null;
      testAccuracy: number | null;
      hash: string;
      onnxInput?: { name: string; declared: Array<number | string>; layout: 'nchw' | 'nhwc' };
    }
  /**
   * The data loaded: its kind, shape and classes (names: an image folder's class folders,
   * Fashion-MNIST's; null when the data has none). trainTotal / testTotal: examples in the
   * files, of which trainCount / testCount were kept.
   */
  | {
      type: 'data';
      kind: DataKind;
      trainCount: number;
      testCount: number;
      trainTotal: number;
      testTotal: number;
      channels: number;
      height: number;
      width: number;
      numClasses: number;
      classNames: string[] | null;
      source: string;
      seconds: number;
    }
  /** Loading progress (e.g. images decoded so far). */
  | { type: 'data-status'; text: string }
  | { type: 'verify-row'; row: VerifyRow }
  | { type: 'verify-done'; passed: number; failed: number; unverified: string[]; seconds: number; seed: number }
  | { type: 'bench-row'; row: BenchRow }
  | { type: 'bench-done'; result: KernelBenchResult; seconds: number }
  /** teacherFree: CE without a teacher (none fits the data): no teacher logits, no teacher view. */
  | { type: 'run-start'; runId: number; params: TrainParams; stepsPerEpoch: number; trainSamples: number; teacherFree: boolean }
  | ({ type: 'teacher-view' } & TeacherView)
  | { type: 'progress'; runId: number; method: WebMethod; step: number; epoch: number; loss: number; accuracy: number; samplesPerSecond: number }
  /** teacherFree: the telemetry's teacher fields (error, β, LR) mean nothing. */
  | { type: 'epoch'; runId: number; method: WebMethod; step: number; telemetry: EpochTelemetry; teacherFree: boolean }
  /**
   * The run's student, for download: a kdgpu checkpoint (safetensors) and the same model as ONNX
   * (opset 13, the normalisation in the graph: its input is pixels in [0, 1]). Sent before run-done.
   */
  | { type: 'student'; runId: number; method: WebMethod; model: string; safetensors: Uint8Array; onnx: Uint8Array; onnxOperators: string[] }
  /** best: test accuracy at the epoch of best validation accuracy. */
  | { type: 'run-done'; runId: number; method: WebMethod; best: number; last: number; seconds: number; stopped: boolean }
  | { type: 'job-done'; job: string };
