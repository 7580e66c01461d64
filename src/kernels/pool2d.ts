// Max and average pooling (and global average pooling as a full-plane average) with backwards.

import source from '../../shaders/pool2d.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel, type UniformType } from '../gpu/kernel.js';

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
