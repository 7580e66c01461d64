// conv2d's float64 references and verification cases (kdgpu verify, the test suite), beside the kernels in conv2d.ts.

import type { KernelCheck, VerifyCase } from './check.js';
import { sumTolerance } from './check.js';
import type { Activation } from './matmul.js';
import { type ConvShape, convOutSize, type ConvTiling, conv2dForwardKernel, conv2dBackwardDataKernel, conv2dBackwardWeightKernel, conv2dReluPoolC1Kernel, conv2dPoolBackwardWeightC1Kernel, conv2dForward, conv2dReluMaxPoolForward, conv2dPoolBackwardWeightC1, conv2dBackwardData, conv2dBackwardWeight, describeConv } from './conv2d.js';

export function conv2dForwardReference(s: ConvShape, x: ArrayLike<number>, w: ArrayLike<number>, bias?: ArrayLike<number>, activation: Activation = 'none'): Float64Array {
  const { OH, OW } = convOutSize(s);
  const y = new Float64Array(s.N * s.CO * OH * OW);
  for (let n = 0; n < s.N; n++)
    for (let co = 0; co < s.CO; co++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let acc = bias ? bias[co] : 0;
          for (let ci = 0; ci < s.CI; ci++)
            for (let kh = 0; kh < s.KH; kh++)
              for (let kw = 0; kw < s.KW; kw++) {
                const h = oh * s.stride - s.pad + kh;
                const ww = ow * s.stride - s.pad + kw;
                if (h < 0 || h >= s.H || ww < 0 || ww >= s.W) continue;
                acc += w[((co * s.CI + ci) * s.KH + kh) * s.KW + kw] * x[((n * s.CI + ci) * s.H + h) * s.W + ww];
              }
          y[((n * s.CO + co) * OH + oh) * OW + ow] = activation === 'relu' ? Math.max(acc, 0) : acc;
        }
  return y;
}

/** Gradients of Σ dy·conv2d(x, w, b) w.r.t. x, w and b, by the adjoint of the forward loops. */
export function conv2dBackwardReference(
  s: ConvShape,
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  dy: ArrayLike<number>,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const { OH, OW } = convOutSize(s);
  const dx = new Float64Array(s.N * s.CI * s.H * s.W);
  const dw = new Float64Array(s.CO * s.CI * s.KH * s.KW);
  const db = new Float64Array(s.CO);
  for (let n = 0; n < s.N; n++)
    for (let co = 0; co < s.CO; co++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          const g = dy[((n * s.CO + co) * OH + oh) * OW + ow];
          db[co] += g;
          for (let ci = 0; ci < s.CI; ci++)
            for (let kh = 0; kh < s.KH; kh++)
              for (let kw = 0; kw < s.KW; kw++) {
                const h = oh * s.stride - s.pad + kh;
                const ww = ow * s.stride - s.pad + kw;
                if (h < 0 || h >= s.H || ww < 0 || ww >= s.W) continue;
                const wi = ((co * s.CI + ci) * s.KH + kh) * s.KW + kw;
                const xi = ((n * s.CI + ci) * s.H + h) * s.W + ww;
                dx[xi] += g * w[wi];
                dw[wi] += g * x[xi];
              }
        }
  return { dx, dw, db };
}

// ---- verification ----------------------------------------------------------------------------

/**
 * Shapes straddle the blocks (rows, columns, K % 4 leftovers, image borders, strides). Those with
 * an explicit tiling run it instead of the adapter's pick, so every kind of tiling (small GPU
 * blocks, big CPU blocks, odd block heights) is verified on every adapter.
 */
function convShapes(rng: { int(n: number): number }): Array<[ConvShape, ConvTiling?]> {
  const odd: ConvShape = { N: 2, CI: 5, H: 9, W: 7, CO: 19, KH: 3, KW: 3, stride: 1, pad: 1 };
  return [
    [{ N: 1, CI: 1, H: 1, W: 1, CO: 1, KH: 1, KW: 1, stride: 1, pad: 0 }],
    [{ N: 2, CI: 1, H: 28, W: 28, CO: 8, KH: 3, KW: 3, stride: 1, pad: 1 }],
    [{ N: 3, CI: 5, H: 7, W: 9, CO: 6, KH: 3, KW: 3, stride: 2, pad: 1 }],
    [{ N: 2, CI: 3, H: 8, W: 8, CO: 37, KH: 1, KW: 1, stride: 2, pad: 0 }],
    [{ N: 1, CI: 4, H: 6, W: 5, CO: 3, KH: 5, KW: 3, stride: 1, pad: 2 }],
    [{ N: 1 + rng.int(3), CI: 1 + rng.int(9), H: 3 + rng.int(12), W: 3 + rng.int(12), CO: 1 + rng.int(20), KH: 3, KW: 3, stride: 1 + rng.int(2), pad: rng.int(2) }],
    [odd, { TM: 4, TN: 16, WG: 64 }],
    [odd, { TM: 32, TN: 8, WG: 16 }],
    [{ N: 2, CI: 6, H: 9, W: 8, CO: 10, KH: 3, KW: 3, stride: 2, pad: 1 }, { TM: 13, TN: 8, WG: 64 }],
    // More than 65,535 workgroups: the engine folds the dispatch into 2-D.
    [{ N: 1, CI: 1, H: 512, W: 513, CO: 1, KH: 3, KW: 3, stride: 1, pad: 1 }, { TM: 4, TN: 8, WG: 1 }],
  ];
}


export const conv2dCheck: KernelCheck = {
  name: 'conv2d',
  kernels: [conv2dForwardKernel, conv2dBackwardDataKernel, conv2dBackwardWeightKernel, conv2dReluPoolC1Kernel, conv2dPoolBackwardWeightC1Kernel],
  cases(rng) {
    const cases: VerifyCase[] = [];
    convShapes(rng).forEach(([s, tiling], idx) => {
      const { OH, OW } = convOutSize(s);
      const x = rng.fillUniform(s.N * s.CI * s.H * s.W);
      const w = rng.fillUniform(s.CO * s.CI * s.KH * s.KW);
      const bias = rng.fillUniform(s.CO);
      const dy = rng.fillUniform(s.N * s.CO * OH * OW);
      const k = s.CI * s.KH * s.KW;
      const hasBias = idx % 2 === 1;
      const activation: Activation = idx % 3 === 1 ? 'relu' : 'none';
      const accumulate = idx % 2 === 0;
      const dx0 = rng.fillUniform(x.length);
      const dw0 = rng.fillUniform(w.length);
      const db0 = rng.fillUniform(s.CO);
      cases.push({
        shape: `forward ${describeConv(s, tiling)}${hasBias ? ' +bias' : ''}${activation === 'relu' ? ' relu' : ''}`,
        inputs: { x, w, bias },
        outputs: { y: s.N * s.CO * OH * OW },
        run: (e, b) => conv2dForward(e, s, { x: b.x, w: b.w, bias: hasBias ? b.bias : undefined, y: b.y }, activation, tiling),
        reference: () => ({ y: conv2dForwardReference(s, x, w, hasBias ? bias : undefined, activation) }),
        tolerance: sumTolerance(k),
      });
      const ref = () => conv2dBackwardReference(s, x, w, dy);
      cases.push({
        shape: `backward data ${describeConv(s, tiling)}${accumulate ? ' +=dx' : ''}`,
        inputs: accumulate ? { dy, w, dx: dx0 } : { dy, w },
        outputs: { dx: x.length },
        run: (e, b) => conv2dBackwardData(e, s, { dy: b.dy, w: b.w, dx: b.dx }, accumulate, tiling),
        reference: () => ({ dx: ref().dx.map((v, i) => v + (accumulate ? dx0[i] : 0)) }),
        tolerance: sumTolerance(s.CO * s.KH * s.KW),
      });
      cases.push({
        shape: `backward weight+bias ${describeConv(s, tiling)}${accumulate ? ' +=dw' : ''}`,
        inputs: accumulate ? { dy, x, dw: dw0, db: db0 } : { dy, x },
        outputs: { dw: w.length, db: s.CO },
        run: (e, b) => conv2dBackwardWeight(e, s, { dy: b.dy, x: b.x, dw: b.dw, db: b.db }, accumulate, tiling),
        reference: () => {
          const r = ref();
          return {
            dw: r.dw.map((v, i) => v + (accumulate ? dw0[i] : 0)),
            db: r.db.map((v, i) => v + (accumulate ? db0[i] : 0)),
          };
        },
        tolerance: sumTolerance(s.N * OH * OW),
      });
    });
    pooledShapes(rng).forEach(([s, tiling], i) => cases.push(pooledCase(rng, s, tiling, i % 4 !== 3)));
    const c1 = (N: number, H: number, W: number, CO: number): ConvShape => ({ N, CI: 1, H, W, CO, KH: 3, KW: 3, stride: 1, pad: 1 });
    const backC1: Array<[ConvShape, number?]> = [[c1(3, 28, 28, 8)], [c1(2, 6, 10, 19), 2], [c1(1, 2, 2, 1)], [c1(1 + rng.int(3), 2 * (1 + rng.int(8)), 2 * (1 + rng.int(8)), 1 + rng.int(40)), 1 + rng.int(3)]];
    backC1.forEach(([s, rowsPer], i) => cases.push(poolBackwardC1Case(rng, s, rowsPer, i % 2 === 1)));
    return cases;
  },
};

/** Shapes for the fused conv + ReLU + max pool (even conv outputs; block heights multiples of 4). */
function pooledShapes(rng: { int(n: number): number }): Array<[ConvShape, (ConvTiling | 'direct')?]> {
  const c1 = (N: number, H: number, W: number, CO: number): ConvShape => ({ N, CI: 1, H, W, CO, KH: 3, KW: 3, stride: 1, pad: 1 });
  return [
    [c1(2, 28, 28, 8)],
    [c1(2, 28, 28, 8), { TM: 32, TN: 8, WG: 16 }],
    [c1(2, 28, 28, 8), 'direct'],
    [c1(3, 6, 10, 19), 'direct'],
    [c1(1, 2, 2, 1), 'direct'],
    [c1(1 + rng.int(3), 2 * (1 + rng.int(8)), 2 * (1 + rng.int(8)), 1 + rng.int(40)), 'direct'],
    [{ N: 3, CI: 3, H: 6, W: 10, CO: 19, KH: 3, KW: 3, stride: 1, pad: 1 }],
    [{ N: 1, CI: 2, H: 12, W: 12, CO: 5, KH: 3, KW: 3, stride: 2, pad: 1 }],
    [{ N: 1 + rng.int(3), CI: 1 + rng.int(6), H: 2 * (2 + rng.int(6)), W: 2 * (2 + rng.int(6)), CO: 1 + rng.int(20), KH: 3, KW: 3, stride: 1, pad: 1 }],
    [{ N: 2, CI: 4, H: 10, W: 6, CO: 17, KH: 3, KW: 3, stride: 1, pad: 1 }, { TM: 4, TN: 16, WG: 64 }],
    [{ N: 2, CI: 4, H: 10, W: 6, CO: 17, KH: 3, KW: 3, stride: 1, pad: 1 }, { TM: 12, TN: 8, WG: 16 }],
    [{ N: 2, CI: 4, H: 10, W: 6, CO: 17, KH: 3, KW: 3, stride: 1, pad: 1 }, { TM: 32, TN: 16, WG: 16 }],
  ];
}

/** Max-pool 2×2/2 of relu(conv) and its winners, as the fused kernel and pool2d with RELU_MASK define them. */
export function convReluMaxPoolReference(s: ConvShape, x: ArrayLike<number>, w: ArrayLike<number>, bias?: ArrayLike<number>): { y: Float64Array; arg: Float64Array } {
  const { OH, OW } = convOutSize(s);
  const conv = conv2dForwardReference(s, x, w, bias, 'relu');
  const [PH, PW] = [OH / 2, OW / 2];
  const y = new Float64Array(s.N * s.CO * PH * PW);
  const arg = new Float64Array(y.length);
  for (let plane = 0; plane < s.N * s.CO; plane++)
    for (let ph = 0; ph < PH; ph++)
      for (let pw = 0; pw < PW; pw++) {
        const at = 2 * ph * OW + 2 * pw;
        let best = at;
        for (const t of [at + 1, at + OW, at + OW + 1]) if (conv[plane * OH * OW + t] > conv[plane * OH * OW + best]) best = t;
        const o = (plane * PH + ph) * PW + pw;
        y[o] = conv[plane * OH * OW + best];
        arg[o] = y[o] > 0 ? best : 0xffffffff;
      }
  return { y, arg };
}

function pooledCase(rng: { int(n: number): number }, s: ConvShape, tiling?: ConvTiling | 'direct', hasBias = true): VerifyCase {
  // Small integers: every sum is exact in f32, so ties are real ties and the first-maximum rule
  // (and the no-winner rule at 0, which the ReLU makes common) is checked exactly.
  const ints = (n: number, r: number) => Float32Array.from({ length: n }, () => rng.int(2 * r + 1) - r);
  const x = ints(s.N * s.CI * s.H * s.W, 3);
  const w = ints(s.CO * s.CI * s.KH * s.KW, 2);
  const bias = ints(s.CO, 2);
  const { OH, OW } = convOutSize(s);
  const count = (s.N * s.CO * OH * OW) / 4;
  return {
    shape: `forward + ReLU + max pool 2x2 ${describeConv(s, tiling === 'direct' ? undefined : tiling)}${tiling === 'direct' ? ' direct' : ''}${hasBias ? ' +bias' : ''}`,
    inputs: { x, w, bias },
    outputs: { y: count, arg: { count, type: 'u32' } },
    run: (e, b) => conv2dReluMaxPoolForward(e, s, { x: b.x, w: b.w, bias: hasBias ? b.bias : undefined, y: b.y, arg: b.arg }, tiling),
    reference: () => convReluMaxPoolReference(s, x, w, hasBias ? bias : undefined),
    tolerance: { abs: 0, rel: 0 },
  };
}

/** dp and arg for a pooled conv output: winners anywhere in their window, or none (1 in 4). */
function poolBackwardC1Case(rng: { int(n: number): number; fillUniform(n: number): Float32Array }, s: ConvShape, rowsPer: number | undefined, accumulate: boolean): VerifyCase {
  const { OH, OW } = convOutSize(s);
  const [PH, PW] = [OH / 2, OW / 2];
  const x = rng.fillUniform(s.N * s.H * s.W);
  const dp = rng.fillUniform(s.N * s.CO * PH * PW);
  const arg = new Uint32Array(dp.length);
  const dconv = new Float64Array(s.N * s.CO * OH * OW);
  for (let plane = 0; plane < s.N * s.CO; plane++)
    for (let ph = 0; ph < PH; ph++)
      for (let pw = 0; pw < PW; pw++) {
        const o = (plane * PH + ph) * PW + pw;
        const r = rng.int(5);
        if (r === 4) {
          arg[o] = 0xffffffff;
          continue;
        }
        arg[o] = (2 * ph + (r >> 1)) * OW + 2 * pw + (r & 1);
        dconv[plane * OH * OW + arg[o]] = dp[o];
      }
  const dw0 = rng.fillUniform(s.CO * 9);
  const db0 = rng.fillUniform(s.CO);
  return {
    shape: `pool backward + weight+bias grad, direct ${describeConv(s)}${rowsPer ? ` rows ${rowsPer}` : ''}${accumulate ? ' +=dw' : ''}`,
    inputs: accumulate ? { dp, arg, x, dw: dw0, db: db0 } : { dp, arg, x },
    outputs: { dw: s.CO * 9, db: s.CO },
    run: (e, b) => conv2dPoolBackwardWeightC1(e, s, { dp: b.dp, arg: b.arg, x: b.x, dw: b.dw, db: b.db }, accumulate, rowsPer),
    reference: () => {
      const r = conv2dBackwardReference(s, x, new Float64Array(s.CO * 9), dconv);
      return { dw: r.dw.map((v, i) => v + (accumulate ? dw0[i] : 0)), db: r.db.map((v, i) => v + (accumulate ? db0[i] : 0)) };
    },
    tolerance: sumTolerance(s.N * PH * PW),
  };
}
