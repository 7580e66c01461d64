// Batch gather: a batch's examples from a dataset's stored values (bytes or floats, resident on
// the device or uploaded per batch) to the model's input, normalised and augmented on the way.

import source from '../../shaders/gather_batch.wgsl';
import type { Binding, Engine } from '../gpu/engine.js';
import { defineKernel } from '../gpu/kernel.js';

const WG = 256;

export const gatherBatchKernel = defineKernel({
  name: 'gather_batch',
  source,
  bindings: [
    { name: 'data', type: 'u32', access: 'read' },
    { name: 'plan', type: 'u32', access: 'read' },
    { name: 'table', type: 'f32', access: 'read' },
    { name: 'out', type: 'f32', access: 'read_write' },
  ],
  uniforms: [
    ['count', 'u32'],
    ['example', 'u32'],
    ['channels', 'u32'],
    ['height', 'u32'],
    ['width', 'u32'],
    ['indexed', 'u32'],
  ],
  constants: { BYTES: true },
  workgroupSize: () => [WG, 1, 1],
});

export interface GatherShape {
  /** Examples in the batch. */
  count: number;
  channels: number;
  height: number;
  width: number;
  /** `data` holds bytes (4 per u32) rather than float32 values. */
  bytes: boolean;
  /** The plan's rows index `data` (a resident dataset); false: example i is at position i (an uploaded batch). */
  indexed: boolean;
}

/**
 * out[i] = the model's input for example i of the plan (see shaders/gather_batch.wgsl): `table`
 * is inputTable()'s values followed by the channels' pad values.
 */
export function gatherBatch(engine: Engine, data: Binding, plan: Binding, table: Binding, out: Binding, s: GatherShape): void {
  const example = s.channels * s.height * s.width;
  engine.dispatch(gatherBatchKernel, {
    variant: { BYTES: s.bytes },
    bind: { data, plan, table, out },
    uniforms: { count: s.count, example, channels: s.channels, height: s.height, width: s.width, indexed: s.indexed ? 1 : 0 },
    workgroups: Math.ceil((s.count * example) / WG),
  });
}
