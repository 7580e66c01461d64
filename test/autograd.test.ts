// Backward passes proven two ways:
//  1. each op's float64 reference backward (the one the GPU kernels are verified against) matches
//     central finite differences of its float64 reference forward;
//  2. the tape, end to end on the GPU (views, fused ReLU, batch norm, a residual fan-out, the fused
//     loss seed), matches finite differences of the GPU loss, parameter by parameter.
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/util/rng.js';
import type { ConvShape } from '../src/kernels/conv2d.js';
import { conv2dBackwardReference, conv2dForwardReference } from '../src/kernels/conv2d.check.js';
import type { PoolShape } from '../src/kernels/pool2d.js';
import { poolReference } from '../src/kernels/pool2d.check.js';
import { batchnormReference } from '../src/kernels/batchnorm.check.js';
import { matmulReference } from '../src/kernels/matmul.check.js';
import { softmaxXentReference } from '../src/kernels/softmax.check.js';
import { testEngine } from './engine.js';
import { Graph, type Tensor } from '../src/tensor.js';
import * as ops from '../src/autograd.js';
import { ParameterStore } from '../src/nn/parameters.js';

/** Central differences of L(x) = Σ dy·f(x) at every element of x (float64). */
function numericGrad(x: Float64Array, f: (x: Float64Array) => ArrayLike<number>, dy: ArrayLike<number>, h = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  const L = () => {
    const y = f(x);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * dy[i];
    return s;
  };
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i];
    x[i] = x0 + h;
    const lp = L();
    x[i] = x0 - h;
    const lm = L();
    x[i] = x0;
    g[i] = (lp - lm) / (2 * h);
  }
  return g;
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol = 1e-6): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
  expect(worst).toBeLessThan(tol);
}

const rand = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => rng.uniform(-1, 1));

describe('reference backwards match finite differences (float64)', () => {
  it('conv2d: input, weight and bias', () => {
    const rng = new Rng(1);
    for (const s of [
      { N: 2, CI: 3, H: 5, W: 6, CO: 4, KH: 3, KW: 3, stride: 1, pad: 1 },
      { N: 1, CI: 2, H: 7, W: 5, CO: 3, KH: 3, KW: 2, stride: 2, pad: 1 },
    ] as ConvShape[]) {
      const x = rand(rng, s.N * s.CI * s.H * s.W);
      const w = rand(rng, s.CO * s.CI * s.KH * s.KW);
      const b = rand(rng, s.CO);
      const dy = rand(rng, conv2dForwardReference(s, x, w, b).length);
      const ref = conv2dBackwardReference(s, x, w, dy);
      expectClose(ref.dx, numericGrad(x, (xx) => conv2dForwardReference(s, xx, w, b), dy));
      expectClose(ref.dw, numericGrad(w, (ww) => conv2dForwardReference(s, x, ww, b), dy));
      expectClose(ref.db, numericGrad(b, (bb) => conv2dForwardReference(s, x, w, bb), dy));
    }
  });

  it('max and average pooling', () => {
    const rng = new Rng(2);
    const s: PoolShape = { planes: 3, H: 6, W: 7, KH: 3, KW: 2, stride: 2, pad: 1 };
    const x = Float64Array.from(rng.permutation(3 * 6 * 7), (v) => v / 10); // distinct: max is differentiable
    const dy = rand(rng, poolReference(s, 'max', x, new Float64Array(1000)).y.length);
    for (const kind of ['max', 'avg'] as const) {
      const ref = poolReference(s, kind, x, dy);
      expectClose(ref.dx, numericGrad(x, (xx) => poolReference(s, kind, xx, dy).y, dy, 1e-4));
    }
  });

  it('batch norm (training statistics): input, gamma, beta', () => {
    const rng = new Rng(3);
    const s = { N: 3, C: 2, HW: 5 };
    const n = s.N * s.C * s.HW;
    const x = rand(rng, n);
    const gamma = rand(rng, s.C);
    const beta = rand(rng, s.C);
    const dy = rand(rng, n);
    const ref = batchnormReference(s, x, gamma, beta, dy, 1e-5);
    expectClose(ref.dx, numericGrad(x, (xx) => batchnormReference(s, xx, gamma, beta, dy, 1e-5).y, dy), 1e-5);
    expectClose(ref.dgamma, numericGrad(gamma, (gg) => batchnormReference(s, x, gg, beta, dy, 1e-5).y, dy), 1e-5);
    expectClose(ref.dbeta, numericGrad(beta, (bb) => batchnormReference(s, x, gamma, bb, dy, 1e-5).y, dy), 1e-5);
  });

  it('linear via matmul: dx = dy·w, dw = dyᵀ·x, db = Σ dy', () => {
    const rng = new Rng(4);
    const [B, IN, OUT] = [3, 5, 4];
    const x = rand(rng, B * IN);
    const w = rand(rng, OUT * IN);
    const b = rand(rng, OUT);
    const dy = rand(rng, B * OUT);
    const f = (xx: ArrayLike<number>, ww: ArrayLike<number>, bb: ArrayLike<number>) => matmulReference(xx, ww, B, OUT, IN, { transB: true, bias: bb });
    expectClose(matmulReference(dy, w, B, IN, OUT), numericGrad(x, (xx) => f(xx, w, b), dy));
    expectClose(matmulReference(dy, x, OUT, IN, B, { transA: true }), numericGrad(w, (ww) => f(x, ww, b), dy));
  });

  it('softmax cross-entropy: the fused gradient is d(mean loss)/d(logits)', () => {
    const rng = new Rng(5);
    const [B, C] = [4, 7];
    const z = rand(rng, B * C).map((v) => 3 * v);
    const y = Uint32Array.from({ length: B }, () => rng.int(C));
    const ref = softmaxXentReference(z, y, B, C, 1 / B);
    const meanLoss = (zz: ArrayLike<number>) => [softmaxXentReference(zz, y, B, C, 1 / B).loss.reduce((s, v) => s + v, 0) / B];
    expectClose(ref.grad, numericGrad(z, meanLoss, [1]));
  });
});

type Engine = Awaited<ReturnType<typeof testEngine>>;

/**
 * Backward once through `run`, then compare 4 random entries of every trainable parameter's
 * gradient with central differences of the GPU loss (mean over the batch of N).
 */
async function checkTape(engine: Engine, store: ParameterStore, rng: Rng, N: number, run: (record: boolean) => { g: Graph; loss: { data: GPUBufferBinding } }): Promise<number> {
  const lossValue = async () => {
    const { g, loss } = run(false);
    const l = await engine.readF32(loss.data.buffer, N);
    g.release();
    return l.reduce((a, b) => a + b, 0) / N;
  };
  const { g } = run(true);
  g.backward();
  const grads = await engine.readF32(store.buffers.grads, store.paramFloats);
  g.release();

  const params = await engine.readF32(store.buffers.params, store.paramFloats);
  const h = 1e-2;
  let checked = 0;
  for (const e of store.entries.filter((e) => e.trainable)) {
    for (let t = 0; t < 4; t++) {
      const i = e.offset + rng.int(e.size);
      const p0 = params[i];
      engine.write(store.buffers.params, Float32Array.of(p0 + h), i * 4);
      const lp = await lossValue();
      engine.write(store.buffers.params, Float32Array.of(p0 - h), i * 4);
      const lm = await lossValue();
      engine.write(store.buffers.params, Float32Array.of(p0), i * 4);
      const numeric = (lp - lm) / (2 * h);
      expect(Math.abs(grads[i] - numeric), `${e.name}[${i - e.offset}]: tape ${grads[i]}, numeric ${numeric}`).toBeLessThan(3e-3 + 0.03 * Math.abs(numeric));
      checked++;
    }
  }
  return checked;
}

describe('the tape on the GPU matches finite differences of the GPU loss', () => {
  it('conv → batch norm + fused ReLU → residual add (fan-out) → max pool → flatten → linear → cross-entropy', async () => {
    const engine = await testEngine();
    const rng = new Rng(6);
    const [N, C, H, W, K] = [4, 2, 6, 6, 3];
    const store = new ParameterStore(engine);
    const init = (n: number, scale = 0.5) => Float32Array.from({ length: n }, () => rng.uniform(-scale, scale));
    store.param('conv.weight', [3, C, 3, 3], init(3 * C * 9));
    store.param('conv.bias', [3], init(3));
    store.param('bn.weight', [3], init(3).map((v) => 1 + v));
    store.param('bn.bias', [3], init(3));
    store.buffer('bn.running_mean', [3], new Float32Array(3));
    store.buffer('bn.running_var', [3], new Float32Array(3).fill(1));
    store.param('skip.weight', [3, C, 1, 1], init(3 * C));
    store.param('fc.weight', [K, 3 * 3 * 3], init(K * 27));
    store.param('fc.bias', [K], init(K));
    store.build();
    const x = engine.upload(init(N * C * H * W, 1));
    const labels = engine.upload(Uint32Array.from({ length: N }, () => rng.int(K)));

    const run = (record: boolean) => {
      const g = new Graph(engine, record);
      const xin = g.input(x, [N, C, H, W]);
      const p = (n: string) => store.get(n);
      const c = ops.conv2d(g, xin, p('conv.weight'), p('conv.bias'), { padding: 1 });
      const bnState = { gamma: p('bn.weight'), beta: p('bn.bias'), runningMean: p('bn.running_mean').data, runningVar: p('bn.running_var').data, eps: 1e-5, momentum: 0.1 };
      const h = ops.batchNorm2d(g, c, bnState, true, 'relu');
      const s = ops.conv2d(g, xin, p('skip.weight'), null);
      const r = ops.add(g, h, s);
      const r2 = ops.add(g, r, h); // h feeds two ops: its gradient must be the sum of both
      const pooled = ops.maxPool2d(g, r2, 2);
      const logits = ops.linear(g, pooled.view([N, 27]), p('fc.weight'), p('fc.bias'));
      const { loss } = ops.softmaxCrossEntropyLoss(g, logits, { buffer: labels });
      return { g, loss };
    };
    expect(await checkTape(engine, store, rng, N, run)).toBe(7 * 4);
    store.destroy();
    engine.release(x);
    engine.release(labels);
  });

  it('max pool over a fused ReLU applies the mask itself, and conv + ReLU + pool as one kernel: the same gradients as the explicit mask pass', async () => {
    const engine = await testEngine();
    const rng = new Rng(7);
    const [N, C, H, W, K] = [5, 1, 8, 8, 3];
    const store = new ParameterStore(engine);
    const init = (n: number, scale = 0.5) => Float32Array.from({ length: n }, () => rng.uniform(-scale, scale));
    store.param('c1.weight', [4, C, 3, 3], init(4 * C * 9));
    store.param('c1.bias', [4], init(4));
    store.param('c2.weight', [3, 4, 3, 3], init(3 * 4 * 9));
    store.param('c2.bias', [3], init(3));
    store.param('fc.weight', [K, 3 * 2 * 2], init(K * 12));
    store.param('fc.bias', [K], init(K));
    store.param('side.weight', [K, 4], init(K * 4));
    store.build();
    const x = engine.upload(init(N * C * H * W, 1));
    const labels = engine.upload(Uint32Array.from({ length: N }, () => rng.int(K)));

    // The student's shape (conv+ReLU → max pool, twice → linear), optionally with a side branch:
    // the first ReLU's output also feeds a global average pool, whose gradient is not masked.
    // `fuse` false hides the ReLU from the pools, so the separate mask pass runs (the path the
    // first test checks against finite differences).
    const masks = () => engine.dispatchCounts.get('elementwise') ?? 0;
    // mode 'pool': conv + ReLU + pool as one forward kernel (ops.conv2dReluMaxPool), no side branch.
    const gradsOf = async (mode: 'fuse' | 'plain' | 'pool', side: boolean) => {
      engine.write(store.buffers.grads, new Float32Array(store.paramFloats));
      const before = masks();
      const g = new Graph(engine, true);
      const p = (n: string) => store.get(n);
      const xin = g.input(x, [N, C, H, W]);
      let logits: Tensor;
      let h1: Tensor | null = null;
      if (mode === 'pool') {
        const p1 = ops.conv2dReluMaxPool(g, xin, p('c1.weight'), p('c1.bias'), { padding: 1 });
        const p2 = ops.conv2dReluMaxPool(g, p1, p('c2.weight'), p('c2.bias'), { padding: 1 });
        logits = ops.linear(g, p2.view([N, 12]), p('fc.weight'), p('fc.bias'));
      } else {
        h1 = ops.conv2d(g, xin, p('c1.weight'), p('c1.bias'), { padding: 1, activation: 'relu' });
        h1.reluOutput = mode === 'fuse';
        const h2 = ops.conv2d(g, ops.maxPool2d(g, h1, 2), p('c2.weight'), p('c2.bias'), { padding: 1, activation: 'relu' });
        h2.reluOutput = mode === 'fuse';
        logits = ops.linear(g, ops.maxPool2d(g, h2, 2).view([N, 12]), p('fc.weight'), p('fc.bias'));
      }
      if (side) logits = ops.add(g, logits, ops.linear(g, ops.globalAvgPool(g, h1!), p('side.weight'), null));
      const { loss } = ops.softmaxCrossEntropyLoss(g, logits, { buffer: labels });
      const l = await engine.readF32(loss.data.buffer, N);
      g.backward();
      g.release();
      const grads = await engine.readF32(store.buffers.grads, store.paramFloats);
      return { grads, loss: l, masks: masks() - before };
    };
    for (const side of [false, true]) {
      const fused = await gradsOf('fuse', side);
      const plain = await gradsOf('plain', side);
      // Selection only, no arithmetic changes: the gradients are bit for bit the same.
      expect(Array.from(fused.grads)).toEqual(Array.from(plain.grads));
      expect(fused.grads.filter((v) => v !== 0).length).toBeGreaterThan(store.paramFloats / 4);
      // The side add's backward copies its gradient with an elementwise pass of its own.
      expect(plain.masks - fused.masks).toBe(side ? 1 : 2);
      if (!side) {
        // The one-kernel conv + ReLU + pool forward: same losses, same gradients, no mask pass.
        const direct = engine.dispatchCounts.get('conv2d_pool_backward_weight_c1') ?? 0;
        const pooled = await gradsOf('pool', false);
        expect(Array.from(pooled.loss)).toEqual(Array.from(plain.loss));
        expect(pooled.masks).toBe(0);
        // On a CPU-emulated adapter the first layer (1 input channel, its input needs no gradient)
        // takes the direct kernels: the pool's backward fused into the weight gradient, whose
        // sums run in another order (equal to rounding); every other gradient is bit for bit.
        const c1 = store.entries.filter((e) => e.name.startsWith('c1.'));
        const inC1 = (i: number) => c1.some((e) => i >= e.offset && i < e.offset + e.size);
        const usedDirect = (engine.dispatchCounts.get('conv2d_pool_backward_weight_c1') ?? 0) > direct;
        expect(usedDirect).toBe(engine.software);
        pooled.grads.forEach((v, i) => {
          if (usedDirect && inC1(i)) expect(Math.abs(v - plain.grads[i])).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(plain.grads[i]));
          else expect(v).toBe(plain.grads[i]);
        });
      }
    }
    store.destroy();
    engine.release(x);
    engine.release(labels);
  });
});
