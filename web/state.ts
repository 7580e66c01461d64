// What the page knows (window.kdgpuDemo.state, which the end-to-end test reads), the URL query it
// started from, and small views of both.

import { WEB_METHODS, type AdapterReport, type FromWorker, type InputShape, type TrainParams, type WebMethod } from './protocol.js';
import type { BenchRow } from '../src/index.browser.js';

export const query = new URLSearchParams(location.search);
/** A number from the query, or `fallback` when it is absent or not a number. */
export const num = (name: string, fallback: number) => {
  const v = query.get(name);
  return v !== null && v !== '' && Number.isFinite(Number(v)) ? Number(v) : fallback;
};

export interface RunRow {
  runId: number;
  method: WebMethod;
  params: TrainParams;
  status: string;
  best: number;
  last: number;
  epochs: number;
  steps: number;
  loss: number;
  seconds: number;
  samplesPerSecond: number;
}

/** What the page knows, readable by tests (window.kdgpuDemo). */
export const state = {
  adapter: null as AdapterReport | null,
  noWebGpu: null as string | null,
  teacher: null as Extract<FromWorker, { type: 'teacher' }> | null,
  data: null as Extract<FromWorker, { type: 'data' }> | null,
  /** Whether the teacher fits the data (null: not known yet), what the page says about it, and the methods offered. */
  compat: { fits: null as boolean | null, text: '', methods: [...WEB_METHODS] as WebMethod[] },
  /** The data's class names by label (the labels as numbers when it has none). */
  classNames: [] as string[],
  /** Data sets and teachers loaded so far (tests wait for the next one). */
  dataLoads: 0,
  teacherLoads: 0,
  verify: { running: false, rows: 0, passed: 0, failed: 0, unverified: [] as string[], done: false, seconds: 0, last: '', failures: [] as string[] },
  bench: { running: false, rows: [] as BenchRow[], done: false, fmaGflops: 0, copyGBps: 0, adapter: '', seconds: 0 },
  runs: [] as RunRow[],
  /** The last run's student, offered for download (kdgpu checkpoint and ONNX). */
  student: null as { runId: number; method: WebMethod; model: string; safetensorsBytes: number; onnxBytes: number; onnxOperators: string[]; onnxUrl: string; safetensorsUrl: string } | null,
  errors: [] as string[],
  busy: 0,
  frames: 0,
};

export const runOf = (id: number) => state.runs.find((r) => r.runId === id);

/** Class `i`'s name in the loaded data (its label when the data names none). */
export const className = (i: number) => state.classNames[i] ?? String(i);

export const dataShape = (d: { channels: number; height: number; width: number; numClasses: number }): InputShape => ({ channels: d.channels, height: d.height, width: d.width, classes: d.numClasses });
