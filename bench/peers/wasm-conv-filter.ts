// Conv2DBackpropFilter for @tensorflow/tfjs-backend-wasm, which 4.22 does not ship (so a convnet
// cannot train on it as is). Composed only from kernels the wasm backend has, called at the
// backend level so no tensor reaches the engine's bookkeeping:
//
//   xp   = PadV2(x)                                   [N, Hp, Wp, Ci]
//   tap  = Slice(xp) for each filter tap (kh, kw)     [N, OH, OW, Ci] = [M, Ci], M = N*OH*OW
//          (StridedSlice when a stride is > 1)
//   cols = Transpose(Concat(taps, axis 0))            [KH*KW, Ci, M] = [KH*KW*Ci, M]
//   dW   = MatMul(cols, dy as [M, Co])                [KH*KW*Ci, Co] = [KH, KW, Ci, Co]
//
// i.e. an im2col (transposed) and one matmul. The layout is chosen for speed: the wasm backend's
// BatchMatMul is fast (XNNPACK, ~27 GFLOP/s on one core here) only with batch 1 and neither
// operand transposed; a transposed operand or one batch entry per filter tap runs at ~1.5-2
// GFLOP/s, an explicit Transpose is cheaper. Slices are JS copies of contiguous runs (a stride-1
// slice is taken on [N, Hp, Wp*Ci], so each run is OW*Ci floats long). NCHW inputs are transposed
// to NHWC first. test/tfjs-wasm-conv-filter.test.ts checks the result against the cpu backend.

import * as tf from '@tensorflow/tfjs-core';

type Info = tf.TensorInfo;
type Backend = { disposeData(dataId: tf.DataId, force?: boolean): boolean };

function kernel(name: string): (args: { inputs: Record<string, Info> | Info[]; backend: unknown; attrs?: object }) => Info {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`tfjs-backend-wasm has no ${name} kernel (is the wasm backend imported?)`);
  return k.kernelFunc as never;
}

/** Register the kernel for the wasm backend (idempotent). Call after importing tfjs-backend-wasm. */
export function registerWasmConv2DBackpropFilter(): void {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) return;
  const pad = kernel('PadV2');
  const slice = kernel('Slice');
  const stridedSlice = kernel('StridedSlice');
  const reshape = kernel('Reshape');
  const concat = kernel('Concat');
  const transpose = kernel('Transpose');
  const batchMatMul = kernel('BatchMatMul');

  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend: b, attrs }) => {
      const backend = b as Backend;
      const { strides, pad: padAttr, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
      const temps: Info[] = [];
      const keep = (t: Info): Info => (temps.push(t), t);
      try {
        let x = (inputs as { x: Info }).x;
        let dy = (inputs as { dy: Info }).dy;
        if (dataFormat === 'NCHW') {
          x = keep(transpose({ inputs: { x }, backend, attrs: { perm: [0, 2, 3, 1] } }));
          dy = keep(transpose({ inputs: { x: dy }, backend, attrs: { perm: [0, 2, 3, 1] } }));
        }
        const info = tf.backend_util.computeConv2DInfo(
          x.shape as [number, number, number, number],
          filterShape,
          strides,
          1,
          padAttr,
          dimRoundingMode,
          false,
          'channelsLast',
        );
        const { batchSize: n, inChannels: ci, outChannels: co, outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = info;
        const { strideHeight: sh, strideWidth: sw, padInfo } = info;
        const xp = keep(
          pad({
            inputs: { x },
            backend,
            attrs: { paddings: [[0, 0], [padInfo.top, padInfo.bottom], [padInfo.left, padInfo.right], [0, 0]], constantValue: 0 },
          }),
        );
        const [, hp, wp] = xp.shape;
        const m = n * oh * ow;
        const rows = sw === 1 ? keep(reshape({ inputs: { x: xp }, backend, attrs: { shape: [n, hp, wp * ci] } })) : xp;
        const taps: Info[] = [];
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            let t: Info;
            if (sw === 1 && sh === 1) {
              t = keep(slice({ inputs: { x: rows }, backend, attrs: { begin: [0, i, j * ci], size: [n, oh, ow * ci] } }));
            } else {
              t = keep(
                stridedSlice({
                  inputs: { x: xp },
                  backend,
                  attrs: {
                    begin: [0, i, j, 0],
                    end: [n, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, ci],
                    strides: [1, sh, sw, 1],
                    beginMask: 0,
                    endMask: 0,
                    ellipsisMask: 0,
                    newAxisMask: 0,
                    shrinkAxisMask: 0,
                  },
                }),
              );
            }
            taps.push(keep(reshape({ inputs: { x: t }, backend, attrs: { shape: [1, m, ci] } })));
          }
        }
        let cols = taps.length === 1 ? taps[0] : keep(concat({ inputs: taps, backend, attrs: { axis: 0 } }));
        if (ci > 1) cols = keep(transpose({ inputs: { x: cols }, backend, attrs: { perm: [0, 2, 1] } }));
        const a = keep(reshape({ inputs: { x: cols }, backend, attrs: { shape: [1, kh * kw * ci, m] } }));
        const dy3 = keep(reshape({ inputs: { x: dy }, backend, attrs: { shape: [1, m, co] } }));
        const dw = keep(batchMatMul({ inputs: { a, b: dy3 }, backend, attrs: { transposeA: false, transposeB: false } }));
        // Reshape shares dw's data (with a reference of its own), so disposing dw below is safe.
        return reshape({ inputs: { x: dw }, backend, attrs: { shape: [kh, kw, ci, co] } });
      } finally {
        for (const t of temps) backend.disposeData(t.dataId);
      }
    },
  });
}
