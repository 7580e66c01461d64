// The messages between the page (app.ts) and the GPU worker (runner.ts). Everything the worker
// sends is plain data (structured-clone safe); pixels travel as transferable byte arrays.

import type { BenchRow, EpochTelemetry, KernelBenchResult, VerifyRow } from '../src/index.browser.js';

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
}

export type DataSource =
  | { kind: 'server'; baseUrl: string }
  /** The four IDX files a user picked (gzip or raw), by role. */
  | { kind: 'files'; trainImages: File; trainLabels: File; testImages: File; testLabels: File };

export type TeacherSource = { kind: 'url'; url: string } | { kind: 'file'; file: File };

export type ToWorker =
  | { type: 'init' }
  | { type: 'load-teacher'; source: TeacherSource }
  | { type: 'load-data'; source: DataSource; trainCount: number; testCount: number }
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
  /** 28·28 grey bytes. */
  pixels: Uint8Array;
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
  | { type: 'teacher'; source: string; model: string; dataset: string; parameters: number; testAccuracy: number | null; hash: string }
  | { type: 'data'; trainCount: number; testCount: number; source: string; seconds: number }
  | { type: 'verify-row'; row: VerifyRow }
  | { type: 'verify-done'; passed: number; failed: number; unverified: string[]; seconds: number; seed: number }
  | { type: 'bench-row'; row: BenchRow }
  | { type: 'bench-done'; result: KernelBenchResult; seconds: number }
  | { type: 'run-start'; runId: number; params: TrainParams; stepsPerEpoch: number; trainSamples: number }
  | ({ type: 'teacher-view' } & TeacherView)
  | { type: 'progress'; runId: number; method: WebMethod; step: number; epoch: number; loss: number; accuracy: number; samplesPerSecond: number }
  | { type: 'epoch'; runId: number; method: WebMethod; step: number; telemetry: EpochTelemetry }
  /** best: test accuracy at the epoch of best validation accuracy. */
  | { type: 'run-done'; runId: number; method: WebMethod; best: number; last: number; seconds: number; stopped: boolean }
  | { type: 'job-done'; job: string };
