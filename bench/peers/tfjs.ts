// The TensorFlow.js side of `kdgpu bench steps`, one backend per process:
//   node dist/bench-peer-tfjs.js webgpu   @tensorflow/tfjs-backend-webgpu on Dawn (npm `webgpu`)
//   node dist/bench-peer-tfjs.js wasm     @tensorflow/tfjs-backend-wasm, 1 thread (XNNPACK, SIMD)
// started by bench/steps.ts. Production mode (tf.enableProdMode()), default backend flags.
//
// The model is the same network as kdgpu's (src/nn/models.ts) in tfjs's native NHWC layout, built
// from tfjs-core ops the way tfjs-layers builds it: fused conv2d + bias + ReLU, maxPool 2, and
// fused matMul + bias (+ ReLU); mean softmax cross-entropy (tf.losses.softmaxCrossEntropy). The
// weights are kdgpu's initial ones, converted (conv [Co,Ci,KH,KW] -> [KH,KW,Ci,Co]; linear
// [out,in] -> [in,out], the first linear's rows permuted from NCHW to NHWC flattening order).
//
// Step (after the shared Batcher.fill): tf.tensor4d of a copy of the batch's images and
// tf.oneHot of its labels (the upload), tf.variableGrads of the loss (forward + backward), weight
// decay added to each gradient (g + 5e-4 w, as kdgpu's and PyTorch's SGD do), MomentumOptimizer.
// applyGradients (momentum 0.9, no Nesterov, lr 0.01), then `await loss.data()`: the one host sync
// (on webgpu it submits the queued commands and waits for them; on wasm everything already ran).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as TF from '@tensorflow/tfjs';
import { SWIFTSHADER_ICD } from '../../src/gpu/node.js';
import { describeAdapter, isSoftwareAdapter } from '../../src/gpu/acquire.js';
import { decodeSafetensors } from '../../src/io/safetensors.js';
import { INPUT, RECIPE, serveSteps, type BenchModel, type InitMessage } from './protocol.js';
import { registerWasmConv2DBackpropFilter } from './wasm-conv-filter.js';

type Tf = typeof TF;
const which = process.argv[2];
if (which !== 'webgpu' && which !== 'wasm') {
  process.stderr.write(`usage: bench-peer-tfjs.js webgpu|wasm (got ${which ?? 'nothing'})\n`);
  process.exit(2);
}

interface Arch {
  convs: { name: string; out: number }[];
  linears: { name: string; out: number; relu: boolean }[];
}
/** src/nn/models.ts's two Fashion-MNIST CNNs: 3x3 convs with padding 1, each + ReLU + maxpool 2. */
const ARCH: Record<BenchModel, Arch> = {
  'teacher-cnn': {
    convs: [{ name: 'conv1', out: 32 }, { name: 'conv2', out: 64 }],
    linears: [{ name: 'fc1', out: 256, relu: true }, { name: 'fc2', out: INPUT.classes, relu: false }],
  },
  'student-cnn': {
    convs: [{ name: 'conv1', out: 8 }, { name: 'conv2', out: 16 }],
    linears: [{ name: 'fc', out: INPUT.classes, relu: false }],
  },
};

const version = (pkg: string): string => {
  try {
    return (createRequire(import.meta.url)(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return '?';
  }
};

/** Point `navigator.gpu` at Dawn, as tfjs-backend-webgpu expects (it registers itself only if one exists). */
async function setUpWebGpu(init: InitMessage): Promise<{ device: string; software: boolean }> {
  // As src/gpu/node.ts does: never probe Mesa's lavapipe; SwiftShader when the runner says kdgpu uses it.
  process.env.VK_LOADER_DRIVERS_DISABLE ??= '*lvp_icd*';
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  if (init.swiftshader) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD; // before create()
  const dawn = (await import('webgpu')) as unknown as { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('tfjs-webgpu: Dawn found no adapter');
  return { device: describeAdapter(adapter), software: isSoftwareAdapter(adapter) };
}

/** kdgpu's initial weights in tfjs layouts, or (without a weights file) a seeded He-normal init. */
function initialWeights(tf: Tf, init: InitMessage): Map<string, TF.Tensor> {
  const arch = ARCH[init.model];
  const out = new Map<string, TF.Tensor>();
  // A plain Uint8Array: decodeSafetensors copies tensors with .slice(), which on a Node Buffer is a view.
  const bytes = (path: string) => {
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  };
  const file = init.weightsPath ? decodeSafetensors(bytes(init.weightsPath), init.weightsPath).tensors : null;
  const get = (name: string, shape: number[]): Float32Array | null => {
    if (!file) return null;
    const t = file.get(name);
    if (!t || t.dtype !== 'F32') throw new Error(`${init.weightsPath}: no F32 tensor "${name}"`);
    if (t.shape.join() !== shape.join()) throw new Error(`${init.weightsPath}: "${name}" has shape [${t.shape}], expected [${shape}]`);
    return t.data as Float32Array;
  };
  let seed = init.seed;
  const he = (shape: number[], fanIn: number) => tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', seed++);

  let c: number = INPUT.channels;
  let h: number = INPUT.height;
  let w: number = INPUT.width;
  for (const conv of arch.convs) {
    const k = 3;
    const src = get(`${conv.name}.weight`, [conv.out, c, k, k]);
    let weight: TF.Tensor;
    if (src) {
      const dst = new Float32Array(src.length);
      for (let o = 0; o < conv.out; o++)
        for (let i = 0; i < c; i++)
          for (let y = 0; y < k; y++) for (let x = 0; x < k; x++) dst[((y * k + x) * c + i) * conv.out + o] = src[((o * c + i) * k + y) * k + x];
      weight = tf.tensor4d(dst, [k, k, c, conv.out]);
    } else weight = he([k, k, c, conv.out], c * k * k);
    out.set(`${conv.name}.weight`, weight);
    out.set(`${conv.name}.bias`, tf.tensor1d(get(`${conv.name}.bias`, [conv.out]) ?? new Float32Array(conv.out)));
    c = conv.out;
    h = Math.floor(h / 2);
    w = Math.floor(w / 2);
  }
  let features = c * h * w;
  arch.linears.forEach((lin, li) => {
    const src = get(`${lin.name}.weight`, [lin.out, features]);
    let weight: TF.Tensor;
    if (src) {
      const dst = new Float32Array(src.length);
      for (let o = 0; o < lin.out; o++) {
        for (let f = 0; f < features; f++) {
          // kdgpu flattens [C, H, W]; tfjs flattens [H, W, C]. Only the first linear sees that order.
          let row = f;
          if (li === 0) {
            const ch = Math.floor(f / (h * w));
            const pos = f % (h * w);
            row = pos * c + ch;
          }
          dst[row * lin.out + o] = src[o * features + f];
        }
      }
      weight = tf.tensor2d(dst, [features, lin.out]);
    } else weight = he([features, lin.out], features);
    out.set(`${lin.name}.weight`, weight);
    out.set(`${lin.name}.bias`, tf.tensor1d(get(`${lin.name}.bias`, [lin.out]) ?? new Float32Array(lin.out)));
    features = lin.out;
  });
  if (file) {
    const extra = [...file.keys()].filter((k) => !out.has(k));
    if (extra.length) throw new Error(`${init.weightsPath}: parameters the tfjs model lacks: ${extra.join(', ')}`);
  }
  return out;
}

serveSteps(`tfjs-${which}`, async (init) => {
  let device: string;
  let software: boolean | undefined;
  const details: Record<string, string | number | boolean> = { tfjs: version('@tensorflow/tfjs-core') };
  const gpu = which === 'webgpu' ? await setUpWebGpu(init) : null;
  const tf = (await import('@tensorflow/tfjs')) as Tf;
  tf.enableProdMode();
  if (gpu) {
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs-backend-webgpu failed to initialise');
    device = gpu.device;
    software = gpu.software;
    details['tfjs-backend-webgpu'] = version('@tensorflow/tfjs-backend-webgpu');
  } else {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setThreadsCount(1);
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs-backend-wasm failed to initialise');
    registerWasmConv2DBackpropFilter();
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    device = `wasm, ${wasm.getThreadsCount()} thread, SIMD ${simd ? 'on' : 'off'}`;
    details['tfjs-backend-wasm'] = version('@tensorflow/tfjs-backend-wasm');
    details.simd = Boolean(simd);
    details.threads = wasm.getThreadsCount();
    details.conv2dBackpropFilter = 'registered by bench/peers/wasm-conv-filter.ts (pad + slice + transpose + matmul)';
  }
  await tf.ready();
  details.backend = tf.getBackend();

  const arch = ARCH[init.model];
  const weights = initialWeights(tf, init);
  const vars = new Map<string, TF.Variable>();
  for (const [name, t] of weights) {
    vars.set(name, tf.variable(t, true, name));
    t.dispose();
  }
  const varList = [...vars.values()];
  const optimizer = tf.train.momentum(RECIPE.lr, RECIPE.momentum, RECIPE.nesterov);
  const { channels, height, width, classes } = INPUT;
  if (channels !== 1) throw new Error('bench steps: the tfjs peer copies NCHW batches as NHWC, which needs one channel');

  const forward = (x: TF.Tensor4D): TF.Tensor2D => {
    let h: TF.Tensor4D = x;
    for (const conv of arch.convs) {
      h = tf.fused.conv2d({ x: h, filter: vars.get(`${conv.name}.weight`) as TF.Tensor4D, strides: 1, pad: 'same', bias: vars.get(`${conv.name}.bias`), activation: 'relu' });
      h = tf.maxPool(h, 2, 2, 'valid');
    }
    let z = tf.reshape(h, [x.shape[0], -1]) as TF.Tensor2D;
    for (const lin of arch.linears) {
      z = tf.fused.matMul({ a: z, b: vars.get(`${lin.name}.weight`) as TF.Tensor2D, bias: vars.get(`${lin.name}.bias`), activation: lin.relu ? 'relu' : 'linear' }) as TF.Tensor2D;
    }
    return z;
  };

  return {
    device,
    software,
    details,
    peer: {
      async step(batch, images) {
        const n = batch.size;
        const loss = tf.tidy(() => {
          // A copy: the protocol reuses its buffer, and a backend may read the values lazily. With
          // one channel, the NCHW example is also NHWC.
          const x = tf.tensor4d(images().slice(0, n * channels * height * width), [n, height, width, channels]);
          const y = tf.oneHot(tf.tensor1d(Int32Array.from(batch.labels.subarray(0, n)), 'int32'), classes);
          const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, forward(x)) as TF.Scalar, varList);
          const decayed: { name: string; tensor: TF.Tensor }[] = [];
          for (const [name, v] of vars) decayed.push({ name, tensor: tf.add(grads[name], tf.mul(v, RECIPE.weightDecay)) });
          optimizer.applyGradients(decayed);
          return value;
        });
        const value = (await loss.data())[0];
        loss.dispose();
        return value;
      },
    },
  };
});
