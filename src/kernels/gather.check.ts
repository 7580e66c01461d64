// gather's float64 reference and verification cases (kdgpu verify, the test suite), beside the kernel in gather.ts.

import { inputTable } from '../data/dataset.js';
import type { Rng } from '../util/rng.js';
import type { KernelCheck, VerifyCase } from './check.js';
import { gatherBatch, gatherBatchKernel, type GatherShape } from './gather.js';

/** A batch's shape, the examples stored (n) and the padding value. */
interface GatherCase extends GatherShape {
  n: number;
  pad: number;
}

/**
 * Float64 reference of one batch: example i is stored example plan[4i] (indexed) or i, shifted and
 * mirrored as augmentInto describes, each value (x - mean[c]) / std[c] with x = b / 255 for a byte;
 * padValue[c] outside the image.
 */
export function gatherReference(
  values: ArrayLike<number>,
  plan: Uint32Array,
  s: GatherCase,
  mean: readonly number[],
  std: readonly number[],
  padValue: readonly number[],
): Float64Array {
  const { channels: C, height: H, width: W } = s;
  const out = new Float64Array(s.count * C * H * W);
  for (let i = 0; i < s.count; i++) {
    const row = s.indexed ? plan[4 * i] : i;
    const sy = plan[4 * i + 1] | 0;
    const sx = plan[4 * i + 2] | 0;
    const flip = plan[4 * i + 3] !== 0;
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const yy = y + sy;
          const xx = (flip ? W - 1 - x : x) + sx;
          const o = ((i * C + c) * H + y) * W + x;
          if (yy < 0 || yy >= H || xx < 0 || xx >= W) {
            out[o] = padValue[c];
            continue;
          }
          const v = values[((row * C + c) * H + yy) * W + xx];
          out[o] = ((s.bytes ? v / 255 : v) - mean[c]) / std[c];
        }
      }
    }
  }
  return out;
}

/** Bytes packed 4 per u32 (little-endian), the last word zero-padded. */
export function packBytes(bytes: Uint8Array): Uint32Array {
  const words = new Uint32Array(Math.ceil(bytes.length / 4));
  new Uint8Array(words.buffer).set(bytes);
  return words;
}

function gatherCase(rng: Rng, s: GatherCase): VerifyCase {
  const { channels: C, height: H, width: W } = s;
  const size = C * H * W;
  const stored = s.indexed ? s.n : s.count;
  let values: Uint8Array | Float32Array;
  if (s.bytes) {
    values = new Uint8Array(stored * size);
    for (let i = 0; i < values.length; i++) values[i] = rng.int(256);
    values[0] = 255; // the extremes, where the table's ends are read
    values[values.length - 1] = 0;
  } else {
    values = rng.fillUniform(stored * size, -1, 2);
    values[0] = 1e6;
    values[values.length - 1] = -3e5;
  }
  const mean = Array.from({ length: C }, () => rng.uniform(-0.5, 0.8));
  const std = Array.from({ length: C }, () => rng.uniform(0.05, 2));
  const padValue = Array.from({ length: C }, (_, c) => -mean[c] / std[c]);
  const plan = new Uint32Array(4 * s.count);
  for (let i = 0; i < s.count; i++) {
    plan[4 * i] = s.indexed ? rng.int(s.n) : 0xdeadbeef; // unused when not indexed
    plan[4 * i + 1] = (rng.int(2 * s.pad + 1) - s.pad) >>> 0;
    plan[4 * i + 2] = (rng.int(2 * s.pad + 1) - s.pad) >>> 0;
    plan[4 * i + 3] = rng.int(2);
  }
  const table = inputTable({ images: values, channels: C, normalisation: { mean, std } });
  const tableWithPad = new Float32Array(table.length + C);
  tableWithPad.set(table);
  tableWithPad.set(padValue, table.length);
  const data = s.bytes ? packBytes(values as Uint8Array) : new Uint32Array(values.buffer);
  return {
    shape: `${s.count} of ${stored} ${s.bytes ? 'byte' : 'float'} examples ${C}x${H}x${W}, ${s.indexed ? 'indexed' : 'uploaded'}, shifts within ${s.pad}`,
    inputs: { data, plan, table: tableWithPad },
    outputs: { out: s.count * size },
    run: (e, b) => gatherBatch(e, b.data, b.plan, b.table, b.out, { ...s }),
    reference: () => ({ out: gatherReference(values, plan, s, mean, std, padValue) }),
    // Each value is one or two roundings of float32 from the float64 result (inputTable).
    tolerance: { abs: 4e-7 * 20, rel: 4e-7 },
    work: { amount: s.count * size * (s.bytes ? 5 : 8), unit: 'GB/s' },
  };
}

export const gatherCheck: KernelCheck = {
  name: 'gather_batch',
  kernels: [gatherBatchKernel],
  cases(rng) {
    return (
      [
        { n: 13, count: 6, channels: 3, height: 5, width: 7, bytes: true, indexed: true, pad: 2 },
        { n: 0, count: 7, channels: 1, height: 3, width: 5, bytes: true, indexed: false, pad: 1 },
        { n: 1, count: 1, channels: 1, height: 1, width: 1, bytes: true, indexed: true, pad: 0 },
        { n: 300, count: 128, channels: 1, height: 28, width: 28, bytes: true, indexed: true, pad: 4 },
        { n: 20, count: 9, channels: 1, height: 28, width: 28, bytes: false, indexed: true, pad: 3 },
        { n: 0, count: 5, channels: 2, height: 3, width: 1, bytes: false, indexed: false, pad: 0 },
        { n: 17, count: 11, channels: 3, height: 9, width: 11, bytes: false, indexed: true, pad: 4 },
      ] as GatherCase[]
    ).map((s) => gatherCase(rng, s));
  },
};
