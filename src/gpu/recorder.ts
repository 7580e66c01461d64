// The command recorder: dispatches are recorded back to back into one compute pass and submitted
// together at flush() (or every `maxDispatchesPerSubmit`), their uniforms packed into a few
// pooled buffers (the uniform arena) written once per submit.

import { BufferUsage } from './flags.js';
import { uniformBytes, type KernelDef, type Variant } from './kernel.js';
import type { BufferPool } from './pool.js';
import type { DeviceErrors } from './device-errors.js';
import type { CompiledPipeline } from './pipelines.js';
import { PROFILE_SLOTS, type Profiler } from './profiler.js';

export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

export interface DispatchArgs {
  variant?: Variant;
  bind: Record<string, Binding>;
  uniforms?: Record<string, number>;
  /** Workgroup counts; a 1-D count above the adapter limit is folded into 2-D. */
  workgroups: number | [number, number, number?];
}

const UNIFORM_CHUNK = 64 * 1024;

/** A submit's uniforms: slots carved out of 64 KiB pooled buffers, aligned as the device asks. */
class UniformArena {
  private chunks: Array<{ buffer: GPUBuffer; data: Uint8Array<ArrayBuffer>; used: number }> = [];

  constructor(
    private readonly pool: BufferPool,
    private readonly align: number,
  ) {}

  slot(bytes: number): { buffer: GPUBuffer; offset: number; view: DataView } {
    let chunk = this.chunks[this.chunks.length - 1];
    if (!chunk || chunk.used + bytes > UNIFORM_CHUNK) {
      const buffer = this.pool.acquire(UNIFORM_CHUNK, BufferUsage.UNIFORM | BufferUsage.COPY_DST, 'uniforms');
      chunk = { buffer, data: new Uint8Array(UNIFORM_CHUNK), used: 0 };
      this.chunks.push(chunk);
    }
    const offset = chunk.used;
    chunk.used = Math.ceil((offset + bytes) / this.align) * this.align;
    return { buffer: chunk.buffer, offset, view: new DataView(chunk.data.buffer, offset, bytes) };
  }

  /** Before the submit: the slots' values to the GPU. */
  write(queue: GPUQueue): void {
    for (const c of this.chunks) queue.writeBuffer(c.buffer, 0, c.data, 0, c.used);
  }

  /** After the submit: the buffers back to the pool (reused only after this submit, see BufferPool). */
  release(): void {
    for (const c of this.chunks) this.pool.release(c.buffer);
    this.chunks = [];
  }
}

export class CommandRecorder {
  /** Dispatches per kernel name since creation (verification coverage, tests). */
  readonly dispatchCounts = new Map<string, number>();
  submits = 0;
  /** While set, every dispatch is timed (see Profiler). */
  profiler: Profiler | null = null;

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private recorded = 0;
  private recordedKernels: string[] = [];
  private afterSubmit: Array<() => void> = [];
  private readonly uniforms: UniformArena;

  constructor(
    private readonly device: GPUDevice,
    private readonly pool: BufferPool,
    private readonly errors: DeviceErrors,
    private readonly maxDispatchesPerSubmit: number,
  ) {
    this.uniforms = new UniformArena(pool, device.limits.minUniformBufferOffsetAlignment);
  }

  /** Whether anything is recorded and not yet submitted. */
  get recording(): boolean {
    return this.pass !== null;
  }

  record(def: KernelDef, { pipeline, layout }: CompiledPipeline, args: DispatchArgs): void {
    const resources: GPUBufferBinding[] = def.bindings.map((b) => {
      const bound = args.bind[b.name];
      if (!bound) throw new Error(`kernel "${def.name}": binding "${b.name}" was not given`);
      return 'buffer' in bound ? bound : { buffer: bound };
    });
    checkAliasing(def, resources);
    const entries: GPUBindGroupEntry[] = resources.map((resource, i) => ({ binding: i, resource }));
    if (def.uniforms.length > 0) {
      const bytes = uniformBytes(def);
      const slot = this.uniforms.slot(bytes);
      def.uniforms.forEach(([name, type], i) => {
        const v = args.uniforms?.[name];
        if (v === undefined || !Number.isFinite(v)) {
          throw new Error(`kernel "${def.name}": uniform "${name}" is ${v}, expected a finite number`);
        }
        if (type === 'f32') slot.view.setFloat32(i * 4, v, true);
        else if (type === 'i32') slot.view.setInt32(i * 4, v, true);
        else {
          if (v < 0 || !Number.isInteger(v)) throw new Error(`kernel "${def.name}": uniform "${name}" = ${v} is not a u32`);
          slot.view.setUint32(i * 4, v, true);
        }
      });
      entries.push({ binding: def.bindings.length, resource: { buffer: slot.buffer, offset: slot.offset, size: bytes } });
    }
    const bindGroup = this.device.createBindGroup({ layout, entries, label: def.name });
    const [x, y, z] = this.foldWorkgroups(def, args.workgroups);
    if (x === 0 || y === 0 || z === 0) return;
    const pass = this.profiler ? this.profiledPass(this.profiler.timestampWrites(def.name, args.variant ?? {}, [x, y, z])) : this.currentPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.dispatchCounts.set(def.name, (this.dispatchCounts.get(def.name) ?? 0) + 1);
    this.recordedKernels.push(def.name);
    if (this.profiler) {
      pass.end();
      this.pass = this.encoder!.beginComputePass();
    }
    const limit = this.profiler ? PROFILE_SLOTS : this.maxDispatchesPerSubmit;
    if (++this.recorded >= limit) this.flush();
  }

  /** Submit everything recorded so far. */
  flush(): void {
    if (this.pass) {
      this.pass.end();
      const readTimestamps = this.profiler?.resolve(this.encoder!, this.pool, this.errors);
      if (readTimestamps) this.afterSubmit.push(readTimestamps);
      this.uniforms.write(this.device.queue);
      // Validation of a pass happens at finish(): name the kernels the failing submit held.
      const kernels = [...new Set(this.recordedKernels)].join(', ');
      this.device.pushErrorScope('validation');
      this.device.queue.submit([this.encoder!.finish()]);
      this.errors.watch(
        this.device.popErrorScope().then((err) => {
          if (err) this.errors.push(`${err.message}\n(in a submit of kernels: ${kernels})`);
        }),
      );
      this.recordedKernels = [];
      this.submits++;
      for (const hook of this.afterSubmit) hook();
      this.afterSubmit = [];
      this.uniforms.release();
      this.pass = null;
      this.encoder = null;
      this.recorded = 0;
    }
    this.pool.afterSubmit();
  }

  /** Copy between buffers in recording order (ends the current pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.currentPass().end();
    this.encoder!.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.pass = this.encoder!.beginComputePass();
  }

  private currentPass(): GPUComputePassEncoder {
    if (!this.pass) {
      this.encoder = this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
    }
    return this.pass;
  }

  private profiledPass(timestampWrites: GPUComputePassTimestampWrites): GPUComputePassEncoder {
    if (this.pass) this.pass.end();
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    this.pass = this.encoder.beginComputePass({ timestampWrites });
    return this.pass;
  }

  private foldWorkgroups(def: KernelDef, wg: DispatchArgs['workgroups']): [number, number, number] {
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (typeof wg === 'number') {
      if (wg <= max) return [wg, 1, 1];
      const y = Math.ceil(wg / max);
      return [Math.ceil(wg / y), y, 1];
    }
    const [x, y, z = 1] = wg;
    if (x > max || y > max || z > max) {
      throw new Error(`kernel "${def.name}": dispatch ${x}x${y}x${z} exceeds ${max} workgroups per dimension`);
    }
    return [x, y, z];
  }
}

/**
 * WebGPU forbids a buffer range bound as writable storage to overlap any other binding of the same
 * dispatch; Dawn reports it only at submit, without the kernel. Refuse it here, by name.
 */
function checkAliasing(def: KernelDef, resources: GPUBufferBinding[]): void {
  const range = (r: GPUBufferBinding): [number, number] => {
    const start = r.offset ?? 0;
    return [start, r.size !== undefined ? start + r.size : r.buffer.size];
  };
  def.bindings.forEach((b, i) => {
    if (b.access !== 'read_write') return;
    const [s0, e0] = range(resources[i]);
    resources.forEach((other, j) => {
      if (j === i || other.buffer !== resources[i].buffer) return;
      const [s1, e1] = range(other);
      if (s0 < e1 && s1 < e0) {
        throw new Error(
          `kernel "${def.name}": writable binding "${b.name}" overlaps binding "${def.bindings[j].name}" (both buffer "${other.buffer.label}"); outputs must not alias inputs`,
        );
      }
    });
  });
}
