// Kernel benchmarks that run wherever the engine runs (Node or a browser tab): the device's
// measured ceilings (FMA-bound GFLOP/s, copy GB/s through shader loads/stores) and every core
// kernel at representative sizes, each as a fraction of the ceiling that bounds it.
//
// Work declared per row: 2·M·N·K FLOPs for GEMMs and each direction of a convolution (its
// implicit GEMM); for memory-bound kernels the bytes of one read of each input and one write of
// each output per kernel dispatched (a kernel that reads an input twice, like batch-norm
// statistics' two passes, is credited one read), so the fraction of the copy ceiling says how
// close a kernel comes to the least traffic its job needs.

import type { Engine } from '../gpu/engine.js';
import { ceilingKernel, CEILING_WG as WG, CEILING_FLOPS_PER_ITER } from '../kernels/ceiling.js';
import { elementwise } from '../kernels/elementwise.js';
import { matmul } from '../kernels/matmul.js';
import { reduceAxis } from '../kernels/reduce.js';
import { softmax, softmaxCrossEntropy } from '../kernels/softmax.js';
import { kdLoss, labelRevision } from '../kernels/kd.js';
import { conv2dBackwardData, conv2dBackwardWeight, conv2dPoolBackwardWeightC1, conv2dReluMaxPoolForward, convOutSize, type ConvShape } from '../kernels/conv2d.js';
import { conv2dBackwardDataWinograd, conv2dReluMaxPoolWinograd } from '../kernels/winograd.js';
import { maxPoolBackward, maxPoolForward, poolOutSize, type PoolShape } from '../kernels/pool2d.js';
import { batchnormApply, batchnormBackward, batchnormStats, type BnShape } from '../kernels/batchnorm.js';
import { optimizerUpdate, type OptimizerRule } from '../kernels/optim.js';
import { createModel } from '../nn/models.js';
import { Rng } from '../util/rng.js';
import type { KernelCheck } from '../kernels/check.js';

export interface BenchRow {
  name: string;
  shape: string;
  /** Median time of one call over the samples, and the fastest and slowest sample. */
  ms: number;
  msMin: number;
  msMax: number;
  /** GFLOP/s for compute-bound kernels, GB/s for memory-bound ones (NaN when the work is not declared). */
  rate: number;
  unit: 'GFLOP/s' | 'GB/s' | '';
  /** rate / measured ceiling of the same unit. */
  fractionOfCeiling: number;
}

export interface KernelBenchResult {
  adapter: string;
  fmaGflops: number;
  copyGBps: number;
  rows: BenchRow[];
}

export interface KernelBenchOptions {
  quick?: boolean;
  onRow?: (row: BenchRow) => void;
  /** Only rows whose name contains this. */
  filter?: string;
  /** Your own kernels' checks: each verification case is timed too (its `work`, if declared, gives a rate). */
  checks?: KernelCheck[];
}

export interface Timing {
  median: number;
  min: number;
  max: number;
}

/**
 * Time of one call of `record` in ms: median, fastest and slowest of the samples. Each sample records `reps` calls into one submit and
 * waits for the queue, so the per-submit overhead is shared and the figure is GPU-bound.
 */
export async function timeDispatchStats(engine: Engine, record: () => void, opts: { reps: number; samples: number }): Promise<Timing> {
  record(); // warm-up: compiles the pipeline and touches the buffers
  await engine.settle();
  const times: number[] = [];
  for (let s = 0; s < opts.samples; s++) {
    const t0 = performance.now();
    for (let r = 0; r < opts.reps; r++) record();
    await engine.settle();
    times.push((performance.now() - t0) / opts.reps);
  }
  times.sort((x, y) => x - y);
  return { median: times[Math.floor(times.length / 2)], min: times[0], max: times[times.length - 1] };
}

/** Median time of one call of `record` in ms (see timeDispatchStats). */
export async function timeDispatches(engine: Engine, record: () => void, opts: { reps: number; samples: number }): Promise<number> {
  return (await timeDispatchStats(engine, record, opts)).median;
}

export async function runKernelBench(engine: Engine, opts: KernelBenchOptions = {}): Promise<KernelBenchResult> {
  const rng = new Rng(1);
  const samples = opts.quick ? 3 : 5;
  const temps: GPUBuffer[] = [];
  const buf = (n: number, lo = -1, hi = 1) => {
    const b = engine.upload(rng.fillUniform(n, lo, hi));
    temps.push(b);
    return b;
  };

  // Ceilings.
  const fmaThreads = 64 * 256;
  const iters = opts.quick ? 256 : 1024;
  const fmaIn = buf(4);
  const fmaOut = buf(fmaThreads * 4);
  const fmaMs = await timeDispatchStats(
    engine,
    () => engine.dispatch(ceilingKernel, { variant: { MODE: 0 }, bind: { src: fmaIn, dst: fmaOut }, uniforms: { n: fmaThreads, iters }, workgroups: fmaThreads / WG }),
    { reps: 2, samples },
  );
  const fmaGflops = (fmaThreads * iters * CEILING_FLOPS_PER_ITER) / (fmaMs.median * 1e6);

  const copyFloats = (opts.quick ? 4 : 16) * 1024 * 1024;
  const src = buf(copyFloats);
  const dst = buf(copyFloats);
  const copyMs = await timeDispatchStats(
    engine,
    () => engine.dispatch(ceilingKernel, { variant: { MODE: 1 }, bind: { src, dst }, uniforms: { n: copyFloats / 4, iters: 0 }, workgroups: copyFloats / 4 / WG }),
    { reps: 2, samples },
  );
  const copyGBps = (copyFloats * 8) / (copyMs.median * 1e6);

  const rows: BenchRow[] = [];
  const add = (name: string, shape: string, t: Timing, work: number, unit: BenchRow['unit']) => {
    const rate = unit ? work / (t.median * 1e6) : NaN;
    const ceiling = unit === 'GFLOP/s' ? fmaGflops : copyGBps;
    const row: BenchRow = { name, shape, ms: t.median, msMin: t.min, msMax: t.max, rate, unit, fractionOfCeiling: rate / ceiling };
    rows.push(row);
    opts.onRow?.(row);
  };
  const want = (name: string) => !opts.filter || name.includes(opts.filter);

  const gemms: Array<[string, number, number, number, boolean, boolean]> = [
    ['1024x1024x1024', 1024, 1024, 1024, false, false],
    ['teacher fc1 fwd 128x256x3136', 128, 256, 3136, false, true],
    ['teacher fc1 dW 256x3136x128 (Aᵀ)', 256, 3136, 128, true, false],
  ];
  if (want('matmul')) {
    for (const [label, M, N, K, tA, tB] of opts.quick ? gemms.slice(0, 1).map((g) => ['512x512x512', 512, 512, 512, false, false] as typeof g) : gemms) {
      const a = buf(M * K);
      const b = buf(K * N);
      const c = buf(M * N);
      const ms = await timeDispatchStats(engine, () => matmul(engine, a, b, c, M, N, K, { transA: tA, transB: tB }), { reps: 1, samples: opts.quick ? 2 : 3 });
      add('matmul', label, ms, 2 * M * N * K, 'GFLOP/s');
    }
  }
  if (want('softmax')) {
    for (const [rows_, cols] of [[128, 10], [1024, 1000], [4, 100_000]] as const) {
      const x = buf(rows_ * cols, -5, 5);
      const y = buf(rows_ * cols);
      const ms = await timeDispatchStats(engine, () => softmax(engine, x, y, rows_, cols, { temperature: 4 }), { reps: 4, samples });
      add('softmax', `${rows_}x${cols} T=4`, ms, rows_ * cols * 8, 'GB/s');
    }
  }
  if (want('softmax_xent')) {
    for (const [rows_, cols] of [[128, 10], [4096, 1000]] as const) {
      const logits = buf(rows_ * cols, -5, 5);
      const labels = engine.upload(new Uint32Array(rows_).map(() => rng.int(cols)));
      temps.push(labels);
      const loss = buf(rows_);
      const grad = buf(rows_ * cols);
      const correct = buf(rows_);
      const ms = await timeDispatchStats(engine, () => softmaxCrossEntropy(engine, { logits, labels, loss, grad, correct }, rows_, cols), { reps: 4, samples });
      add('softmax_xent', `${rows_}x${cols}`, ms, rows_ * cols * 8 + rows_ * 12, 'GB/s');
    }
  }
  if (want('elementwise')) {
    const n = (opts.quick ? 1 : 4) * 1024 * 1024;
    const a = buf(n);
    const b = buf(n);
    const c = buf(n);
    const ms = await timeDispatchStats(engine, () => elementwise(engine, 'add', a, b, c, n), { reps: 4, samples });
    add('elementwise', `add n=${n}`, ms, n * 12, 'GB/s');
  }
  if (want('reduce')) {
    for (const [shape, axis] of [[[1024, 1024], 1], [[1024, 1024], 0]] as const) {
      const n = shape[0] * shape[1];
      const x = buf(n);
      const y = buf(shape[axis === 1 ? 0 : 1]);
      const ms = await timeDispatchStats(engine, () => reduceAxis(engine, x, y, shape, axis), { reps: 4, samples });
      add('reduce_axis', `sum [${shape.join('x')}] axis ${axis}`, ms, n * 4, 'GB/s');
    }
  }
  if (want('kd_loss')) {
    // The fused distillation kernel against the same gradient computed by separate kernels:
    // label_revision → p, softmax(zs/T) → q_T, softmax_xent → CE gradient, then two axpys:
    // d = q_T − p, grad = grad_CE + (λ2·T/B)·d. (The separate path gets the teacher rows already
    // gathered and skips the mask and the KL value, so it is the cheaper of the two on paper.)
    const lr = { revise: true, eta: 0.9, scope: 'all' as const, betaAtT1: false };
    for (const [B, C] of [[128, 10], [4096, 100]] as const) {
      const zs = buf(B * C, -4, 4);
      const zt = buf(B * C, -6, 6);
      const labels = engine.upload(new Uint32Array(B).map(() => rng.int(C)));
      const idx = engine.upload(Uint32Array.from({ length: B }, (_, i) => i));
      const mask = engine.upload(new Float32Array(B).fill(1));
      temps.push(labels, idx, mask);
      const [loss, correct, grad, p, beta, wrong, qt, gce, d] = [B, B, B * C, B * C, B, B, B * C, B * C, B * C].map((n) => buf(n));
      const bytes = B * C * 4 * 3 + B * 4 * 5;
      const fusedMs = await timeDispatchStats(
        engine,
        () => kdLoss(engine, { zs, zt, labels, idx, mask, loss, grad, correct }, B, C, { loss: { kind: 'kd', lambda1: 0.1, lambda2: 0.9 }, temperature: 4, revision: lr, useMask: true }),
        { reps: 4, samples },
      );
      add('kd_loss', `fused LR+KD+mask+grad ${B}x${C}`, fusedMs, bytes, 'GB/s');
      const separateMs = await timeDispatchStats(
        engine,
        () => {
          labelRevision(engine, { zt, labels, p, beta, wrong }, B, C, 4, lr);
          softmax(engine, zs, qt, B, C, { temperature: 4 });
          softmaxCrossEntropy(engine, { logits: zs, labels, loss, grad: gce, correct }, B, C, 0.1 / B);
          elementwise(engine, 'axpy', qt, p, d, B * C, -1);
          elementwise(engine, 'axpy', gce, d, grad, B * C, (0.9 * 4) / B);
        },
        { reps: 4, samples },
      );
      add('kd_loss', `separate, 5 kernels ${B}x${C} (fused is ${(separateMs.median / fusedMs.median).toFixed(1)}x faster)`, separateMs, bytes, 'GB/s');
    }
  }
  /** Times `record` as the row `name` (skipped when the filter leaves it out). */
  const timed = async (name: string, shape: string, record: () => void, work: number, unit: BenchRow['unit'], o: { reps: number; samples?: number }) => {
    if (!want(name)) return;
    add(name, shape, await timeDispatchStats(engine, record, { reps: o.reps, samples: o.samples ?? samples }), work, unit);
  };
  const heavy = { reps: 1, samples: opts.quick ? 2 : 3 };

  // Convolutions at the models' shapes (src/nn/models.ts, Fashion-MNIST 1x28x28, batch 128): the
  // second conv of each model in its three directions, forward with bias, ReLU and the 2x2 max
  // pool fused as conv2dReluMaxPool runs it, backward-weight with the bias gradient and its
  // split-k reduce; the direct first-layer kernels at the first convs (1 input channel; the
  // teacher's only without --quick).
  const conv3 = (N: number, CI: number, HW: number, CO: number): ConvShape => ({ N, CI, H: HW, W: HW, CO, KH: 3, KW: 3, stride: 1, pad: 1 });
  const convLabel = (label: string, s: ConvShape) => `${label} N${s.N} ${s.CI}->${s.CO} ${s.H}x${s.W} k${s.KH}x${s.KW} p${s.pad}`;
  const gemmConvs: Array<[string, ConvShape]> = [
    ['student conv2', conv3(128, 8, 14, 16)],
    ['teacher conv2', conv3(128, 32, 14, 64)],
  ];
  if (['conv2d_forward', 'conv2d_backward_data', 'conv2d_backward_weight'].some(want)) {
    for (const [label, s] of gemmConvs) {
      const { OH, OW } = convOutSize(s);
      const K = s.CI * s.KH * s.KW;
      const x = buf(s.N * s.CI * s.H * s.W);
      const w = buf(s.CO * K, -0.3, 0.3);
      const bias = buf(s.CO);
      const pooled = buf((s.N * s.CO * OH * OW) / 4);
      const arg = buf((s.N * s.CO * OH * OW) / 4);
      const dy = buf(s.N * s.CO * OH * OW);
      const dx = buf(s.N * s.CI * s.H * s.W);
      const dw = buf(s.CO * K);
      const db = buf(s.CO);
      const flops = (rows: number, cols: number, k: number) => 2 * rows * cols * k;
      await timed('conv2d_forward', `${convLabel(label, s)} +bias ReLU maxpool 2x2`, () => conv2dReluMaxPoolForward(engine, s, { x, w, bias, y: pooled, arg }), flops(s.N * OH * OW, s.CO, K), 'GFLOP/s', heavy);
      await timed('conv2d_backward_data', convLabel(label, s), () => conv2dBackwardData(engine, s, { dy, w, dx }), flops(s.N * s.H * s.W, s.CI, s.CO * s.KH * s.KW), 'GFLOP/s', heavy);
      await timed('conv2d_backward_weight', `${convLabel(label, s)} +bias grad, split-k reduce`, () => conv2dBackwardWeight(engine, s, { dy, x, dw, db }), flops(s.CO, K, s.N * OH * OW), 'GFLOP/s', heavy);
    }
  }
  // Winograd F(2×2, 3×3) beside the implicit GEMM at the same convs (the models' 3×3 convs with
  // more than one input channel; the first layers' forward is the direct kernel on CPU adapters
  // and their input gradient is never computed), forward as the models run it (bias, ReLU and the
  // 2×2 max pool fused) and backward-data. Both rates count the direct convolution's FLOPs,
  // 2·N·CO·OH·OW·CI·9 (Winograd does 1/2.25 of the multiplies), so they compare as times do.
  if (want('winograd')) {
    for (const [label, s] of gemmConvs) {
      const { OH, OW } = convOutSize(s);
      const x = buf(s.N * s.CI * s.H * s.W);
      const w = buf(s.CO * s.CI * 9, -0.3, 0.3);
      const bias = buf(s.CO);
      const pooled = buf((s.N * s.CO * OH * OW) / 4);
      const arg = buf((s.N * s.CO * OH * OW) / 4);
      const dy = buf(s.N * s.CO * OH * OW);
      const dx = buf(s.N * s.CI * s.H * s.W);
      const direct = 2 * s.N * s.CO * OH * OW * s.CI * 9;
      const fwd = `${convLabel(label, s)} +bias ReLU maxpool 2x2`;
      await timed('winograd', `${fwd}: implicit GEMM`, () => conv2dReluMaxPoolForward(engine, s, { x, w, bias, y: pooled, arg }), direct, 'GFLOP/s', heavy);
      await timed('winograd', `${fwd}: Winograd`, () => conv2dReluMaxPoolWinograd(engine, s, { x, w, bias, y: pooled, arg }), direct, 'GFLOP/s', heavy);
      await timed('winograd', `${convLabel(label, s)} backward data: implicit GEMM`, () => conv2dBackwardData(engine, s, { dy, w, dx }), direct, 'GFLOP/s', heavy);
      await timed('winograd', `${convLabel(label, s)} backward data: Winograd`, () => conv2dBackwardDataWinograd(engine, s, { dy, w, dx }), direct, 'GFLOP/s', heavy);
    }
  }
  // The direct first layer: forward as above (FLOPs of the dense conv, all of which it computes);
  // its backward reads the pooled gradient and the winners the forward recorded, so it does the
  // multiply-adds of one winner per pooled output (a quarter of the dense weight gradient's).
  const directConvs: Array<[string, ConvShape]> = [['student conv1', conv3(128, 1, 28, 8)], ...(opts.quick ? [] : [['teacher conv1', conv3(128, 1, 28, 32)] as [string, ConvShape]])];
  if (['conv2d_relu_pool_c1', 'conv2d_pool_backward_weight_c1'].some(want)) {
    for (const [label, s] of directConvs) {
      const pooledCount = (s.N * s.CO * s.H * s.W) / 4;
      const x = buf(s.N * s.H * s.W);
      const w = buf(s.CO * 9, -0.5, 0.5);
      const bias = buf(s.CO, -0.1, 0.1);
      const pooled = buf(pooledCount);
      const arg = buf(pooledCount);
      const dp = buf(pooledCount);
      const dw = buf(s.CO * 9);
      const db = buf(s.CO);
      const forward = () => conv2dReluMaxPoolForward(engine, s, { x, w, bias, y: pooled, arg }, 'direct');
      await timed('conv2d_relu_pool_c1', `${convLabel(label, s)} +bias ReLU maxpool 2x2, direct`, forward, 2 * s.N * s.H * s.W * s.CO * 9, 'GFLOP/s', { reps: 2 });
      if (!want('conv2d_relu_pool_c1')) forward(); // the winners the backward reads
      await timed(
        'conv2d_pool_backward_weight_c1',
        `${convLabel(label, s)} from pooled grad + winners, +bias grad, direct`,
        () => conv2dPoolBackwardWeightC1(engine, s, { dp, arg, x, dw, db }),
        2 * pooledCount * 9,
        'GFLOP/s',
        { reps: 2 },
      );
    }
  }
  if (want('pool2d')) {
    // The max pool after the teacher's conv2 (its backward runs in every teacher step).
    const s: PoolShape = { planes: 128 * 64, H: 14, W: 14, KH: 2, KW: 2, stride: 2, pad: 0 };
    const { OH, OW } = poolOutSize(s);
    const n = s.planes * s.H * s.W;
    const m = s.planes * OH * OW;
    const x = buf(n, 0, 1);
    const y = buf(m);
    const arg = buf(m);
    const dy = buf(m);
    const dx = buf(n);
    const dims = `[128x64x${s.H}x${s.W}]`;
    await timed('pool2d', `max 2x2/2 forward ${dims}, ReLU mask`, () => maxPoolForward(engine, s, x, y, arg, true), n * 4 + m * 8, 'GB/s', { reps: 2 });
    await timed('pool2d', `max 2x2/2 backward ${dims}`, () => maxPoolBackward(engine, s, dy, arg, dx), m * 8 + n * 4, 'GB/s', { reps: 2 });
  }
  if (['batchnorm_stats', 'batchnorm_apply', 'batchnorm_backward'].some(want)) {
    const s: BnShape = { N: 128, C: 64, HW: 14 * 14 };
    const n = s.N * s.C * s.HW;
    const dims = `[${s.N}x${s.C}x14x14]`;
    const x = buf(n);
    const [mean, invstd, runningMean, gamma, beta, dgamma, dbeta] = [0, 0, 0, 0, 0, 0, 0].map(() => buf(s.C));
    const runningVar = buf(s.C, 0.5, 1.5);
    const y = buf(n);
    const dy = buf(n);
    const dx = buf(n);
    const stats = () => batchnormStats(engine, s, { x, mean, invstd, runningMean, runningVar }, 1e-5, 0.1);
    // Statistics: x read (twice by the kernel: mean, then variance, for accuracy; credited once).
    await timed('batchnorm_stats', `training statistics ${dims}`, stats, n * 4, 'GB/s', { reps: 2 });
    if (!want('batchnorm_stats')) stats(); // the batch statistics the others read
    await timed('batchnorm_apply', `training, normalise-scale-shift ${dims}`, () => batchnormApply(engine, s, { x, mean, stat: invstd, gamma, beta, y }, { eval: false, eps: 1e-5 }), n * 8, 'GB/s', { reps: 2 });
    // Backward: two kernels, a per-channel reduce (reads dy, x) and the apply (reads dy, x, writes dx).
    await timed(
      'batchnorm_backward',
      `reduce (dy, x) + apply (dy, x -> dx) ${dims}`,
      () => batchnormBackward(engine, s, { dy, x, mean, invstd, gamma, dx, dgamma, dbeta }, { dx: false, params: false }),
      n * 20,
      'GB/s',
      { reps: 2 },
    );
  }
  if (want('optimizer_update')) {
    // One update over a model's flat parameter buffer (padding included), as Optimizer.step runs it:
    // SGD with momentum reads param, grad, m and writes param, m; Adam also reads and writes v.
    const input = { channels: 1, height: 28, width: 28, classes: 10 };
    const rules: Array<[string, OptimizerRule, number]> = [
      ['SGD momentum 0.9 wd 5e-4', { kind: 'sgd', momentum: 0.9, nesterov: false, weightDecay: 5e-4 }, 20],
      ['Adam', { kind: 'adam', beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false }, 28],
    ];
    for (const model of ['teacher-cnn', 'student-cnn']) {
      const built = createModel(engine, model, input, 1);
      const n = built.store.paramFloats;
      built.store.destroy();
      const param = buf(n);
      const grad = buf(n, -0.01, 0.01);
      const m = buf(n, -0.01, 0.01);
      const v = buf(n, 0, 1e-4);
      const health = engine.upload(new Uint32Array(4), 'health');
      temps.push(health);
      for (const [label, rule, bytesPerParam] of rules) {
        await timed('optimizer_update', `${label}, ${model} n=${n}`, () => optimizerUpdate(engine, rule, { param, grad, m, v, health }, n, 1e-3, 10), n * bytesPerParam, 'GB/s', { reps: 4 });
      }
    }
  }
  // Your own kernels: every verification case of every check, timed as it is recorded there.
  for (const check of opts.checks ?? []) {
    if (!want(check.name)) continue;
    for (const c of check.cases(rng)) {
      const bufs: Record<string, GPUBuffer> = {};
      for (const [name, data] of Object.entries(c.inputs)) bufs[name] = engine.upload(data, name);
      for (const [name, o] of Object.entries(c.outputs)) bufs[name] ??= engine.alloc(Math.max(1, typeof o === 'number' ? o : o.count) * 4, name);
      const t = await timeDispatchStats(engine, () => c.run(engine, bufs), { reps: 2, samples });
      add(check.name, c.shape, t, c.work?.amount ?? 0, c.work?.unit ?? '');
      for (const b of Object.values(bufs)) engine.release(b);
    }
  }
  for (const t of temps) engine.release(t);
  return { adapter: engine.adapterName, fmaGflops, copyGBps, rows };
}
