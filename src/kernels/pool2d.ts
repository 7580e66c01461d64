// Max and average pooling (and global average pooling as a full-plane average) with backwards.

import source from '../../shaders/pool2d.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel, type UniformType } from '../gpu/kernel.js';
import type { KernelCheck, VerifyCase } from './check.js';

const WG = 64;

export const pool2dKernel = defineKernel({
  name: 'pool2d',
  source,
  bindings: [
    { name: 'src', type: 'f32', access: 'read' },
    { name: 'dst', type: 'f32', access: 'read_write' },
    { name: 'arg', type: 'u32', access: 'read_write' },
  ],
  uniforms: ['planes', 'H', 'W', 'OH', 'OW', 'KH', 'KW', 'stride', 'pad'].map((n) => [n, 'u32'] as [string, UniformType]),
  constants: { MODE: 0, WIN2: false, EVEN: false, RELU_MASK: false },
  workgroupSize: () => [WG, 1, 1],
});

export interface PoolShape {
  /** N·C: pooling is per plane. */
  planes: number;
  H: number;
  W: number;
  KH: number;
  KW: number;
  stride: number;
  pad: number;
}

export function poolOutSize(s: PoolShape): { OH: number; OW: number } {
  const OH = Math.floor((s.H + 2 * s.pad - s.KH) / s.stride) + 1;
  const OW = Math.floor((s.W + 2 * s.pad - s.KW) / s.stride) + 1;
  if (OH < 1 || OW < 1 || s.pad * 2 > Math.min(s.KH, s.KW)) {
    throw new Error(`pool2d: window ${s.KH}x${s.KW} stride ${s.stride} padding ${s.pad} does not fit a ${s.H}x${s.W} input`);
  }
  return { OH, OW };
}

const MODES = { maxForward: 0, maxBackward: 1, avgForward: 2, avgBackward: 3 } as const;

function dispatchPool(engine: Engine, mode: keyof typeof MODES, s: PoolShape, src: Binding, dst: Binding, arg: Binding, count: number, reluMask = false) {
  const win2 = s.KH === 2 && s.KW === 2 && s.stride === 2 && s.pad === 0;
  const even = win2 && s.H % 2 === 0 && s.W % 2 === 0;
  const backward = mode === 'maxBackward' || mode === 'avgBackward';
  const out = poolOutSize(s);
  engine.dispatch(pool2dKernel, {
    variant: { MODE: MODES[mode], WIN2: win2, EVEN: even, RELU_MASK: reluMask },
    bind: { src, dst, arg },
    uniforms: { ...s, ...out },
    // The even backward runs one invocation per window, not per input.
    workgroups: Math.ceil((even && backward ? s.planes * out.OH * out.OW : count) / WG),
  });
}

/**
 * y = max-pool(x); arg (u32, same size as y) records the winners for the backward. With
 * `reluMask` (x is a ReLU's output) windows whose maximum is 0 record no winner, so the backward
 * gives dx = relu'(x) · (max-pool backward of dy): the ReLU's mask comes for free.
 */
export function maxPoolForward(engine: Engine, s: PoolShape, x: Binding, y: Binding, arg: Binding, reluMask = false): void {
  const { OH, OW } = poolOutSize(s);
  dispatchPool(engine, 'maxForward', s, x, y, arg, s.planes * OH * OW, reluMask);
}

export function maxPoolBackward(engine: Engine, s: PoolShape, dy: Binding, arg: Binding, dx: Binding): void {
  dispatchPool(engine, 'maxBackward', s, dy, dx, arg, s.planes * s.H * s.W);
}

/** Average pooling. `scratch` fills the unused `arg` binding: any buffer other than x and y. */
export function avgPoolForward(engine: Engine, s: PoolShape, x: Binding, y: Binding, scratch: Binding): void {
  const { OH, OW } = poolOutSize(s);
  dispatchPool(engine, 'avgForward', s, x, y, scratch, s.planes * OH * OW);
}

export function avgPoolBackward(engine: Engine, s: PoolShape, dy: Binding, dx: Binding, scratch: Binding): void {
  dispatchPool(engine, 'avgBackward', s, dy, dx, scratch, s.planes * s.H * s.W);
}

// ---- references --------------------------------------------------------------------------------

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
