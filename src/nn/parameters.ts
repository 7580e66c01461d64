// All of a model's parameters in one flat GPU buffer (and their gradients in another, at the
// same offsets), so the optimizer updates everything in one dispatch. Non-trainable state
// (batch-norm running statistics) lives in a third flat buffer. Allocated once, never per step.

import type { Engine } from '../gpu/engine.js';
import { Tensor } from '../tensor.js';

/** Offsets are aligned so each parameter can be bound on its own (minStorageBufferOffsetAlignment ≤ 256). */
const ALIGN_FLOATS = 64;

export interface ParamEntry {
  name: string;
  shape: number[];
  /** Offset in floats into the flat buffer. */
  offset: number;
  size: number;
  init: Float32Array;
  trainable: boolean;
}

export class ParameterStore {
  readonly entries: ParamEntry[] = [];
  private byName = new Map<string, ParamEntry>();
  private tensors = new Map<string, Tensor>();
  private flat: { params: GPUBuffer; grads: GPUBuffer; state: GPUBuffer } | null = null;
  /** Total floats of the trainable flat buffer (padding included). */
  paramFloats = 0;
  stateFloats = 0;

  constructor(readonly engine: Engine) {}

  private add(name: string, shape: number[], init: Float32Array, trainable: boolean): void {
    if (this.flat) throw new Error(`parameter "${name}" registered after the model was built`);
    if (this.byName.has(name)) throw new Error(`parameter "${name}" registered twice`);
    const size = shape.reduce((p, d) => p * d, 1);
    if (init.length !== size) throw new Error(`parameter "${name}": init has ${init.length} values, shape [${shape}] needs ${size}`);
    const offset = trainable ? this.paramFloats : this.stateFloats;
    const end = Math.ceil((offset + size) / ALIGN_FLOATS) * ALIGN_FLOATS;
    if (trainable) this.paramFloats = end;
    else this.stateFloats = end;
    const e = { name, shape, offset, size, init, trainable };
    this.entries.push(e);
    this.byName.set(name, e);
  }

  /** A trainable parameter. */
  param(name: string, shape: number[], init: Float32Array): void {
    this.add(name, shape, init, true);
  }

  /** Non-trainable state saved with the model (running statistics). */
  buffer(name: string, shape: number[], init: Float32Array): void {
    this.add(name, shape, init, false);
  }

  /** Allocate the flat buffers and upload the initial values. */
  build(): void {
    if (this.flat) return;
    const hostParams = new Float32Array(Math.max(ALIGN_FLOATS, this.paramFloats));
    const hostState = new Float32Array(Math.max(ALIGN_FLOATS, this.stateFloats));
    for (const e of this.entries) (e.trainable ? hostParams : hostState).set(e.init, e.offset);
    const params = this.engine.upload(hostParams, 'parameters');
    const grads = this.engine.upload(new Float32Array(hostParams.length), 'gradients');
    const state = this.engine.upload(hostState, 'model-state');
    this.flat = { params, grads, state };
    for (const e of this.entries) {
      const slice = (buffer: GPUBuffer): GPUBufferBinding => ({ buffer, offset: e.offset * 4, size: e.size * 4 });
      const t = e.trainable
        ? new Tensor(e.shape, slice(params), true, slice(grads), e.name)
        : new Tensor(e.shape, slice(state), false, null, e.name);
      this.tensors.set(e.name, t);
    }
    // Host copies of the initial values are no longer needed.
    for (const e of this.entries) e.init = new Float32Array(0);
  }

  get(name: string): Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new Error(this.flat ? `no parameter named "${name}"` : `parameter "${name}" used before build()`);
    return t;
  }

  get buffers(): { params: GPUBuffer; grads: GPUBuffer; state: GPUBuffer } {
    if (!this.flat) throw new Error('the model has not been built (ParameterStore.build())');
    return this.flat;
  }

  trainable(): Tensor[] {
    return this.entries.filter((e) => e.trainable).map((e) => this.get(e.name));
  }

  /** Parameter count (trainable, without padding). */
  count(): number {
    return this.entries.filter((e) => e.trainable).reduce((s, e) => s + e.size, 0);
  }

  /** Read every parameter and buffer back, by name (for checkpoints and tests). */
  async read(): Promise<Map<string, { shape: number[]; data: Float32Array }>> {
    const { params, state } = this.buffers;
    const p = await this.engine.readF32(params, this.paramFloats);
    const s = await this.engine.readF32(state, this.stateFloats);
    const out = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const e of this.entries) out.set(e.name, { shape: e.shape, data: (e.trainable ? p : s).slice(e.offset, e.offset + e.size) });
    return out;
  }

  /** Overwrite parameters and buffers by name (checkpoint load); shapes must have been checked. */
  write(values: Map<string, Float32Array>): void {
    const { params, state } = this.buffers;
    const hostP = new Float32Array(this.paramFloats);
    const hostS = new Float32Array(this.stateFloats);
    for (const e of this.entries) {
      const v = values.get(e.name);
      if (!v || v.length !== e.size) throw new Error(`parameter "${e.name}": expected ${e.size} values, got ${v?.length ?? 'none'}`);
      (e.trainable ? hostP : hostS).set(v, e.offset);
    }
    if (this.paramFloats > 0) this.engine.write(params, hostP);
    if (this.stateFloats > 0) this.engine.write(state, hostS);
  }

  destroy(): void {
    if (!this.flat) return;
    for (const b of Object.values(this.flat)) this.engine.release(b);
    this.flat = null;
  }
}
