// The Conv2DBackpropFilter kernel that bench/ registers for tfjs-backend-wasm (which lacks it) must
// equal the cpu backend's, so that the tfjs-wasm peer of `kdgpu bench steps` trains correctly.

import { beforeAll, describe, expect, it } from 'vitest';
// The union package: tfjs-core plus the cpu backend and every op's gradient (tfjs-core alone registers none).
import * as tf from '@tensorflow/tfjs';
import { setThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmConv2DBackpropFilter } from '../bench/peers/wasm-conv-filter.js';

type Pad = 'same' | 'valid' | number;

async function filterGrad(backend: string, xv: Float32Array, xShape: number[], dyv: Float32Array, dyShape: number[], filterShape: number[], strides: number | [number, number], pad: Pad, dataFormat: 'NHWC' | 'NCHW'): Promise<Float32Array> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const x = tf.tensor(xv, xShape);
    const dy = tf.tensor(dyv, dyShape);
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides, pad, dataFormat, filterShape }) as tf.Tensor;
    expect(dw.shape).toEqual(filterShape);
    return dw.dataSync() as Float32Array;
  });
}

function random(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

describe('tfjs-backend-wasm Conv2DBackpropFilter (bench/peers/wasm-conv-filter.ts)', () => {
  beforeAll(async () => {
    setThreadsCount(1);
    await tf.setBackend('wasm');
    await tf.ready();
    await tf.setBackend('cpu');
    await tf.ready();
    registerWasmConv2DBackpropFilter();
  });

  const cases: { x: number[]; f: number[]; strides: number | [number, number]; pad: Pad; format?: 'NHWC' | 'NCHW' }[] = [
    { x: [3, 8, 8, 1], f: [3, 3, 1, 4], strides: 1, pad: 'same' }, // the models' first conv (one input channel)
    { x: [2, 6, 7, 5], f: [3, 3, 5, 6], strides: 1, pad: 'same' },
    { x: [2, 6, 7, 5], f: [3, 3, 5, 6], strides: 1, pad: 1 },
    { x: [2, 7, 9, 3], f: [3, 2, 3, 4], strides: 2, pad: 'same' },
    { x: [2, 7, 9, 3], f: [3, 3, 3, 5], strides: [2, 1], pad: 'valid' },
    { x: [1, 5, 5, 2], f: [1, 1, 2, 3], strides: 1, pad: 'valid' },
    { x: [2, 3, 6, 5], f: [3, 3, 3, 4], strides: 1, pad: 'same', format: 'NCHW' },
  ];

  for (const c of cases) {
    const format = c.format ?? 'NHWC';
    it(`x [${c.x}] filter [${c.f}] strides ${c.strides} pad ${c.pad} ${format}`, async () => {
      // Output shape from the forward convolution's geometry.
      const nhwc = format === 'NHWC' ? c.x : [c.x[0], c.x[2], c.x[3], c.x[1]];
      const info = tf.backend_util.computeConv2DInfo(nhwc as [number, number, number, number], c.f as [number, number, number, number], c.strides, 1, c.pad);
      const dyShape = format === 'NHWC' ? info.outShape : [info.batchSize, info.outChannels, info.outHeight, info.outWidth];
      const xv = random(c.x.reduce((a, b) => a * b), 1);
      const dyv = random(dyShape.reduce((a, b) => a * b), 2);
      const want = await filterGrad('cpu', xv, c.x, dyv, dyShape, c.f, c.strides, c.pad, format);
      const got = await filterGrad('wasm', xv, c.x, dyv, dyShape, c.f, c.strides, c.pad, format);
      expect(got.length).toBe(want.length);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i])));
      expect(worst).toBeLessThan(1e-5);
    });
  }

  it('trains: gradients of a conv layer on wasm equal those on cpu, and no tensor leaks', async () => {
    const xv = random(2 * 6 * 6 * 2, 3);
    const wv = random(3 * 3 * 2 * 4, 4);
    const grad = async (backend: string) => {
      await tf.setBackend(backend);
      const before = tf.memory().numTensors;
      const out = tf.tidy(() => {
        const x = tf.tensor4d(xv, [2, 6, 6, 2]);
        const w = tf.tensor4d(wv, [3, 3, 2, 4]);
        const g = tf.grad((wt: tf.Tensor) => tf.sum(tf.square(tf.relu(tf.conv2d(x, wt as tf.Tensor4D, 1, 'same')))))(w);
        return g.dataSync() as Float32Array;
      });
      expect(tf.memory().numTensors).toBe(before);
      return out;
    };
    const want = await grad('cpu');
    const got = await grad('wasm');
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-4 * (1 + Math.abs(want[i])));
  });
});
