// Winograd F(2×2, 3×3) in training: a conv layer's forward and input gradient with Winograd
// forced agree with the implicit GEMM's within the stated bound (the kernels themselves are
// checked against float64 in the verify suite, test/verify.test.ts), and the picker's choices.
import { afterEach, describe, expect, it } from 'vitest';
import { Rng } from '../src/util/rng.js';
import { testEngine } from './engine.js';
import { Graph, type Tensor } from '../src/tensor.js';
import * as ops from '../src/autograd.js';
import { ParameterStore } from '../src/nn/parameters.js';
import { forceConvAlgorithm, pickConvAlgorithm, type ConvAlgorithm } from '../src/kernels/winograd.js';
import { tileScale, WINOGRAD_REL } from '../src/kernels/winograd.check.js';
import type { ConvShape } from '../src/kernels/conv2d.js';
import type { Engine } from '../src/gpu/engine.js';

afterEach(() => forceConvAlgorithm(undefined));

/** |a − b| ≤ 2·WINOGRAD_REL·σ' at every element (each side within its bound of the exact value). */
function expectWithinBound(got: Float32Array, want: Float32Array, sigma: Float64Array): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (2 * WINOGRAD_REL * sigma[i]));
  expect(worst).toBeLessThanOrEqual(1);
}

describe('a conv layer on Winograd', () => {
  for (const pool of [false, true]) {
    it(`forward and input gradient agree with the implicit GEMM${pool ? ' (conv + ReLU + max pool, one forward kernel)' : ' (odd sizes, padding 1)'}`, async () => {
      const engine = await testEngine();
      const rng = new Rng(pool ? 12 : 11);
      const [N, CI, H, W, CO] = pool ? [2, 6, 10, 8, 12] : [2, 6, 9, 7, 10];
      const store = new ParameterStore(engine);
      const init = (n: number, scale: number) => Float32Array.from({ length: n }, () => rng.uniform(-scale, scale));
      const x0 = init(N * CI * H * W, 1);
      const w0 = init(CO * CI * 9, 0.5);
      const b0 = init(CO, 0.5);
      store.param('x', [N, CI, H, W], x0);
      store.param('conv.weight', [CO, CI, 3, 3], w0);
      store.param('conv.bias', [CO], b0);
      store.build();
      const OH = pool ? H / 2 : H;
      const OW = pool ? W / 2 : W;
      const dy0 = init(N * CO * OH * OW, 1);
      const dy = engine.upload(dy0);
      const slice = (all: Float32Array, name: string) => {
        const e = store.entries.find((x) => x.name === name)!;
        return all.slice(e.offset, e.offset + e.size);
      };

      const run = async (algorithm: ConvAlgorithm) => {
        forceConvAlgorithm(algorithm);
        const before = engine.dispatchCounts.get('winograd_gemm') ?? 0;
        engine.write(store.buffers.grads, new Float32Array(store.paramFloats));
        const g = new Graph(engine, true);
        const p = (n: string) => store.get(n);
        const y: Tensor = pool
          ? ops.conv2dReluMaxPool(g, p('x'), p('conv.weight'), p('conv.bias'), { padding: 1 })
          : ops.conv2d(g, p('x'), p('conv.weight'), p('conv.bias'), { padding: 1 });
        g.seed(y, { buffer: dy });
        const out = await engine.readF32(y.data.buffer, y.size);
        g.backward();
        g.release();
        const grads = await engine.readF32(store.buffers.grads, store.paramFloats);
        // forward and backward-data: one batched GEMM each
        expect((engine.dispatchCounts.get('winograd_gemm') ?? 0) - before).toBe(algorithm === 'winograd' ? 2 : 0);
        return { y: out, dx: slice(grads, 'x'), dw: slice(grads, 'conv.weight'), db: slice(grads, 'conv.bias') };
      };
      const gemm = await run('gemm');
      const wino = await run('winograd');
      const again = await run('winograd');
      // The same decision, the same numbers.
      expect(Array.from(again.y)).toEqual(Array.from(wino.y));
      expect(Array.from(again.dx)).toEqual(Array.from(wino.dx));

      const geometry = { N, K: CI, C: CO, H, W, pad: 1 };
      let sigmaY = tileScale(geometry, x0, w0, false).map((v, i) => v + Math.abs(b0[Math.floor(i / (H * W)) % CO]));
      if (pool) {
        // A pooled value's bound: the largest in its window (all four share a tile, so one σ').
        sigmaY = sigmaY.filter((_, i) => Math.floor(i / W) % 2 === 0 && i % W % 2 === 0);
      }
      expectWithinBound(wino.y, gemm.y, sigmaY);
      // The input gradient: dy of the conv output (pooled: routed to the winners, the same ones on
      // both paths here) through the transposed conv.
      let dconv = dy0;
      if (pool) {
        dconv = new Float32Array(N * CO * H * W);
        // Every winner is the window's maximum; where both paths agree on the pooled values the
        // ReLU'd conv output's gradient is dy at the winner, which σ' over |dy| spread to the whole
        // window bounds from above.
        for (let i = 0; i < dconv.length; i++) {
          const plane = Math.floor(i / (H * W));
          const r = i % (H * W);
          dconv[i] = dy0[plane * OH * OW + Math.floor(Math.floor(r / W) / 2) * OW + Math.floor((r % W) / 2)];
        }
      }
      const sigmaDx = tileScale({ N, K: CO, C: CI, H, W, pad: 1 }, dconv, w0, true);
      expectWithinBound(wino.dx, gemm.dx, sigmaDx);
      expect(wino.dx.filter((v) => v !== 0).length).toBeGreaterThan(wino.dx.length / 2);
      // The weight gradient stays on the implicit GEMM: the same kernel on the same dy and x.
      expect(Array.from(wino.dw)).toEqual(Array.from(gemm.dw));
      expect(Array.from(wino.db)).toEqual(Array.from(gemm.db));
      store.destroy();
      engine.release(dy);
    });
  }
});

describe('the picker', () => {
  const conv3 = (N: number, CI: number, HW: number, CO: number, pad = 1): ConvShape => ({ N, CI, H: HW, W: HW, CO, KH: 3, KW: 3, stride: 1, pad });
  const fake = (software: boolean) => ({ software, limits: { maxStorageBufferBindingSize: 2 ** 27 } }) as unknown as Engine;
  const teacher2 = conv3(128, 32, 14, 64);
  const student2 = conv3(128, 8, 14, 16);

  it('on CPU-emulated adapters: Winograd for the teacher conv2 in every direction, the implicit GEMM for the student conv2, the direct kernel for first layers', () => {
    const cpu = fake(true);
    expect(pickConvAlgorithm(cpu, teacher2, 'backward-data')).toBe('winograd');
    expect(pickConvAlgorithm(cpu, teacher2, 'forward')).toBe('winograd');
    expect(pickConvAlgorithm(cpu, teacher2, 'forward-pool')).toBe('winograd');
    expect(pickConvAlgorithm(cpu, conv3(64, 64, 8, 64), 'forward-pool')).toBe('winograd');
    for (const d of ['forward', 'forward-pool', 'backward-data'] as const) expect(pickConvAlgorithm(cpu, student2, d)).toBe('gemm');
    expect(pickConvAlgorithm(cpu, conv3(128, 1, 28, 32), 'forward-pool')).toBe('gemm');
    expect(pickConvAlgorithm(cpu, conv3(128, 1, 28, 8), 'forward-pool')).toBe('gemm');
  });

  it('on GPUs, by FLOPs: Winograd from about 16 channels on both sides', () => {
    const gpu = fake(false);
    expect(pickConvAlgorithm(gpu, teacher2, 'forward')).toBe('winograd');
    expect(pickConvAlgorithm(gpu, conv3(128, 16, 14, 16), 'backward-data')).toBe('winograd');
    expect(pickConvAlgorithm(gpu, student2, 'forward')).toBe('gemm');
    expect(pickConvAlgorithm(gpu, conv3(128, 1, 28, 32), 'forward-pool')).toBe('gemm');
  });

  it('never for shapes Winograd does not compute, even when forced; forcing otherwise wins', () => {
    const cpu = fake(true);
    forceConvAlgorithm('winograd');
    expect(pickConvAlgorithm(cpu, { ...teacher2, stride: 2 }, 'forward')).toBe('gemm');
    expect(pickConvAlgorithm(cpu, { ...teacher2, KH: 5, KW: 5 }, 'forward')).toBe('gemm');
    expect(pickConvAlgorithm(cpu, { ...teacher2, pad: 3 }, 'forward')).toBe('gemm');
    expect(pickConvAlgorithm(cpu, student2, 'forward')).toBe('winograd');
    forceConvAlgorithm('gemm');
    expect(pickConvAlgorithm(cpu, teacher2, 'forward')).toBe('gemm');
    // Scratch that does not fit one binding: the implicit GEMM.
    forceConvAlgorithm(undefined);
    expect(pickConvAlgorithm({ software: true, limits: { maxStorageBufferBindingSize: 2 ** 20 } } as unknown as Engine, teacher2, 'forward')).toBe('gemm');
  });
});
