// The engine: one GPUDevice and what serves it: the buffer pool (pool.ts), the pipeline cache
// (pipelines.ts), the command recorder with its uniform arena (recorder.ts), the profiler
// (profiler.ts), the late errors (device-errors.ts) and embedders' tensors (held-tensors.ts).
// Dispatches are recorded back to back and submitted together; nothing is read back unless
// read() is called. This file holds the engine's face and its buffers in and out.

import { BufferPool, type PoolCounters } from './pool.js';
import { BufferUsage, MapMode, STORAGE_USAGE } from './flags.js';
import type { KernelDef, Variant } from './kernel.js';
import { DeviceErrors } from './device-errors.js';
import { PipelineCache } from './pipelines.js';
import { CommandRecorder, type Binding, type DispatchArgs } from './recorder.js';
import { Profiler, type ProfileEntry } from './profiler.js';
import { HeldTensors, type HeldTensor } from './held-tensors.js';

export type { Binding, DispatchArgs, HeldTensor, ProfileEntry };

export interface EngineOptions {
  /**
   * The adapter emulates a GPU on the CPU (SwiftShader). Kernels use it to pick variants: on a
   * CPU, workgroup barriers are context switches, so one invocation per row beats a workgroup tree.
   */
  software?: boolean;
  /** Submit after this many dispatches even without an explicit flush. */
  maxDispatchesPerSubmit?: number;
}

/** engine.memory(): the buffer pool's counters, and the engine.tensor()s not yet disposed. */
export interface MemoryInfo extends PoolCounters {
  tensors: number;
}

export class Engine {
  readonly pool: BufferPool;
  readonly limits: GPUSupportedLimits;
  readonly software: boolean;

  private readonly errors = new DeviceErrors();
  private readonly pipelines: PipelineCache;
  private readonly recorder: CommandRecorder;
  private readonly tensors = new HeldTensors();
  private destroyed = false;

  constructor(
    readonly device: GPUDevice,
    readonly adapterName: string,
    options: EngineOptions = {},
  ) {
    this.limits = device.limits;
    this.software = options.software ?? false;
    this.pool = new BufferPool(device, device.limits.maxBufferSize, (m) => this.errors.noteOutOfMemory(m), (p) => this.errors.watch(p));
    this.pipelines = new PipelineCache(device, this.errors);
    this.recorder = new CommandRecorder(device, this.pool, this.errors, options.maxDispatchesPerSubmit ?? 1024);
    device.addEventListener('uncapturederror', (ev) => {
      ev.preventDefault(); // reported by throwErrors(), not printed by the implementation
      this.errors.push((ev as GPUUncapturedErrorEvent).error.message);
    });
    device.lost.then((info) => {
      // Our own destroy() is not a loss; anything else is (a driver reset, or another owner's destroy()).
      if (!this.destroyed) this.errors.noteLost(`GPU device lost (${info.reason}): ${info.message || 'no message'}`);
    });
  }

  /** Dispatches per kernel name since creation (verification coverage, tests). */
  get dispatchCounts(): ReadonlyMap<string, number> {
    return this.recorder.dispatchCounts;
  }

  /** Number of pipelines compiled (one per kernel variant, never per shape). */
  get compiledPipelines(): number {
    return this.pipelines.count;
  }

  /** Wall time spent building pipelines: inside prepare(), and in dispatches that built one. */
  get compileSeconds(): number {
    return this.pipelines.seconds;
  }

  get submits(): number {
    return this.recorder.submits;
  }

  // ---- pipelines -------------------------------------------------------------------------

  /** The variant keys of every pipeline built so far (kernel name + constants). */
  compiledVariants(): string[] {
    return this.pipelines.keys();
  }

  /**
   * Compile pipelines ahead of their first dispatch, all at once and off the main thread
   * (createComputePipelineAsync: the implementation may build them in parallel). Throws with the
   * kernel's name and line on a WGSL error. Variants already built are skipped. With
   * `background`, returns at once: the pipelines build while the caller goes on (see building();
   * an error surfaces at the next dispatch), and settled() waits for them.
   */
  async prepare(list: Array<[KernelDef, Variant?]>, opts: { background?: boolean } = {}): Promise<void> {
    await this.pipelines.prepare(list, opts);
    if (opts.background) return;
    await this.errors.drain();
    this.throwErrors();
  }

  /** Whether this variant's pipeline is built. */
  built(def: KernelDef, variant: Variant): boolean {
    return this.pipelines.built(def, variant);
  }

  /** Whether this variant is being built in the background (prepare) and is not ready yet. */
  building(def: KernelDef, variant: Variant): boolean {
    return this.pipelines.building(def, variant);
  }

  /** Waits for every pipeline prepare() started in the background. */
  async settled(): Promise<void> {
    await this.pipelines.settled();
    this.throwErrors();
  }

  /**
   * The kernel variants that `record` would dispatch, without dispatching anything: while it
   * runs, dispatch() only notes what it would need (buffers are still allocated and written as
   * usual; nothing may be read). For prepare(): record a step once to learn what to compile.
   */
  plan(record: () => void): Array<[KernelDef, Variant]> {
    return this.pipelines.plan(record);
  }

  // ---- recording ---------------------------------------------------------------------------

  dispatch(def: KernelDef, args: DispatchArgs): void {
    this.throwErrors();
    if (this.pipelines.planning) {
      this.pipelines.note(def, args.variant ?? {});
      return;
    }
    this.recorder.record(def, this.pipelines.get(def, args.variant ?? {}), args);
  }

  /** Submit everything recorded so far. */
  flush(): void {
    this.recorder.flush();
  }

  /** Copy between buffers in recording order (ends the current pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.recorder.copy(src, srcOffset, dst, dstOffset, bytes);
  }

  // ---- profiling -----------------------------------------------------------------------------

  /** Whether the adapter can time dispatches (the 'timestamp-query' feature). */
  get canProfile(): boolean {
    return this.device.features.has('timestamp-query');
  }

  /**
   * Time every dispatch from now on with GPU timestamps (each in its own pass: slower, so for
   * diagnosis only). stopProfiling() returns the GPU milliseconds per kernel, or with
   * `perDispatch` per dispatch of a step (its ordinal, restarting at profileNextStep(), kernel,
   * variant and grid).
   */
  startProfiling(opts: { perDispatch?: boolean } = {}): void {
    if (!this.canProfile) throw new Error(`this adapter (${this.adapterName}) does not support timestamp queries`);
    this.flush();
    this.recorder.profiler = new Profiler(this.device, opts.perDispatch ?? false);
  }

  /** With startProfiling({ perDispatch: true }): the next dispatch is ordinal 0 again (a new step). */
  profileNextStep(): void {
    this.recorder.profiler?.nextStep();
  }

  async stopProfiling(): Promise<ProfileEntry[]> {
    const profiler = this.recorder.profiler;
    if (!profiler) throw new Error('stopProfiling() without startProfiling()');
    await this.settle();
    this.recorder.profiler = null;
    profiler.destroy();
    return profiler.entries();
  }

  // ---- data in and out -----------------------------------------------------------------------

  /** A pooled storage buffer holding `data` (sized to at least 4 bytes). */
  upload(data: ArrayBufferView, label = 'upload'): GPUBuffer {
    const buf = this.pool.acquire(Math.max(4, data.byteLength), STORAGE_USAGE, label);
    this.write(buf, data);
    return buf;
  }

  /** Overwrite a buffer's start with `data`. Flushes first so recorded work sees the old contents. */
  write(buf: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    if (this.recorder.recording) this.flush();
    const bytes = Math.floor(data.byteLength / 4) * 4;
    this.device.queue.writeBuffer(buf, offset, data.buffer, data.byteOffset, bytes);
  }

  /** A pooled storage buffer of `bytes`, contents undefined. */
  alloc(bytes: number, label = 'scratch'): GPUBuffer {
    return this.pool.acquire(Math.max(4, bytes), STORAGE_USAGE, label);
  }

  release(buf: GPUBuffer): void {
    this.pool.release(buf);
  }

  /** Flush and read a tensor's values (any Tensor: an engine.tensor(), an op's output, a parameter). */
  readTensor(t: { data: GPUBufferBinding; size: number }): Promise<Float32Array> {
    const offset = t.data.offset ?? 0;
    if (offset % 4 !== 0) throw new Error(`readTensor: binding offset ${offset} is not a multiple of 4`);
    return this.readF32(t.data.buffer, t.size, offset / 4);
  }

  /** Flush and read `bytes` from `buf` (the only host sync in the engine). */
  async read(buf: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    if (this.pipelines.planning) throw new Error('Engine.read() inside Engine.plan(): a plan only notes dispatches, it computes nothing');
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.pool.acquire(size, BufferUsage.MAP_READ | BufferUsage.COPY_DST, 'readback');
    this.copy(buf, offset, staging, 0, size);
    this.flush();
    try {
      await staging.mapAsync(MapMode.READ, 0, size);
    } catch (e) {
      await this.errors.drain(); // allocation checks and submit errors
      this.throwErrors(); // a device loss or failed allocation explains the failure better
      throw new Error(`readback of "${buf.label}" failed: ${(e as Error).message}`);
    }
    const out = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    this.pool.release(staging);
    await this.settle();
    return out;
  }

  async readF32(buf: GPUBuffer, count: number, offset = 0): Promise<Float32Array> {
    return new Float32Array(await this.read(buf, count * 4, offset * 4));
  }

  /** Wait for submitted work, then throw any validation error or device loss. */
  async settle(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.errors.drain();
    this.throwErrors();
  }

  // ---- tensors for embedders -----------------------------------------------------------------

  /** Track an engine.tensor() (src/tensor.ts makes them): counted by memory(), owned by the innermost tidy(). */
  hold(t: HeldTensor): void {
    this.tensors.hold(t);
  }

  /** Forget a disposed tensor. */
  letGo(t: HeldTensor): void {
    this.tensors.letGo(t);
  }

  /**
   * Run `fn`, then dispose every engine.tensor() made during it except those it returns (a
   * tensor, or tensors inside returned arrays and plain objects; a returned view keeps its
   * base). Kept tensors belong to the enclosing tidy(), if any. If `fn` returns a promise, the
   * disposal waits for it; tensors made by other code while it is pending count as made inside,
   * so do not run two async tidy() calls on one engine at once.
   */
  tidy<T>(fn: () => T): T {
    return this.tensors.tidy(fn);
  }

  /** The buffer pool's counters (bytes and buffers in use and allocated) and the live engine.tensor()s. */
  memory(): MemoryInfo {
    return { ...this.pool.stats(), tensors: this.tensors.count };
  }

  destroy(): void {
    this.destroyed = true;
    this.pool.trim();
    this.device.destroy();
  }

  private throwErrors(): void {
    this.errors.throwIfAny(this.pool);
  }
}
