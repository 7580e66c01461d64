// Winograd F(2×2, 3×3) for 3×3, stride-1 convolutions: forward (optionally with bias, ReLU, or
// ReLU and the 2×2 max pool fused into the output transform) and backward-data (the transposed
// convolution: a 3×3 convolution of dy padded by 2 − pad, with the filter flipped and its
// channels transposed). The weight gradient stays on the implicit GEMM (conv2d.ts).
//
// Shape: three small transform passes (shaders/winograd_transforms.wgsl) around one batched
// GEMM of the 16 element-wise products on the GEMM core (shaders/winograd_gemm.wgsl, the core
// plus its loaders), rather than the transforms fused into the core's loader and epilogue. On
// CPU-emulated adapters every load is a per-lane gather and loads are the cost (gemm_core.wgsl):
// an input transform in the A loader would make each A element 4 gathers with bounds tests,
// redone for every column block, where the separate pass reads each input element 4 times per
// tile once (16 loads, 16 stores per tile and channel) and the GEMM then reads plain operands;
// the output transform needs all 16 products of a tile, which come from 16 different GEMMs of
// the batch, so it cannot be any one GEMM's epilogue. The cost is the scratch: V, U and M,
// 16·(K·T + K·C + C·T) floats (T the number of 2×2 tiles).

import source from '../../shaders/winograd_transforms.wgsl';
import gemmSource from '../../shaders/winograd_gemm.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel, type BindingSpec } from '../gpu/kernel.js';
import type { Activation } from './matmul.js';
import { canFusePool, canPoolDirect, convOutSize, describeConv, type ConvShape } from './conv2d.js';
import { gemmCore, gemmWorkgroups, pickGemmTiling, softwareGemmCost, tilingNow, tileVariant, DEFAULT_TILE, type GemmTiling } from './gemm.js';

const f32 = (name: string, access: BindingSpec['access']): BindingSpec => ({ name, type: 'f32', access });
const WG = 64;

export const winogradTransformKernel = defineKernel({
  name: 'winograd_transform',
  source,
  bindings: [f32('src', 'read'), f32('dst', 'read_write'), f32('bias', 'read'), { name: 'arg', type: 'u32', access: 'read_write' }],
  uniforms: ['N', 'K', 'C', 'H', 'W', 'OH', 'OW', 'TH', 'TW', 'pad'].map((n) => [n, 'u32'] as [string, 'u32']),
  constants: { MODE: 0, FLIP: false, HAS_BIAS: false, ACT: 0, POOL: false, ACCUM: false },
  workgroupSize: () => [WG, 1, 1],
});

export const winogradGemmKernel = defineKernel({
  name: 'winograd_gemm',
  source: gemmCore + gemmSource,
  bindings: [f32('v', 'read'), f32('u', 'read'), f32('m', 'read_write')],
  uniforms: [['T', 'u32'], ['K', 'u32'], ['C', 'u32']],
  constants: { ...DEFAULT_TILE },
  workgroupSize: (c) => [c.WG as number, 1, 1],
});

/** Whether Winograd F(2×2, 3×3) computes this conv: 3×3, stride 1, padding 0 to 2. */
export function winogradApplies(s: ConvShape): boolean {
  return s.KH === 3 && s.KW === 3 && s.stride === 1 && s.pad >= 0 && s.pad <= 2 && Number.isInteger(s.pad);
}

/**
 * One Winograd convolution: `input` [N, K, H, W] (K input channels) to `out` [N, C, OH, OW], with
 * the filter read from `w` as the forward conv's [C][K][3][3], or with `flip` as [K][C][3][3]
 * flipped (the backward-data pass). `tiling`: the batched GEMM's blocks (the adapter's pick by
 * default).
 */
interface WinoGeometry {
  N: number;
  K: number;
  C: number;
  H: number;
  W: number;
  pad: number;
}

interface WinoEpilogue {
  flip: boolean;
  bias?: Binding;
  act: 0 | 1;
  /** With `pool`, `out` gets the pooled maximum and `pool` the winners. */
  pool?: Binding;
  accumulate: boolean;
}

function winograd(engine: Engine, g: WinoGeometry, input: Binding, w: Binding, out: Binding, e: WinoEpilogue, tiling?: GemmTiling): void {
  const OH = g.H + 2 * g.pad - 2;
  const OW = g.W + 2 * g.pad - 2;
  const TH = Math.ceil(OH / 2);
  const TW = Math.ceil(OW / 2);
  const T = g.N * TH * TW;
  const uniforms = { ...g, OH, OW, TH, TW };
  const U = engine.alloc(16 * g.K * g.C * 4, 'winograd_u');
  const V = engine.alloc(16 * g.K * T * 4, 'winograd_v');
  const M = engine.alloc(16 * g.C * T * 4, 'winograd_m');
  const unused = engine.alloc(4, 'winograd_unused_arg');
  const transform = (MODE: number, src: Binding, dst: Binding, count: number, extra: Record<string, number | boolean> = {}, bind: Record<string, Binding> = {}) =>
    engine.dispatch(winogradTransformKernel, {
      variant: { MODE, ...extra },
      bind: { src, dst, bias: src, arg: unused, ...bind },
      uniforms,
      workgroups: Math.ceil(count / WG),
    });
  transform(0, w, U, g.K * g.C, { FLIP: e.flip });
  transform(1, input, V, g.K * T);
  const t = tiling ?? tilingNow(engine, winogradGemmKernel, {}, winogradTiling(engine, T, g.C));
  engine.dispatch(winogradGemmKernel, {
    variant: tileVariant(t),
    bind: { v: V, u: U, m: M },
    uniforms: { T, K: g.K, C: g.C },
    workgroups: gemmWorkgroups(T, g.C, t, 16),
  });
  const bind: Record<string, Binding> = {};
  if (e.bias) bind.bias = e.bias;
  if (e.pool) bind.arg = e.pool;
  transform(2, M, out, g.C * T, { HAS_BIAS: !!e.bias, ACT: e.act, POOL: !!e.pool, ACCUM: e.accumulate }, bind);
  for (const b of [U, V, M, unused]) engine.release(b);
}

/** The batched GEMM's blocks: the core's picker, capped at 16 rows (as matmul; see gemm.ts). */
export function winogradTiling(engine: Engine, tiles: number, cols: number): GemmTiling {
  return pickGemmTiling(engine, tiles, cols, 16);
}

function check(op: string, s: ConvShape): void {
  if (!winogradApplies(s)) throw new Error(`${op}: Winograd F(2x2,3x3) needs a 3x3 kernel, stride 1 and padding 0 to 2 (got ${describeConv(s)})`);
  convOutSize(s);
}

/** y = act(conv2d(x, w) + bias) by Winograd F(2×2, 3×3); as conv2dForward. */
export function conv2dForwardWinograd(
  engine: Engine,
  s: ConvShape,
  bufs: { x: Binding; w: Binding; bias?: Binding; y: Binding },
  activation: Activation = 'none',
  tiling?: GemmTiling,
): void {
  check('conv2d forward', s);
  const g = { N: s.N, K: s.CI, C: s.CO, H: s.H, W: s.W, pad: s.pad };
  winograd(engine, g, bufs.x, bufs.w, bufs.y, { flip: false, bias: bufs.bias, act: activation === 'relu' ? 1 : 0, accumulate: false }, tiling);
}

/**
 * max-pool 2×2/2 (relu(conv2d(x, w) + bias)) by Winograd F(2×2, 3×3), the pool fused into the
 * output transform (an output tile is a pooling window): y and arg as conv2dReluMaxPoolForward
 * writes them. Needs an even conv output (tiles start at output (0, 0), so they are the windows).
 */
export function conv2dReluMaxPoolWinograd(
  engine: Engine,
  s: ConvShape,
  bufs: { x: Binding; w: Binding; bias?: Binding; y: Binding; arg: Binding },
  tiling?: GemmTiling,
): void {
  check('conv2d + max pool', s);
  if (!canFusePool(s)) throw new Error(`conv2d + max pool: the conv output ${describeConv(s)} must have even height and width`);
  const g = { N: s.N, K: s.CI, C: s.CO, H: s.H, W: s.W, pad: s.pad };
  winograd(engine, g, bufs.x, bufs.w, bufs.y, { flip: false, bias: bufs.bias, act: 1, pool: bufs.arg, accumulate: false }, tiling);
}

/** dx (+)= conv2d backward w.r.t. the input by Winograd F(2×2, 3×3); as conv2dBackwardData. */
export function conv2dBackwardDataWinograd(
  engine: Engine,
  s: ConvShape,
  bufs: { dy: Binding; w: Binding; dx: Binding },
  accumulate = false,
  tiling?: GemmTiling,
): void {
  check('conv2d backward data', s);
  const { OH, OW } = convOutSize(s);
  // dx = conv(dy, w'), padding 2 − pad: its output is (OH + 2 − 2·pad) = H by (OW + 2 − 2·pad) = W.
  const g = { N: s.N, K: s.CO, C: s.CI, H: OH, W: OW, pad: 2 - s.pad };
  winograd(engine, g, bufs.dy, bufs.w, bufs.dx, { flip: true, act: 0, accumulate }, tiling);
}

// ---- the picker ------------------------------------------------------------------------------

/** The two ways a 3×3 stride-1 conv's forward and input gradient are computed. */
export type ConvAlgorithm = 'winograd' | 'gemm';
export type ConvDirection = 'forward' | 'forward-pool' | 'backward-data';

let forced: ConvAlgorithm | undefined = fromEnvironment();

/** KDGPU_CONV=winograd|gemm (Node): the override below from the start, for benchmark runs. */
function fromEnvironment(): ConvAlgorithm | undefined {
  const v = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.KDGPU_CONV;
  if (v === undefined || v === '') return undefined;
  if (v !== 'winograd' && v !== 'gemm') throw new Error(`KDGPU_CONV=${v}: expected winograd or gemm (or unset, for the picker)`);
  return v;
}

/**
 * Benchmarks and tests only: every conv the picker is asked about takes `algorithm` (Winograd
 * where winogradApplies; the implicit GEMM otherwise), or, with undefined, the picker's choice
 * again. Process-wide, as the pipelines are; KDGPU_CONV sets it at start-up.
 */
export function forceConvAlgorithm(algorithm: ConvAlgorithm | undefined): void {
  forced = algorithm;
}

/**
 * Winograd or the implicit GEMM for one direction of a conv, from the shape alone (so a run's
 * choices, and its numbers, are the same every time on the same kind of adapter).
 *
 * CPU-emulated adapters: the lower estimated cost in the GEMM core's units (softwareGemmCost:
 * per-lane loads, see pickGemmTiling), with two constants fitted to timings of both algorithms on
 * SwiftShader (8 shapes from 4→8 to 64→64 channels, forward and backward-data; docs/design.md):
 *   implicit GEMM  cost(N·OH·OW rows, C cols, 9·K)
 *   Winograd       0.9 · 16 · cost(T rows, C cols, K) + 0.25 · T · (32·K + 20·C)
 * (K, C: the reduction's and the output's channels, CI and CO forward, CO and CI backward; T the
 * 2×2 tiles; the second term the transforms' loads and stores per tile), the same with the max
 * pool fused (on a quiet machine the teacher's pooled forward took 152 ms on Winograd, 204 ms on
 * the implicit GEMM; bench/RESULTS.md). The batched GEMM's reduction is only K long, which the
 * 0.9 barely rewards: Winograd wins from about 32 channels on both sides (the teacher's conv2,
 * 32→64, every direction), not at the student's 8→16 or 4→8. The first layer's pooled
 * forward keeps its direct kernel there (canPoolDirect).
 *
 * GPUs: by FLOPs, Winograd where its multiply-adds and transform additions come to at most half
 * the direct convolution's, (32·K·C + 32·K + 24·C) per tile against 72·K·C (about 16 channels on
 * both sides and up): the transforms' memory traffic, 16·(K + C) floats per tile, is then small
 * beside its 16·K·C multiply-adds.
 *
 * Either way Winograd only where its scratch (V, M: 16·K·T and 16·C·T floats) fits one binding.
 */
export function pickConvAlgorithm(engine: Engine, s: ConvShape, direction: ConvDirection): ConvAlgorithm {
  if (!winogradApplies(s)) return 'gemm';
  if (forced) return forced;
  if (direction === 'forward-pool' && engine.software && canPoolDirect(s)) return 'gemm';
  const { OH, OW } = convOutSize(s);
  const [K, C] = direction === 'backward-data' ? [s.CO, s.CI] : [s.CI, s.CO];
  // The Winograd pass's own geometry: backward-data convolves dy (OH × OW) into dx (H × W).
  const [outH, outW] = direction === 'backward-data' ? [s.H, s.W] : [OH, OW];
  const T = s.N * Math.ceil(outH / 2) * Math.ceil(outW / 2);
  if (16 * Math.max(K, C) * T * 4 > engine.limits.maxStorageBufferBindingSize) return 'gemm';
  if (!engine.software) return 32 * K * C + 32 * K + 24 * C <= 0.5 * 72 * K * C ? 'winograd' : 'gemm';
  const pixels = s.N * outH * outW;
  // The pooled implicit GEMM stores a quarter of its outputs from registers (measured: the
  // teacher's conv2 pooled at 0.73 of its unpooled time), Winograd's output pass gains less.
  const implicit = softwareGemmCost(pixels, C, 9 * K, pickGemmTiling(engine, pixels, C));
  const winograd = 0.9 * 16 * softwareGemmCost(T, C, K, winogradTiling(engine, T, C)) + 0.25 * T * (32 * K + 20 * C);
  return winograd < implicit ? 'winograd' : 'gemm';
}
