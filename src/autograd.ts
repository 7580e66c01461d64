// Differentiable ops: each runs its forward kernels and records a closure that, given the
// gradient of its output, adds the gradients of its inputs. Shapes are in the comments.

import { Graph, Tensor } from './tensor.js';
import { elementwise } from './kernels/elementwise.js';
import { matmul, type Activation } from './kernels/matmul.js';
import { conv2dForward, conv2dBackwardData, conv2dBackwardWeight, conv2dReluMaxPoolForward, conv2dPoolBackwardWeightC1, canFusePool, canPoolDirect, convOutSize, type ConvShape } from './kernels/conv2d.js';
import { conv2dBackwardDataWinograd, conv2dForwardWinograd, conv2dReluMaxPoolWinograd, pickConvAlgorithm } from './kernels/winograd.js';
import { maxPoolForward, maxPoolBackward, avgPoolForward, avgPoolBackward, poolOutSize, type PoolShape } from './kernels/pool2d.js';
import { batchnormStats, batchnormApply, batchnormBackward } from './kernels/batchnorm.js';
import { reduceAxis } from './kernels/reduce.js';
import { softmaxCrossEntropy } from './kernels/softmax.js';

function expectRank(op: string, t: Tensor, rank: number, what: string): void {
  if (t.shape.length !== rank) throw new Error(`${op}: expected ${what} of rank ${rank}, got shape [${t.shape.join(', ')}]`);
}

/**
 * When a ReLU is fused into the producing kernel, its backward masks dy by y > 0 first, unless
 * every contribution to dy came already masked (a max pool over y: see maxPool2d).
 */
function maskedGrad(g: Graph, y: Tensor, activation: Activation): GPUBufferBinding {
  if (activation === 'none' || !y.gradNeedsMask) return y.grad!;
  const masked = g.scratch(y.size, 'grad');
  elementwise(g.engine, 'relu_backward', y.data, y.grad!, masked, y.size);
  return { buffer: masked };
}

/** y[B, out] = act(x[B, in] · wᵀ + b), w [out, in] (PyTorch layout). */
export function linear(g: Graph, x: Tensor, w: Tensor, b: Tensor | null, activation: Activation = 'none'): Tensor {
  expectRank('linear', x, 2, 'input [batch, features]');
  const [B, IN] = x.shape;
  const [OUT, IN2] = w.shape;
  if (IN !== IN2) throw new Error(`linear: input has ${IN} features, weight expects ${IN2} (weight [${w.shape.join(', ')}])`);
  const y = g.tensor([B, OUT], x.requiresGrad || w.requiresGrad || !!b?.requiresGrad);
  y.reluOutput = activation === 'relu';
  matmul(g.engine, x.data, w.data, y.data, B, OUT, IN, { transB: true, bias: b?.data, activation });
  g.record('linear', [x, w, ...(b ? [b] : [])], () => {
    if (!y.grad) return;
    const dy = maskedGrad(g, y, activation);
    if (x.requiresGrad) {
      const t = g.gradTarget(x); // dx[B, in] = dy[B, out] · w[out, in]
      matmul(g.engine, dy, w.data, t.grad, B, IN, OUT, { accumulate: t.accumulate });
    }
    if (w.requiresGrad) {
      const t = g.gradTarget(w); // dw[out, in] = dyᵀ · x
      matmul(g.engine, dy, x.data, t.grad, OUT, IN, B, { transA: true, accumulate: t.accumulate });
    }
    if (b?.requiresGrad) {
      const t = g.gradTarget(b); // db[out] = Σ_batch dy
      reduceAxis(g.engine, dy, t.grad, [B, OUT], 0, 'sum', t.accumulate);
    }
  });
  return y;
}

export interface Conv2dOptions {
  stride?: number;
  padding?: number;
  activation?: Activation;
}

function convShape(op: string, x: Tensor, w: Tensor, opts: Conv2dOptions): ConvShape {
  expectRank(op, x, 4, 'input [N, C, H, W]');
  expectRank(op, w, 4, 'weight [CO, CI, KH, KW]');
  const [N, CI, H, W] = x.shape;
  const [CO, CI2, KH, KW] = w.shape;
  if (CI !== CI2) throw new Error(`${op}: input has ${CI} channels, weight [${w.shape.join(', ')}] expects ${CI2}`);
  return { N, CI, H, W, CO, KH, KW, stride: opts.stride ?? 1, pad: opts.padding ?? 0 };
}

/** The gradients of a convolution's inputs from dy, the gradient of its (pre-activation) output. */
function convBackward(g: Graph, s: ConvShape, x: Tensor, w: Tensor, b: Tensor | null, dy: GPUBufferBinding): void {
  if (x.requiresGrad) {
    const t = g.gradTarget(x);
    const bufs = { dy, w: w.data, dx: t.grad };
    if (pickConvAlgorithm(g.engine, s, 'backward-data') === 'winograd') conv2dBackwardDataWinograd(g.engine, s, bufs, t.accumulate);
    else conv2dBackwardData(g.engine, s, bufs, t.accumulate);
  }
  if (w.requiresGrad) {
    const tw = g.gradTarget(w);
    if (b?.requiresGrad) {
      const tb = g.gradTarget(b);
      if (tw.accumulate !== tb.accumulate) throw new Error('conv2d: weight and bias gradients must accumulate together');
      conv2dBackwardWeight(g.engine, s, { dy, x: x.data, dw: tw.grad, db: tb.grad }, tw.accumulate);
    } else {
      conv2dBackwardWeight(g.engine, s, { dy, x: x.data, dw: tw.grad }, tw.accumulate);
    }
  }
}

/** y[N, CO, OH, OW] = act(conv2d(x[N, CI, H, W], w[CO, CI, KH, KW]) + b[CO]). */
export function conv2d(g: Graph, x: Tensor, w: Tensor, b: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const s = convShape('conv2d', x, w, opts);
  const { OH, OW } = convOutSize(s);
  const activation = opts.activation ?? 'none';
  const y = g.tensor([s.N, s.CO, OH, OW], x.requiresGrad || w.requiresGrad || !!b?.requiresGrad);
  y.reluOutput = activation === 'relu';
  const bufs = { x: x.data, w: w.data, bias: b?.data, y: y.data };
  if (pickConvAlgorithm(g.engine, s, 'forward') === 'winograd') conv2dForwardWinograd(g.engine, s, bufs, activation);
  else conv2dForward(g.engine, s, bufs, activation);
  g.record('conv2d', [x, w, ...(b ? [b] : [])], () => {
    if (y.grad) convBackward(g, s, x, w, b, maskedGrad(g, y, activation));
  });
  return y;
}

/**
 * max-pool 2×2/2 (relu(conv2d(x, w) + b)) with one forward kernel that never stores the conv's
 * output (the same values and gradients as conv2d + maxPool2d, which it falls back to when the
 * conv output has an odd side). Backward: the pool's backward, which already applies the ReLU's
 * mask, then the conv's.
 */
export function conv2dReluMaxPool(g: Graph, x: Tensor, w: Tensor, b: Tensor | null, opts: Omit<Conv2dOptions, 'activation'> = {}): Tensor {
  const s = convShape('conv2dReluMaxPool', x, w, opts);
  if (!canFusePool(s)) return maxPool2d(g, conv2d(g, x, w, b, { ...opts, activation: 'relu' }), 2);
  const { OH, OW } = convOutSize(s);
  const y = g.tensor([s.N, s.CO, OH / 2, OW / 2], x.requiresGrad || w.requiresGrad || !!b?.requiresGrad);
  const arg = g.scratch(y.size, 'pool_arg');
  const bufs = { x: x.data, w: w.data, bias: b?.data, y: y.data, arg };
  if (pickConvAlgorithm(g.engine, s, 'forward-pool') === 'winograd') conv2dReluMaxPoolWinograd(g.engine, s, bufs);
  else conv2dReluMaxPoolForward(g.engine, s, bufs);
  g.record('conv2dReluMaxPool', [x, w, ...(b ? [b] : [])], () => {
    if (!y.grad) return;
    if (!x.requiresGrad && g.engine.software && canPoolDirect(s)) {
      // A first layer on a CPU-emulated adapter: the pool's backward fused into the weight gradient.
      if (!w.requiresGrad) return;
      const tw = g.gradTarget(w);
      const tb = b?.requiresGrad ? g.gradTarget(b) : null;
      if (tb && tw.accumulate !== tb.accumulate) throw new Error('conv2d: weight and bias gradients must accumulate together');
      conv2dPoolBackwardWeightC1(g.engine, s, { dp: y.grad, arg, x: x.data, dw: tw.grad, db: tb?.grad }, tw.accumulate);
      return;
    }
    const dconv = g.scratch(s.N * s.CO * OH * OW, 'grad');
    maxPoolBackward(g.engine, { planes: s.N * s.CO, H: OH, W: OW, KH: 2, KW: 2, stride: 2, pad: 0 }, y.grad, arg, dconv);
    convBackward(g, s, x, w, b, { buffer: dconv });
  });
  return y;
}

export function relu(g: Graph, x: Tensor): Tensor {
  const y = g.tensor(x.shape, x.requiresGrad);
  elementwise(g.engine, 'relu', x.data, x.data, y.data, x.size);
  g.record('relu', [x], () => {
    if (!y.grad || !x.requiresGrad) return;
    g.writeGrad(x, (dst) => elementwise(g.engine, 'relu_backward', x.data, y.grad!, dst, x.size));
  });
  return y;
}

/** Elementwise sum of two tensors of one shape (residual connections). */
export function add(g: Graph, a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size) throw new Error(`add: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
  const y = g.tensor(a.shape, a.requiresGrad || b.requiresGrad);
  elementwise(g.engine, 'add', a.data, b.data, y.data, a.size);
  g.record('add', [a, b], () => {
    if (!y.grad) return;
    for (const t of [a, b]) {
      if (t.requiresGrad) g.writeGrad(t, (dst) => elementwise(g.engine, 'scale', y.grad!, y.grad!, dst, t.size, 1));
    }
  });
  return y;
}

function poolShape(op: string, x: Tensor, k: [number, number], stride: number, padding: number): PoolShape {
  expectRank(op, x, 4, 'input [N, C, H, W]');
  const [N, C, H, W] = x.shape;
  return { planes: N * C, H, W, KH: k[0], KW: k[1], stride, pad: padding };
}

export function maxPool2d(g: Graph, x: Tensor, kernel: number, stride = kernel, padding = 0): Tensor {
  const s = poolShape('maxPool2d', x, [kernel, kernel], stride, padding);
  const { OH, OW } = poolOutSize(s);
  const y = g.tensor([x.shape[0], x.shape[1], OH, OW], x.requiresGrad);
  const arg = g.scratch(y.size, 'pool_arg');
  // Over a fused ReLU's output the pool's backward applies the ReLU's mask too (pool2d.ts).
  const reluMask = x.reluOutput;
  maxPoolForward(g.engine, s, x.data, y.data, arg, reluMask);
  g.record('maxPool2d', [x], () => {
    if (!y.grad || !x.requiresGrad) return;
    g.writeGrad(x, (dst) => maxPoolBackward(g.engine, s, y.grad!, arg, dst), reluMask);
  });
  return y;
}

export function avgPool2d(g: Graph, x: Tensor, kernel: [number, number], stride = kernel[0], padding = 0): Tensor {
  const s = poolShape('avgPool2d', x, kernel, stride, padding);
  const { OH, OW } = poolOutSize(s);
  const y = g.tensor([x.shape[0], x.shape[1], OH, OW], x.requiresGrad);
  const unused = g.scratch(1, 'pool_arg');
  avgPoolForward(g.engine, s, x.data, y.data, unused);
  g.record('avgPool2d', [x], () => {
    if (!y.grad || !x.requiresGrad) return;
    g.writeGrad(x, (dst) => avgPoolBackward(g.engine, s, y.grad!, dst, unused));
  });
  return y;
}

/** [N, C, H, W] → [N, C]: the mean of each plane. */
export function globalAvgPool(g: Graph, x: Tensor): Tensor {
  const [N, C, H, W] = x.shape;
  return avgPool2d(g, x, [H, W], 1, 0).view([N, C]);
}

export interface BatchNormState {
  gamma: Tensor;
  beta: Tensor;
  runningMean: GPUBufferBinding;
  runningVar: GPUBufferBinding;
  eps: number;
  momentum: number;
}

/** Batch norm over the channels of x [N, C, H, W]; training uses batch statistics and updates the running ones. */
export function batchNorm2d(g: Graph, x: Tensor, st: BatchNormState, training: boolean, activation: Activation = 'none'): Tensor {
  expectRank('batchNorm2d', x, 4, 'input [N, C, H, W]');
  const [N, C, H, W] = x.shape;
  if (st.gamma.size !== C) throw new Error(`batchNorm2d: input has ${C} channels, the layer has ${st.gamma.size}`);
  const s = { N, C, HW: H * W };
  const y = g.tensor(x.shape, x.requiresGrad || st.gamma.requiresGrad);
  y.reluOutput = activation === 'relu';
  if (!training) {
    batchnormApply(g.engine, s, { x: x.data, mean: st.runningMean, stat: st.runningVar, gamma: st.gamma.data, beta: st.beta.data, y: y.data }, { eval: true, eps: st.eps, activation });
    return y;
  }
  const mean = g.scratch(C, 'bn_mean');
  const invstd = g.scratch(C, 'bn_invstd');
  batchnormStats(g.engine, s, { x: x.data, mean, invstd, runningMean: st.runningMean, runningVar: st.runningVar }, st.eps, st.momentum);
  batchnormApply(g.engine, s, { x: x.data, mean, stat: invstd, gamma: st.gamma.data, beta: st.beta.data, y: y.data }, { eval: false, eps: st.eps, activation });
  g.record('batchNorm2d', [x, st.gamma, st.beta], () => {
    if (!y.grad) return;
    const dy = maskedGrad(g, y, activation);
    const tg = g.gradTarget(st.gamma);
    const tb = g.gradTarget(st.beta);
    if (tg.accumulate !== tb.accumulate) throw new Error('batchNorm2d: gamma and beta gradients must accumulate together');
    // The backward kernel writes dx; when x needs no gradient it goes to scratch.
    const dx = x.requiresGrad ? g.gradTarget(x) : { grad: { buffer: g.scratch(x.size, 'grad') }, accumulate: false };
    batchnormBackward(
      g.engine,
      s,
      { dy, x: x.data, mean, invstd, gamma: st.gamma.data, dx: dx.grad, dgamma: tg.grad, dbeta: tb.grad },
      { dx: dx.accumulate, params: tg.accumulate },
    );
  });
  return y;
}

export interface CrossEntropyResult {
  /** Per-sample loss [B]. */
  loss: Tensor;
  /** Per-sample 1 if the argmax was the label, else 0 [B]. */
  correct: Tensor;
}

/**
 * Mean softmax cross-entropy of logits [B, C] against labels (u32 [B]). The fused kernel also
 * produces ∂L/∂logits, which seeds the backward pass.
 */
export function softmaxCrossEntropyLoss(g: Graph, logits: Tensor, labels: GPUBufferBinding): CrossEntropyResult {
  expectRank('softmaxCrossEntropyLoss', logits, 2, 'logits [batch, classes]');
  const [B, C] = logits.shape;
  const loss = g.tensor([B], false, 'loss');
  const correct = g.tensor([B], false, 'correct');
  const grad = g.scratch(B * C, 'grad');
  softmaxCrossEntropy(g.engine, { logits: logits.data, labels, loss: loss.data, grad, correct: correct.data }, B, C, 1 / B);
  if (g.recording && logits.requiresGrad) g.seed(logits, { buffer: grad });
  return { loss, correct };
}
