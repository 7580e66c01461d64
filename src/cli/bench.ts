// `kdgpu bench kernels`: device ceilings and kernel throughput on this adapter.
// `kdgpu bench steps`: one training step of teacher-cnn and student-cnn on kdgpu beside
// TensorFlow.js (webgpu on the same Dawn adapter, wasm on one thread). Its code lives in bench/
// (peers are dev dependencies), bundled as dist/bench-steps.js, and runs in child processes.
// `kdgpu bench profile`: where one training step's GPU time goes, dispatch by dispatch (GPU
// timestamps), beside the step's wall time without the profiler.

import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Engine } from '../gpu/engine.js';
import type { KernelCheck } from '../kernels/check.js';
import { runKernelBench } from '../bench/kernels.js';
import { Batcher } from '../data/batches.js';
import { exampleSize } from '../data/dataset.js';
import { createModel, MODEL_NAMES } from '../nn/models.js';
import { Optimizer } from '../optim/optimizer.js';
import { BatchBuffers, GpuMetrics, trainStep } from '../train.js';
import { DeviceImages } from '../device-images.js';
import { loadDataset } from '../data/load-dataset.js';
import { formatTable } from './table.js';

export const BENCH_SUITES = ['kernels', 'steps', 'profile'] as const;

export interface BenchOptions {
  /** The results as JSON: to this file (the tables still print), or, when true, to stdout instead of the tables. */
  json?: string | boolean;
  quick?: boolean;
  filter?: string;
  adapter?: string;
  /** profile: the model, batch size, profiled steps and the Fashion-MNIST directory. */
  model?: string;
  batch?: number;
  steps?: number;
  dataDir?: string;
  /** kernels: your own kernels' checks, timed beside the built-ins. */
  checks?: KernelCheck[];
}

/** `--json [file]`, the same for every command: the results as JSON, to the file named or else to stdout. */
export function emitJson(json: string | boolean | undefined, value: unknown, out: (s: string) => void): void {
  if (json === undefined || json === false) return;
  const text = JSON.stringify(value, null, 2);
  if (typeof json === 'string') {
    writeFileSync(json, text);
    out(`wrote ${json}`);
  } else out(text);
}

export async function runBenchCommand(engine: Engine, suite: string, opts: BenchOptions, print: (s: string) => void): Promise<void> {
  // With --json and no file, stdout carries the JSON only.
  const out = opts.json === true ? () => {} : print;
  if (suite === 'steps') return runStepsSuite(engine, opts);
  if (suite === 'profile') return runProfileSuite(engine, opts, out, print);
  if (suite !== 'kernels') throw new Error(`unknown benchmark suite "${suite}" (known: ${BENCH_SUITES.join(', ')})`);
  out(`adapter: ${engine.adapterName}`);
  const result = await runKernelBench(engine, {
    quick: opts.quick,
    filter: opts.filter,
    checks: opts.checks,
    onRow: (r) => out(`  ${r.name} ${r.shape}: ${r.ms.toFixed(3)} ms (${r.msMin.toFixed(3)}-${r.msMax.toFixed(3)})${r.unit ? `, ${r.rate.toFixed(2)} ${r.unit}` : ''}`),
  });
  out(`\nceilings: FMA-bound ${result.fmaGflops.toFixed(2)} GFLOP/s, copy ${result.copyGBps.toFixed(2)} GB/s (read + write)`);
  out(
    formatTable(
      ['kernel', 'shape', 'ms (median)', 'min-max', 'rate', 'of ceiling'],
      result.rows.map((r) => [r.name, r.shape, r.ms.toFixed(3), `${r.msMin.toFixed(3)}-${r.msMax.toFixed(3)}`, r.unit ? `${r.rate.toFixed(2)} ${r.unit}` : '–', r.unit ? `${(100 * r.fractionOfCeiling).toFixed(1)}%` : '–']),
    ),
  );
  emitJson(opts.json, { date: new Date().toISOString(), ...result }, print);
}

/**
 * Run bench/steps.ts (dist/bench-steps.js, beside this bundle) in its own process, which starts one
 * child per backend. The engine of this process only tells it which adapter Dawn picked, so the
 * tfjs-webgpu peer is put on the same one.
 */
async function runStepsSuite(engine: Engine, opts: { json?: string | boolean; quick?: boolean; filter?: string; adapter?: string }): Promise<void> {
  if (opts.json === true) throw new Error('bench steps: --json needs a file (the peers print their progress on stdout)');
  const script = fileURLToPath(new URL('./bench-steps.js', import.meta.url));
  if (!existsSync(script)) {
    throw new Error(
      'bench steps compares kdgpu with TensorFlow.js (@tensorflow/tfjs, -backend-wasm, -backend-webgpu: dev dependencies), so it runs from a clone of the repository, not from the installed package: ' +
        'git clone the project, then npm install && npm run build && npx kdgpu bench steps',
    );
  }
  const args = [script, engine.software ? '--swiftshader' : '--no-swiftshader', '--adapter', opts.adapter ?? 'auto'];
  if (opts.quick) args.push('--quick');
  if (opts.filter) args.push('--filter', opts.filter);
  if (typeof opts.json === 'string') args.push('--json', opts.json);
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (c, signal) => resolve(signal ? 128 : c));
  });
  if (code !== 0) throw new Error(`bench steps failed (exit ${code})`);
}

/**
 * One training step (SGD with momentum, as `kdgpu train` runs it) of a model on Fashion-MNIST:
 * the wall time of unprofiled steps (each ending in one loss readback), then the same steps with
 * every dispatch timed by GPU timestamps, one row per dispatch of the step (mean over the
 * profiled steps). Profiling puts each dispatch in a pass of its own, so the GPU sum is an upper
 * bound of what the unprofiled step spends on the GPU.
 */
async function runProfileSuite(engine: Engine, opts: BenchOptions, out: (s: string) => void, print: (s: string) => void): Promise<void> {
  const modelName = opts.model ?? 'student-cnn';
  if (!(MODEL_NAMES as readonly string[]).includes(modelName)) throw new Error(`bench profile: unknown model "${modelName}" (known: ${MODEL_NAMES.join(', ')})`);
  const batch = opts.batch ?? 128;
  const steps = opts.steps ?? (opts.quick ? 2 : 5);
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`bench profile: --batch must be a positive integer (got ${opts.batch})`);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`bench profile: --steps must be a positive integer (got ${opts.steps})`);
  if (!engine.canProfile) throw new Error(`bench profile: this adapter (${engine.adapterName}) does not support timestamp queries`);
  const data = await loadDataset('fashion-mnist', opts.dataDir);
  const t = data.train;
  const model = createModel(engine, modelName, { channels: t.channels, height: t.height, width: t.width, classes: t.numClasses }, 1);
  const optimizer = new Optimizer(model.store, { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 5e-4 }, 0.01);
  const batcher = new Batcher(t, { batchSize: batch, seed: 1 });
  const bufs = new BatchBuffers(engine, batch, exampleSize(t));
  const images = new DeviceImages(engine, t);
  const metrics = new GpuMetrics(engine);
  batcher.startEpoch(0);
  let s = 0;
  const step = () => {
    const b = batcher.fill(s++ % batcher.batchesPerEpoch);
    bufs.load(images, b);
    trainStep(model, optimizer, bufs, b.size, metrics);
  };
  out(`adapter: ${engine.adapterName}; ${modelName}, batch ${batch}, SGD with momentum; ${steps} profiled step(s)`);
  try {
    for (let i = 0; i < 3; i++) step(); // pipeline compilation, pool warm-up
    await metrics.take();
    const wall: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      step();
      await metrics.take();
      wall.push(performance.now() - t0);
    }
    engine.startProfiling({ perDispatch: true });
    for (let i = 0; i < steps; i++) {
      engine.profileNextStep();
      step();
    }
    const entries = await engine.stopProfiling();
    await metrics.take();
    const rows = entries.map((e) => ({ ordinal: e.ordinal!, kernel: e.kernel, variant: e.variant!, grid: e.grid!, ms: e.ms / e.count }));
    rows.sort((a, b) => a.ordinal - b.ordinal);
    const gpu = rows.reduce((sum, r) => sum + r.ms, 0);
    out(
      formatTable(
        ['#', 'kernel', 'variant', 'workgroups', 'GPU ms', 'share'],
        rows.map((r) => [String(r.ordinal), r.kernel, r.variant, r.grid, r.ms.toFixed(3), `${((100 * r.ms) / gpu).toFixed(1)}%`]),
      ),
    );
    const sorted = [...wall].sort((a, b) => a - b);
    const median = sorted[sorted.length >> 1];
    out(`\n${rows.length} dispatches a step; GPU time (profiled) ${gpu.toFixed(2)} ms; wall time of an unprofiled step (median of ${steps}, with its readback) ${median.toFixed(2)} ms`);
    emitJson(opts.json, { date: new Date().toISOString(), adapter: engine.adapterName, model: modelName, batch, steps, wallMs: wall, gpuMs: gpu, dispatches: rows }, print);
  } finally {
    metrics.destroy();
    bufs.destroy();
    images.destroy();
    model.store.destroy();
  }
}
