// Conv2d forward, backward-data and backward-weight as implicit GEMMs (NCHW, OIHW weights).

import forwardSource from '../../shaders/conv2d_forward.wgsl';
import backwardDataSource from '../../shaders/conv2d_backward_data.wgsl';
import backwardWeightSource from '../../shaders/conv2d_backward_weight.wgsl';
import c1Common from '../../shaders/conv_c1_common.wgsl';
import reluPoolC1Source from '../../shaders/conv2d_relu_pool_c1.wgsl';
import poolBackwardWeightC1Source from '../../shaders/conv2d_pool_backward_weight_c1.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel, type BindingSpec, type UniformType } from '../gpu/kernel.js';
import type { KernelCheck, VerifyCase } from './check.js';
import { sumTolerance } from './check.js';
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
  if (!canFusePool(s)) throw new Error(`conv2d + max pool: the conv output ${describe(s)} must have even height and width`);
  if (tiling === 'direct' || (tiling === undefined && engine.software && canPoolDirect(s))) {
    if (!canPoolDirect(s)) throw new Error(`conv2d + max pool: the direct kernel needs 1 input channel, 3x3, stride 1, padding 1 and even sizes (got ${describe(s)})`);
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
  if (!canPoolDirect(s)) throw new Error(`conv2d + max pool backward: the direct kernel needs 1 input channel, 3x3, stride 1, padding 1 and even sizes (got ${describe(s)})`);
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

// ---- float64 references ----------------------------------------------------------------------

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

const describe = (s: ConvShape, t?: ConvTiling) =>
  `N${s.N} ${s.CI}x${s.H}x${s.W} -> ${s.CO} k${s.KH}x${s.KW} s${s.stride} p${s.pad}` +
  (t ? ` tile ${t.TM}x${t.TN} wg ${t.WG}` : '');

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
        shape: `forward ${describe(s, tiling)}${hasBias ? ' +bias' : ''}${activation === 'relu' ? ' relu' : ''}`,
        inputs: { x, w, bias },
        outputs: { y: s.N * s.CO * OH * OW },
        run: (e, b) => conv2dForward(e, s, { x: b.x, w: b.w, bias: hasBias ? b.bias : undefined, y: b.y }, activation, tiling),
        reference: () => ({ y: conv2dForwardReference(s, x, w, hasBias ? bias : undefined, activation) }),
        tolerance: sumTolerance(k),
      });
      const ref = () => conv2dBackwardReference(s, x, w, dy);
      cases.push({
        shape: `backward data ${describe(s, tiling)}${accumulate ? ' +=dx' : ''}`,
        inputs: accumulate ? { dy, w, dx: dx0 } : { dy, w },
        outputs: { dx: x.length },
        run: (e, b) => conv2dBackwardData(e, s, { dy: b.dy, w: b.w, dx: b.dx }, accumulate, tiling),
        reference: () => ({ dx: ref().dx.map((v, i) => v + (accumulate ? dx0[i] : 0)) }),
        tolerance: sumTolerance(s.CO * s.KH * s.KW),
      });
      cases.push({
        shape: `backward weight+bias ${describe(s, tiling)}${accumulate ? ' +=dw' : ''}`,
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
    shape: `forward + ReLU + max pool 2x2 ${describe(s, tiling === 'direct' ? undefined : tiling)}${tiling === 'direct' ? ' direct' : ''}${hasBias ? ' +bias' : ''}`,
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
    shape: `pool backward + weight+bias grad, direct ${describe(s)}${rowsPer ? ` rows ${rowsPer}` : ''}${accumulate ? ' +=dw' : ''}`,
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
