// pool2d's float64 references and verification cases (kdgpu verify, the test suite), beside the kernels in pool2d.ts.

import type { KernelCheck, VerifyCase } from './check.js';
import { pool2dKernel, type PoolShape, poolOutSize, maxPoolForward, maxPoolBackward, avgPoolForward, avgPoolBackward } from './pool2d.js';

function windows(s: PoolShape, visit: (plane: number, o: number, taps: number[]) => void): void {
  const { OH, OW } = poolOutSize(s);
  for (let p = 0; p < s.planes; p++)
    for (let oh = 0; oh < OH; oh++)
      for (let ow = 0; ow < OW; ow++) {
        const taps: number[] = [];
        for (let kh = 0; kh < s.KH; kh++)
          for (let kw = 0; kw < s.KW; kw++) {
            const h = oh * s.stride - s.pad + kh;
            const w = ow * s.stride - s.pad + kw;
            if (h >= 0 && h < s.H && w >= 0 && w < s.W) taps.push(h * s.W + w);
          }
        visit(p, (p * OH + oh) * OW + ow, taps);
      }
}

export function poolReference(
  s: PoolShape,
  kind: 'max' | 'avg',
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  reluMask = false,
): { y: Float64Array; dx: Float64Array } {
  const { OH, OW } = poolOutSize(s);
  const hw = s.H * s.W;
  const y = new Float64Array(s.planes * OH * OW);
  const dx = new Float64Array(s.planes * hw);
  windows(s, (p, o, taps) => {
    if (kind === 'max') {
      let best = taps[0];
      for (const t of taps) if (x[p * hw + t] > x[p * hw + best]) best = t;
      y[o] = x[p * hw + best];
      // ReLU-masked: the gradient only reaches inputs that are > 0.
      if (!reluMask || x[p * hw + best] > 0) dx[p * hw + best] += dy[o];
    } else {
      for (const t of taps) {
        y[o] += x[p * hw + t] / (s.KH * s.KW);
        dx[p * hw + t] += dy[o] / (s.KH * s.KW);
      }
    }
  });
  return { y, dx };
}

export const pool2dCheck: KernelCheck = {
  name: 'pool2d',
  kernels: [pool2dKernel],
  cases(rng) {
    const shapes: PoolShape[] = [
      { planes: 1, H: 1, W: 1, KH: 1, KW: 1, stride: 1, pad: 0 },
      { planes: 6, H: 28, W: 28, KH: 2, KW: 2, stride: 2, pad: 0 },
      { planes: 5, H: 7, W: 9, KH: 2, KW: 2, stride: 2, pad: 0 },
      { planes: 3, H: 5, W: 6, KH: 2, KW: 2, stride: 1, pad: 1 },
      { planes: 3, H: 9, W: 8, KH: 3, KW: 3, stride: 2, pad: 1 },
      { planes: 7, H: 8, W: 8, KH: 8, KW: 8, stride: 1, pad: 0 },
      { planes: 1 + rng.int(9), H: 4 + rng.int(10), W: 4 + rng.int(10), KH: 3, KW: 2, stride: 1 + rng.int(2), pad: 1 },
    ];
    const cases: VerifyCase[] = [];
    for (const s of shapes) {
      const { OH, OW } = poolOutSize(s);
      const outN = s.planes * OH * OW;
      const inN = s.planes * s.H * s.W;
      const label = `${s.planes}x${s.H}x${s.W} k${s.KH}x${s.KW} s${s.stride} p${s.pad}`;
      // Distinct values, so the max is unique and float ties cannot flip the winner.
      const x = new Float32Array(rng.permutation(inN)).map((v) => (v - inN / 2) / inN);
      const dy = rng.fillUniform(outN);
      // A ReLU's output: about half the inputs exactly 0, so some windows have no positive value.
      const xr = x.map((v) => Math.max(0, v));
      for (const kind of ['max', 'avg', 'max-relu'] as const) {
        const relu = kind === 'max-relu';
        const xin = relu ? xr : x;
        const ref = () => poolReference(s, relu ? 'max' : kind, xin, dy, relu);
        cases.push({
          shape: `${kind} forward+backward ${label}`,
          inputs: { x: xin, dy },
          outputs: { y: outN, dx: inN },
          run: (e, b) => {
            const arg = e.alloc(outN * 4, 'pool_arg');
            if (kind !== 'avg') {
              maxPoolForward(e, s, b.x, b.y, arg, relu);
              maxPoolBackward(e, s, b.dy, arg, b.dx);
            } else {
              avgPoolForward(e, s, b.x, b.y, arg);
              avgPoolBackward(e, s, b.dy, b.dx, arg);
            }
            e.release(arg);
          },
          reference: () => {
            const r = ref();
            return { y: r.y, dx: r.dx };
          },
          tolerance: { abs: 1e-6, rel: 1e-5 },
        });
      }
    }
    return cases;
  },
};
