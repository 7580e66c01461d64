// Winograd F(2×2, 3×3)'s verification cases (kdgpu verify, the test suite), beside winograd.ts.
// The references are conv2d's float64 ones (conv2d.check.ts): Winograd computes the same
// convolution in another order.
//
// Tolerance. Winograd's rounding error grows with the magnitudes of the terms it combines, not
// with their sum: the transforms add and subtract the 16 inputs of a tile's 4×4 patch, and the
// filter transform all 9 taps, before multiplying. So an output is checked against
//   σ' = Σ_k (Σ |x| over its tile's 4×4 patch, channel k) · (Σ |w| over the 9 taps from k)
//   |got − ref| ≤ WINOGRAD_REL · σ',   WINOGRAD_REL = 10⁻⁶ ≈ 8.4 ε (ε = 2⁻²³)
// (tileScale; for the input gradient, the same over dy and the flipped filter). Measured on
// SwiftShader over these cases with seeds 1-5 and 20261127 (inputs uniform in ±m for m from 10⁻³
// to 10⁴, filter taps from 10⁻² to 10², and per-element magnitudes spread over six decades):
// max |got − ref| / σ' = 1.2·10⁻⁷ (1.0 ε). Against σ = Σ |x|·|w| over the output's own
// receptive field, the uniform cases (seeds 1-3 and 20261127) gave 8.6·10⁻⁶ (72 ε), at a 1×1
// image whose one output has a receptive field of one tap (the other eight taps' rounding in the
// filter transform is not in σ), and at most 7·10⁻⁷ (6 ε) on every other shape; with magnitudes
// varying element by element, 3.8·10⁻⁴ (large inputs in the tile outside the receptive field).
// σ has no bound of this kind, so σ' is the one tested.

import type { KernelCheck, VerifyCase } from './check.js';
import type { Activation } from './matmul.js';
import type { Rng } from '../util/rng.js';
import { conv2dBackwardReference, conv2dForwardReference, convReluMaxPoolReference } from './conv2d.check.js';
import { convOutSize, describeConv, type ConvShape } from './conv2d.js';
import type { GemmTiling } from './gemm.js';
import { conv2dBackwardDataWinograd, conv2dForwardWinograd, conv2dReluMaxPoolWinograd, winogradGemmKernel, winogradTransformKernel } from './winograd.js';

/** The bound every Winograd output is tested with, relative to σ' (tileScale). */
export const WINOGRAD_REL = 1e-6;

const tolerance = { abs: 0, rel: WINOGRAD_REL };

/** How the inputs are drawn: uniform in ±xm (x or dy) and ±wm (w), or `mixed` magnitudes (u·10^e, e in −3..3). */
interface Magnitude {
  xm: number;
  wm: number;
  mixed?: boolean;
}

function draw(rng: Rng, n: number, m: number, mixed = false): Float32Array {
  const a = rng.fillUniform(n, -m, m);
  if (mixed) for (let i = 0; i < n; i++) a[i] *= 10 ** (rng.int(7) - 3);
  return a;
}

const conv3 = (N: number, CI: number, H: number, W: number, CO: number, pad: number): ConvShape => ({ N, CI, H, W, CO, KH: 3, KW: 3, stride: 1, pad });

/**
 * Odd sizes (partial 2×2 tiles at the bottom and right), padding 0, 1 and 2, one channel, channel
 * counts straddling the GEMM's blocks and K % 4 leftovers, magnitudes far from 1, and explicit
 * tilings (small GPU blocks, the big CPU block, an odd height) so every kind runs on every adapter.
 */
function shapes(rng: Rng): Array<[ConvShape, Magnitude, GemmTiling?]> {
  const unit = { xm: 1, wm: 1 };
  const odd = conv3(2, 5, 9, 7, 19, 1);
  return [
    [conv3(1, 1, 1, 1, 1, 1), unit],
    [conv3(1, 1, 3, 3, 1, 0), unit],
    [odd, unit],
    [conv3(1, 3, 8, 11, 6, 0), { xm: 1e-3, wm: 1e2 }],
    [conv3(1, 2, 5, 6, 3, 2), { xm: 1e4, wm: 1e-2 }],
    [conv3(3, 7, 6, 5, 37, 1), { xm: 1, wm: 1, mixed: true }],
    [conv3(2, 16, 14, 14, 8, 1), { xm: 1e3, wm: 0.3 }],
    [conv3(1 + rng.int(3), 1 + rng.int(12), 1 + rng.int(14), 1 + rng.int(14), 1 + rng.int(24), 1), unit],
    [conv3(1 + rng.int(2), 1 + rng.int(9), 3 + rng.int(12), 3 + rng.int(12), 1 + rng.int(20), rng.int(3)), { xm: 10 ** (rng.int(7) - 3), wm: 10 ** (rng.int(5) - 2) }],
    [odd, unit, { TM: 4, TN: 16, WG: 64 }],
    [odd, { xm: 1, wm: 1, mixed: true }, { TM: 32, TN: 8, WG: 16 }],
    [conv3(2, 6, 9, 8, 10, 1), unit, { TM: 13, TN: 8, WG: 64 }],
    // More than 65,535 workgroups in the batched GEMM: the engine folds the dispatch into 2-D.
    [conv3(1, 1, 512, 513, 1, 1), unit, { TM: 4, TN: 8, WG: 1 }],
  ];
}

/** Shapes for the pooled forward (even conv outputs). */
function pooledShapes(rng: Rng): Array<[ConvShape, GemmTiling?]> {
  return [
    [conv3(2, 4, 10, 6, 17, 1)],
    [conv3(1, 3, 10, 8, 5, 0)],
    [conv3(1, 2, 6, 4, 3, 2)],
    [conv3(3, 8, 14, 14, 16, 1), { TM: 16, TN: 16, WG: 16 }],
    [conv3(1 + rng.int(3), 1 + rng.int(8), 2 * (1 + rng.int(7)), 2 * (1 + rng.int(7)), 1 + rng.int(20), 1)],
  ];
}

const label = (s: ConvShape, m: Magnitude, t?: GemmTiling) =>
  `${describeConv(s, t)} |x|≤${m.xm} |w|≤${m.wm}${m.mixed ? ' mixed 1e±3' : ''}`;

export const winogradCheck: KernelCheck = {
  name: 'winograd',
  kernels: [winogradTransformKernel, winogradGemmKernel],
  cases(rng) {
    const cases: VerifyCase[] = [];
    shapes(rng).forEach(([s, m, tiling], idx) => {
      const { OH, OW } = convOutSize(s);
      const x = draw(rng, s.N * s.CI * s.H * s.W, m.xm, m.mixed);
      const w = draw(rng, s.CO * s.CI * 9, m.wm, m.mixed);
      const bias = draw(rng, s.CO, m.xm * m.wm);
      const dy = draw(rng, s.N * s.CO * OH * OW, m.xm, m.mixed);
      const hasBias = idx % 2 === 1;
      const activation: Activation = idx % 3 === 1 ? 'relu' : 'none';
      const accumulate = idx % 2 === 0;
      const dx0 = draw(rng, x.length, m.xm * m.wm);
      const sigmaY = () => tileScale({ N: s.N, K: s.CI, C: s.CO, H: s.H, W: s.W, pad: s.pad }, x, w, false).map((v, i) => v + (hasBias ? Math.abs(bias[Math.floor(i / (OH * OW)) % s.CO]) : 0));
      cases.push({
        shape: `forward ${label(s, m, tiling)}${hasBias ? ' +bias' : ''}${activation === 'relu' ? ' relu' : ''}`,
        inputs: { x, w, bias },
        outputs: { y: s.N * s.CO * OH * OW },
        run: (e, b) => conv2dForwardWinograd(e, s, { x: b.x, w: b.w, bias: hasBias ? b.bias : undefined, y: b.y }, activation, tiling),
        reference: () => ({ y: conv2dForwardReference(s, x, w, hasBias ? bias : undefined, activation) }),
        errorScale: () => ({ y: sigmaY() }),
        tolerance,
        work: { amount: 2 * s.N * s.CO * OH * OW * s.CI * 9, unit: 'GFLOP/s' },
      });
      // σ of the input gradient: the same backward pass over |dy| and |w| (plus |dx0| when accumulating).
      const sigmaDx = () => tileScale({ N: s.N, K: s.CO, C: s.CI, H: OH, W: OW, pad: 2 - s.pad }, dy, w, true).map((v, i) => v + (accumulate ? Math.abs(dx0[i]) : 0));
      cases.push({
        shape: `backward data ${label(s, m, tiling)}${accumulate ? ' +=dx' : ''}`,
        inputs: accumulate ? { dy, w, dx: dx0 } : { dy, w },
        outputs: { dx: x.length },
        run: (e, b) => conv2dBackwardDataWinograd(e, s, { dy: b.dy, w: b.w, dx: b.dx }, accumulate, tiling),
        reference: () => ({ dx: conv2dBackwardReference(s, x, w, dy).dx.map((v, i) => v + (accumulate ? dx0[i] : 0)) }),
        errorScale: () => ({ dx: sigmaDx() }),
        tolerance,
        work: { amount: 2 * s.N * s.CO * OH * OW * s.CI * 9, unit: 'GFLOP/s' },
      });
    });
    pooledShapes(rng).forEach(([s, tiling], idx) => cases.push(pooledCase(rng, s, tiling, idx % 2 === 0)));
    return cases;
  },
};

/**
 * σ' of every output of a Winograd convolution of `input` [N, K, H, W] to [N, C, OH, OW] (filter
 * as in winograd.ts: [C][K][3][3], or with `flip` [K][C][3][3]): Σ_k (Σ |input| over its tile's
 * 4×4 patch) · (Σ |w| over the 9 taps from k to its channel). Every product Winograd's rounding
 * touches in a tile is bounded by these terms; used where magnitudes vary element by element,
 * where a small output's error comes from large inputs in its tile outside its receptive field.
 */
export function tileScale(g: { N: number; K: number; C: number; H: number; W: number; pad: number }, input: Float32Array, w: Float32Array, flip: boolean): Float64Array {
  const OH = g.H + 2 * g.pad - 2;
  const OW = g.W + 2 * g.pad - 2;
  const out = new Float64Array(g.N * g.C * OH * OW);
  const taps = (k: number, c: number) => {
    let t = 0;
    for (let j = 0; j < 9; j++) t += Math.abs(w[(flip ? k * g.C + c : c * g.K + k) * 9 + j]);
    return t;
  };
  for (let n = 0; n < g.N; n++)
    for (let th = 0; 2 * th < OH; th++)
      for (let tw = 0; 2 * tw < OW; tw++) {
        const patch = new Float64Array(g.K);
        for (let k = 0; k < g.K; k++)
          for (let a = 0; a < 4; a++)
            for (let b = 0; b < 4; b++) {
              const h = 2 * th - g.pad + a;
              const ww = 2 * tw - g.pad + b;
              if (h >= 0 && h < g.H && ww >= 0 && ww < g.W) patch[k] += Math.abs(input[((n * g.K + k) * g.H + h) * g.W + ww]);
            }
        for (let c = 0; c < g.C; c++) {
          let sigma = 0;
          for (let k = 0; k < g.K; k++) sigma += patch[k] * taps(k, c);
          for (let oh = 2 * th; oh < Math.min(2 * th + 2, OH); oh++)
            for (let ow = 2 * tw; ow < Math.min(2 * tw + 2, OW); ow++) out[((n * g.C + c) * OH + oh) * OW + ow] = sigma;
        }
      }
  return out;
}

/**
 * The pooled forward, on small integers as conv2d's pooled cases: the filter transform's halves
 * and quarters and every sum after them are exact in f32 at these sizes, so Winograd's result is
 * exact, ties are real ties, and the winners (first maximum in window order, none when the
 * maximum is not > 0) must match exactly.
 */
function pooledCase(rng: Rng, s: ConvShape, tiling: GemmTiling | undefined, hasBias: boolean): VerifyCase {
  const ints = (n: number, r: number) => Float32Array.from({ length: n }, () => rng.int(2 * r + 1) - r);
  const { OH, OW } = convOutSize(s);
  const x = ints(s.N * s.CI * s.H * s.W, 3);
  const w = ints(s.CO * s.CI * 9, 2);
  const bias = ints(s.CO, 2);
  const count = (s.N * s.CO * OH * OW) / 4;
  return {
    shape: `forward + ReLU + max pool 2x2 ${describeConv(s, tiling)} small integers${hasBias ? ' +bias' : ''}`,
    inputs: { x, w, bias },
    outputs: { y: count, arg: { count, type: 'u32' } },
    run: (e, b) => conv2dReluMaxPoolWinograd(e, s, { x: b.x, w: b.w, bias: hasBias ? b.bias : undefined, y: b.y, arg: b.arg }, tiling),
    reference: () => convReluMaxPoolReference(s, x, w, hasBias ? bias : undefined),
    tolerance: { abs: 0, rel: 0 },
  };
}
