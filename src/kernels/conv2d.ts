// Conv2d forward, backward-data and backward-weight as implicit GEMMs (NCHW, OIHW weights).

import forwardSource from '../../shaders/conv2d_forward.wgsl';
import backwardDataSource from '../../shaders/conv2d_backward_data.wgsl';
import backwardWeightSource from '../../shaders/conv2d_backward_weight.wgsl';
import c1Common from '../../shaders/conv_c1_common.wgsl';
import reluPoolC1Source from '../../shaders/conv2d_relu_pool_c1.wgsl';
import poolBackwardWeightC1Source from '../../shaders/conv2d_pool_backward_weight_c1.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel, type BindingSpec, type UniformType } from '../gpu/kernel.js';
import { reduceAxis } from './reduce.js';
import type { Activation } from './matmul.js';
import { gemmCore, gemmWorkgroups, pickGemmTiling, tilingNow, tileVariant, DEFAULT_TILE, type GemmTiling } from './gemm.js';

export interface ConvShape {
  N: number;
  CI: number;
  H: number;
  W: number;
  CO: number;
  KH: number;
  KW: number;
  stride: number;
  pad: number;
}

export function convOutSize(s: ConvShape): { OH: number; OW: number } {
  const OH = Math.floor((s.H + 2 * s.pad - s.KH) / s.stride) + 1;
  const OW = Math.floor((s.W + 2 * s.pad - s.KW) / s.stride) + 1;
  if (OH < 1 || OW < 1) {
    throw new Error(`conv2d: kernel ${s.KH}x${s.KW} with padding ${s.pad} does not fit a ${s.H}x${s.W} input`);
  }
  return { OH, OW };
}

const GEOMETRY: Array<[string, UniformType]> = ['N', 'CI', 'H', 'W', 'CO', 'OH', 'OW', 'KH', 'KW', 'stride', 'pad'].map(
  (n) => [n, 'u32'] as [string, UniformType],
);

/** A conv's implicit-GEMM tiling (see src/kernels/gemm.ts). */
export type ConvTiling = GemmTiling;

const f32 = (name: string, access: BindingSpec['access']): BindingSpec => ({ name, type: 'f32', access });
const TILE_CONSTANTS = { ...DEFAULT_TILE, PHASED: false };
const workgroupSize = (c: Record<string, number | boolean>): [number, number, number] => [c.WG as number, 1, 1];

export const conv2dForwardKernel = defineKernel({
  name: 'conv2d_forward',
  source: gemmCore + forwardSource,
  bindings: [f32('x', 'read'), f32('wt', 'read'), f32('bias', 'read'), f32('y', 'read_write'), { name: 'arg', type: 'u32', access: 'read_write' }],
  uniforms: GEOMETRY,
  constants: { HAS_BIAS: false, ACT: 0, POOL: false, ...TILE_CONSTANTS },
  workgroupSize,
});

export const conv2dBackwardDataKernel = defineKernel({
  name: 'conv2d_backward_data',
  source: gemmCore + backwardDataSource,
  bindings: [f32('dy', 'read'), f32('wt', 'read'), f32('dx', 'read_write')],
  uniforms: GEOMETRY,
  constants: { ACCUM: false, ...TILE_CONSTANTS },
  workgroupSize,
});

export const conv2dBackwardWeightKernel = defineKernel({
  name: 'conv2d_backward_weight',
  source: gemmCore + backwardWeightSource,
  bindings: [f32('dy', 'read'), f32('x', 'read'), f32('partial', 'read_write'), f32('pdb', 'read_write')],
  uniforms: [...GEOMETRY, ['splits', 'u32']],
  constants: { HAS_DB: false, ...TILE_CONSTANTS },
  workgroupSize,
});

/** conv + bias + ReLU + 2×2 max pool for one input channel, 3×3, stride 1, padding 1 (a first layer). */
export const conv2dReluPoolC1Kernel = defineKernel({
  name: 'conv2d_relu_pool_c1',
  source: c1Common + reluPoolC1Source,
  bindings: [f32('x', 'read'), f32('wt', 'read'), f32('bias', 'read'), f32('y', 'read_write'), { name: 'arg', type: 'u32', access: 'read_write' }],
  uniforms: GEOMETRY,
  constants: { HAS_BIAS: false, WG: 64 },
  workgroupSize,
});

/** Its weight and bias gradients from the pooled gradient and the winners (the pool's backward fused in). */
export const conv2dPoolBackwardWeightC1Kernel = defineKernel({
  name: 'conv2d_pool_backward_weight_c1',
  source: c1Common + poolBackwardWeightC1Source,
  bindings: [f32('dp', 'read'), { name: 'arg', type: 'u32', access: 'read' }, f32('x', 'read'), f32('partial', 'read_write'), f32('pdb', 'read_write')],
  uniforms: [...GEOMETRY, ['rows_per', 'u32']],
  constants: { WG: 64 },
  workgroupSize,
});

/** Whether the direct first-layer kernels (shaders/conv2d_*_c1.wgsl) cover this conv. */
export function canPoolDirect(s: ConvShape): boolean {
  return s.CI === 1 && s.KH === 3 && s.KW === 3 && s.stride === 1 && s.pad === 1 && s.H % 2 === 0 && s.W % 2 === 0;
}

function geometry(s: ConvShape): Record<string, number> {
  return { ...s, ...convOutSize(s) };
}


/** y = act(conv2d(x, w) + bias). x [N, CI, H, W], w [CO, CI, KH, KW], y [N, CO, OH, OW]. */
export function conv2dForward(
  engine: Engine,
  s: ConvShape,
  bufs: { x: Binding; w: Binding; bias?: Binding; y: Binding },
  activation: Activation = 'none',
  tiling?: ConvTiling,
): void {
  dispatchForward(engine, s, bufs, activation, null, tiling);
}

/** Whether conv2dReluMaxPoolForward applies: the conv's output has even height and width. */
export function canFusePool(s: ConvShape): boolean {
  const { OH, OW } = convOutSize(s);
  return OH % 2 === 0 && OW % 2 === 0;
}

/**
 * y = max-pool 2×2/2 (relu(conv2d(x, w) + bias)) in one kernel: y [N, CO, OH/2, OW/2] and arg
 * (u32, same size) as maxPoolForward(..., reluMask = true) writes them, so maxPoolBackward of
 * (dy, arg) is the conv output's ReLU-masked gradient. The conv's own output is never stored.
 * `tiling`: the implicit GEMM's blocks, or 'direct' for the first-layer kernel (canPoolDirect);
 * by default the direct kernel where it applies on CPU-emulated adapters (8-12x faster there than
 * the GEMM, whose reduction is only 9 long), the GEMM otherwise.
 */
export function conv2dReluMaxPoolForward(
  engine: Engine,
  s: ConvShape,
  bufs: { x: Binding; w: Binding; bias?: Binding; y: Binding; arg: Binding },
  tiling?: ConvTiling | 'direct',
): void {
  if (!canFusePool(s)) throw new Error(`conv2d + max pool: the conv output ${describeConv(s)} must have even height and width`);
  if (tiling === 'direct' || (tiling === undefined && engine.software && canPoolDirect(s))) {
    if (!canPoolDirect(s)) throw new Error(`conv2d + max pool: the direct kernel needs 1 input channel, 3x3, stride 1, padding 1 and even sizes (got ${describeConv(s)})`);
    const wg = 64;
    engine.dispatch(conv2dReluPoolC1Kernel, {
      variant: { HAS_BIAS: !!bufs.bias, WG: wg },
      bind: { x: bufs.x, wt: bufs.w, bias: bufs.bias ?? bufs.w, y: bufs.y, arg: bufs.arg },
      uniforms: geometry(s),
      workgroups: Math.ceil((s.N * (s.H / 2) * Math.ceil(s.CO / 4)) / wg),
    });
    return;
  }
  if (tiling && tiling.TM % 4 !== 0) throw new Error(`conv2d + max pool: block height ${tiling.TM} is not a multiple of 4`);
  dispatchForward(engine, s, bufs, 'relu', bufs.arg, tiling);
}

/**
 * dw (+)= and db (+)= the gradients of conv2dReluMaxPoolForward's weights and bias, from dp (the
 * pooled output's gradient) and arg, for a layer canPoolDirect covers, without the conv output's
 * gradient ever being written (the input's gradient is not computed: a first layer's input is
 * data). Scratch: R·(CO·9 + CO) floats of per-invocation sums, R = N · ⌈(H/2) / rows_per⌉.
 */
export function conv2dPoolBackwardWeightC1(
  engine: Engine,
  s: ConvShape,
  bufs: { dp: Binding; arg: Binding; x: Binding; dw: Binding; db?: Binding },
  accumulate = false,
  rowsPer?: number,
): void {
  if (!canPoolDirect(s)) throw new Error(`conv2d + max pool backward: the direct kernel needs 1 input channel, 3x3, stride 1, padding 1 and even sizes (got ${describeConv(s)})`);
  const PH = s.H / 2;
  const groups = Math.ceil(s.CO / 4);
  // About 512 invocations (a few workgroups per core on SwiftShader), each over whole pooled rows.
  const per = rowsPer ?? Math.ceil(PH / Math.min(PH, Math.max(1, Math.ceil(512 / (s.N * groups)))));
  const runs = Math.ceil(PH / per);
  const R = s.N * runs;
  const partial = engine.alloc(R * s.CO * 9 * 4, 'conv_dw_partial');
  const pdb = engine.alloc(R * s.CO * 4, 'conv_db_partial');
  const wg = 64;
  engine.dispatch(conv2dPoolBackwardWeightC1Kernel, {
    variant: { WG: wg },
    bind: { dp: bufs.dp, arg: bufs.arg, x: bufs.x, partial, pdb },
    uniforms: { ...geometry(s), rows_per: per },
    workgroups: Math.ceil((R * groups) / wg),
  });
  reduceAxis(engine, partial, bufs.dw, [R, s.CO * 9], 0, 'sum', accumulate);
  if (bufs.db) reduceAxis(engine, pdb, bufs.db, [R, s.CO], 0, 'sum', accumulate);
  engine.release(partial);
  engine.release(pdb);
}

function dispatchForward(
  engine: Engine,
  s: ConvShape,
  bufs: { x: Binding; w: Binding; bias?: Binding; y: Binding },
  activation: Activation,
  arg: Binding | null,
  tiling?: ConvTiling,
): void {
  const g = geometry(s);
  const rows = s.N * g.OH * g.OW;
  const constants = { HAS_BIAS: !!bufs.bias, ACT: activation === 'relu' ? 1 : 0, POOL: !!arg };
  const t = tiling ?? tilingNow(engine, conv2dForwardKernel, constants, pickGemmTiling(engine, rows, s.CO));
  // Without pooling, `arg` is unused; it still needs a buffer of its own (it is writable).
  const unused = arg ? null : engine.alloc(4, 'conv_unused_arg');
  engine.dispatch(conv2dForwardKernel, {
    variant: { ...constants, ...tileVariant(t) },
    bind: { x: bufs.x, wt: bufs.w, bias: bufs.bias ?? bufs.w, y: bufs.y, arg: arg ?? unused! },
    uniforms: g,
    workgroups: gemmWorkgroups(rows, s.CO, t),
  });
  if (unused) engine.release(unused);
}

/** dx (+)= conv2d backward w.r.t. the input. */
export function conv2dBackwardData(
  engine: Engine,
  s: ConvShape,
  bufs: { dy: Binding; w: Binding; dx: Binding },
  accumulate = false,
  tiling?: ConvTiling,
): void {
  const rows = s.N * s.H * s.W;
  const constants = { ACCUM: accumulate, PHASED: s.stride > 1 };
  const t = tiling ?? tilingNow(engine, conv2dBackwardDataKernel, constants, pickGemmTiling(engine, rows, s.CI));
  engine.dispatch(conv2dBackwardDataKernel, {
    variant: { ...constants, ...tileVariant(t) },
    bind: { dy: bufs.dy, wt: bufs.w, dx: bufs.dx },
    uniforms: geometry(s),
    workgroups: gemmWorkgroups(rows, s.CI, t),
  });
}

function weightGradTiling(engine: Engine, s: ConvShape): ConvTiling {
  return pickGemmTiling(engine, s.CI * s.KH * s.KW, s.CO);
}

/** How many ways the weight-gradient reduction (over N·OH·OW) is split. */
export function weightGradSplits(engine: Engine, s: ConvShape, tiling = weightGradTiling(engine, s)): number {
  const { OH, OW } = convOutSize(s);
  const chunks = Math.ceil((s.N * OH * OW) / 4);
  const tiles = Math.ceil((s.CI * s.KH * s.KW) / tiling.TM) * Math.ceil(s.CO / tiling.TN);
  // Enough invocations to fill the device (on SwiftShader: a few workgroups per core; timings
  // there were flat from 48 to 512 invocations), each summing at least a few chunks of 4 k, and
  // few enough partial sums that their reduce stays cheap. On a GPU the reduce sums each column's
  // partials serially, so it takes no more partials than an invocation sums chunks (√chunks):
  // with up to 1,024 an H200 spent 0.2 ms per reduce, two thirds of a student step's GPU time.
  if (engine.software) return Math.max(1, Math.min(Math.ceil(128 / tiles), Math.ceil(chunks / 16), 1024));
  return Math.max(1, Math.min(Math.ceil(16384 / tiles), Math.ceil(Math.sqrt(chunks)), 1024));
}

/**
 * dw (+)= conv2d backward w.r.t. the weights, and db (+)= Σ dy over batch and pixels when given.
 * Uses a scratch of splits·(CO·CI·KH·KW + CO) floats for the split-k partial sums.
 */
export function conv2dBackwardWeight(
  engine: Engine,
  s: ConvShape,
  bufs: { dy: Binding; x: Binding; dw: Binding; db?: Binding },
  accumulate = false,
  tiling?: ConvTiling,
): void {
  const g = geometry(s);
  const constants = { HAS_DB: !!bufs.db };
  const picked = tiling ?? weightGradTiling(engine, s);
  // The split count comes from the picked tiling even while a quicker one runs (tilingNow), so
  // the partial sums, and the result, are the same either way.
  const splits = weightGradSplits(engine, s, picked);
  const t = tiling ?? tilingNow(engine, conv2dBackwardWeightKernel, constants, picked);
  const cols = s.CI * s.KH * s.KW;
  const partial = engine.alloc(splits * s.CO * cols * 4, 'conv_dw_partial');
  const pdb = engine.alloc(bufs.db ? splits * s.CO * 4 : 4, 'conv_db_partial');
  engine.dispatch(conv2dBackwardWeightKernel, {
    variant: { ...constants, ...tileVariant(t) },
    bind: { dy: bufs.dy, x: bufs.x, partial, pdb },
    uniforms: { ...g, splits },
    workgroups: gemmWorkgroups(cols, s.CO, t, splits),
  });
  reduceAxis(engine, partial, bufs.dw, [splits, s.CO * cols], 0, 'sum', accumulate);
  if (bufs.db) reduceAxis(engine, pdb, bufs.db, [splits, s.CO], 0, 'sum', accumulate);
  engine.release(partial);
  engine.release(pdb);
}

/** A conv shape (and tiling) in a line, for errors and check cases. */
export const describeConv = (s: ConvShape, t?: ConvTiling) =>
  `N${s.N} ${s.CI}x${s.H}x${s.W} -> ${s.CO} k${s.KH}x${s.KW} s${s.stride} p${s.pad}` +
  (t ? ` tile ${t.TM}x${t.TN} wg ${t.WG}` : '');
