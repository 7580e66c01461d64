// The engine: one GPUDevice, its buffer pool, its pipeline cache and the command recorder.
// Dispatches are recorded back to back into one compute pass and submitted together at flush()
// (or every `maxDispatchesPerSubmit`); nothing is read back unless read() is called.

import { BufferPool, type PoolCounters } from './pool.js';
import { BufferUsage, MapMode, ShaderStage, STORAGE_USAGE } from './flags.js';
import { generateWgsl, uniformBytes, variantKey, type KernelDef, type Variant } from './kernel.js';

export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

export interface DispatchArgs {
  variant?: Variant;
  bind: Record<string, Binding>;
  uniforms?: Record<string, number>;
  /** Workgroup counts; a 1-D count above the adapter limit is folded into 2-D. */
  workgroups: number | [number, number, number?];
}

export interface EngineOptions {
  /**
   * The adapter emulates a GPU on the CPU (SwiftShader). Kernels use it to pick variants: on a
   * CPU, workgroup barriers are context switches, so one invocation per row beats a workgroup tree.
   */
  software?: boolean;
  /** Submit after this many dispatches even without an explicit flush. */
  maxDispatchesPerSubmit?: number;
}

/**
 * What the engine keeps of an engine.tensor() (made in src/tensor.ts, which sits above the
 * engine): its buffer and its size, and how to give it back.
 */
export interface HeldTensor {
  readonly data: GPUBufferBinding;
  readonly size: number;
  dispose(): void;
}

/** engine.memory(): the buffer pool's counters, and the engine.tensor()s not yet disposed. */
export interface MemoryInfo extends PoolCounters {
  tensors: number;
}

interface CompiledPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  def: KernelDef;
}

const UNIFORM_CHUNK = 64 * 1024;
/** Dispatches per submit while profiling (two timestamps each). */
const PROFILE_SLOTS = 256;

export class Engine {
  readonly pool: BufferPool;
  readonly limits: GPUSupportedLimits;
  readonly software: boolean;
  /** Dispatches per kernel name since creation (verification coverage, tests). */
  readonly dispatchCounts = new Map<string, number>();
  /** Number of pipelines compiled (one per kernel variant, never per shape). */
  compiledPipelines = 0;
  /** Wall time spent building pipelines: inside prepare(), and in dispatches that built one. */
  compileSeconds = 0;
  submits = 0;

  private pipelines = new Map<string, CompiledPipeline>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private recorded = 0;
  private recordedKernels: string[] = [];
  private uniformChunks: Array<{ buffer: GPUBuffer; data: Uint8Array<ArrayBuffer>; used: number }> = [];
  private errors: string[] = [];
  private lostReason: string | null = null;
  /** Allocations the device could not back (reported asynchronously by the pool). */
  private outOfMemory: string[] = [];
  private readonly maxDispatchesPerSubmit: number;
  private readonly uniformAlign: number;

  constructor(
    readonly device: GPUDevice,
    readonly adapterName: string,
    options: EngineOptions = {},
  ) {
    this.limits = device.limits;
    this.software = options.software ?? false;
    this.pool = new BufferPool(device, device.limits.maxBufferSize, (m) => this.outOfMemory.push(m), (p) => this.pending.push(p));
    this.maxDispatchesPerSubmit = options.maxDispatchesPerSubmit ?? 1024;
    this.uniformAlign = device.limits.minUniformBufferOffsetAlignment;
    device.addEventListener('uncapturederror', (ev) => {
      ev.preventDefault(); // reported by throwErrors(), not printed by the implementation
      this.errors.push((ev as GPUUncapturedErrorEvent).error.message);
    });
    device.lost.then((info) => {
      // Our own destroy() is not a loss; anything else is (a driver reset, or another owner's destroy()).
      if (!this.destroyed) this.lostReason = `GPU device lost (${info.reason}): ${info.message || 'no message'}`;
    });
  }

  // ---- pipelines -------------------------------------------------------------------------

  private compile(def: KernelDef, variant: Variant): CompiledPipeline {
    const key = variantKey(def, variant);
    const hit = this.pipelines.get(key);
    if (hit) return hit;
    // Not prepared (or still compiling in prepare(): then this builds it a second time, now).
    const t0 = performance.now();
    const { module, layout, pipelineLayout, describeError } = this.pipelineParts(def, variant, key);
    this.device.pushErrorScope('validation');
    const pipeline = this.device.createComputePipeline({ label: def.name, layout: pipelineLayout, compute: { module, entryPoint: 'main' } });
    const scope = this.device.popErrorScope().then(async (err) => {
      if (!err) return;
      const msg = await describeError(err.message);
      this.errors.push(msg);
      throw new Error(msg);
    });
    this.pending.push(scope.catch(() => undefined));
    this.compileSeconds += (performance.now() - t0) / 1000;
    return this.addPipeline(key, { pipeline, layout, def });
  }

  /** The variant keys of every pipeline built so far (kernel name + constants). */
  compiledVariants(): string[] {
    return [...this.pipelines.keys()];
  }

  private addPipeline(key: string, compiled: CompiledPipeline): CompiledPipeline {
    this.pipelines.set(key, compiled);
    this.compiledPipelines++;
    return compiled;
  }

  /** The shader module and layouts of a variant, and how to word its compile error. */
  private pipelineParts(def: KernelDef, variant: Variant, key: string) {
    const { code, preludeLines } = generateWgsl(def, variant);
    const entries: GPUBindGroupLayoutEntry[] = def.bindings.map((b, i) => ({
      binding: i,
      visibility: ShaderStage.COMPUTE,
      buffer: { type: b.access === 'read' ? 'read-only-storage' : 'storage' },
    }));
    if (def.uniforms.length > 0) {
      entries.push({ binding: def.bindings.length, visibility: ShaderStage.COMPUTE, buffer: { type: 'uniform' } });
    }
    const module = this.device.createShaderModule({ code, label: def.name });
    const layout = this.device.createBindGroupLayout({ entries, label: def.name });
    const pipelineLayout = this.device.createPipelineLayout({ bindGroupLayouts: [layout], label: def.name });
    const describeError = async (fallback: string): Promise<string> => {
      const info = await module.getCompilationInfo();
      const where = info.messages
        .filter((m) => m.type === 'error')
        .map((m) => `  kernel body line ${m.lineNum - preludeLines}: ${m.message}`)
        .join('\n');
      return `kernel "${def.name}" failed to compile (${key}):\n${where || fallback}`;
    };
    return { module, layout, pipelineLayout, describeError };
  }

  private pending: Array<Promise<unknown>> = [];
  private compiling = new Map<string, Promise<void>>();
  /** While planning (see plan()): the variants dispatch() would have needed. */
  private planned: Map<string, [KernelDef, Variant]> | null = null;

  /**
   * Compile pipelines ahead of their first dispatch, all at once and off the main thread
   * (createComputePipelineAsync: the implementation may build them in parallel). Throws with the
   * kernel's name and line on a WGSL error. Variants already built are skipped. With
   * `background`, returns at once: the pipelines build while the caller goes on (see building();
   * an error surfaces at the next dispatch), and settled() waits for them.
   */
  async prepare(list: Array<[KernelDef, Variant?]>, opts: { background?: boolean } = {}): Promise<void> {
    const t0 = performance.now();
    const jobs = Promise.all(list.map(([def, variant]) => this.compileAsync(def, variant ?? {})));
    if (opts.background) {
      this.background.push(jobs.then(() => void (this.compileSeconds += (performance.now() - t0) / 1000)));
      return;
    }
    await jobs;
    this.compileSeconds += (performance.now() - t0) / 1000;
    await Promise.all(this.pending);
    this.pending = [];
    this.throwErrors();
  }

  private background: Array<Promise<void>> = [];

  /** Whether this variant's pipeline is built. */
  built(def: KernelDef, variant: Variant): boolean {
    return this.pipelines.has(variantKey(def, variant));
  }

  /** Whether this variant is being built in the background (prepare) and is not ready yet. */
  building(def: KernelDef, variant: Variant): boolean {
    const key = variantKey(def, variant);
    return this.compiling.has(key) && !this.pipelines.has(key);
  }

  /** Waits for every pipeline prepare() started in the background. */
  async settled(): Promise<void> {
    while (this.background.length) await this.background.shift();
    this.throwErrors();
  }

  private compileAsync(def: KernelDef, variant: Variant): Promise<void> {
    const key = variantKey(def, variant);
    if (this.pipelines.has(key)) return Promise.resolve();
    const running = this.compiling.get(key);
    if (running) return running;
    this.device.pushErrorScope('validation');
    const { module, layout, pipelineLayout, describeError } = this.pipelineParts(def, variant, key);
    const created = this.device.createComputePipelineAsync({ label: def.name, layout: pipelineLayout, compute: { module, entryPoint: 'main' } });
    const scope = this.device.popErrorScope();
    const job = (async () => {
      try {
        const [pipeline, err] = await Promise.all([created, scope]);
        if (err) throw err;
        if (!this.pipelines.has(key)) this.addPipeline(key, { pipeline, layout, def });
      } catch (err) {
        this.errors.push(await describeError((err as Error).message));
      } finally {
        this.compiling.delete(key);
      }
    })();
    this.compiling.set(key, job);
    return job;
  }

  /**
   * The kernel variants that `record` would dispatch, without dispatching anything: while it
   * runs, dispatch() only notes what it would need (buffers are still allocated and written as
   * usual; nothing may be read). For prepare(): record a step once to learn what to compile.
   */
  plan(record: () => void): Array<[KernelDef, Variant]> {
    if (this.planned) throw new Error('Engine.plan() does not nest');
    this.planned = new Map();
    try {
      record();
      return [...this.planned.values()];
    } finally {
      this.planned = null;
    }
  }

  // ---- recording ---------------------------------------------------------------------------

  private currentPass(): GPUComputePassEncoder {
    if (!this.pass) {
      this.encoder = this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
    }
    return this.pass;
  }

  private uniformSlot(bytes: number): { buffer: GPUBuffer; offset: number; view: DataView } {
    let chunk = this.uniformChunks[this.uniformChunks.length - 1];
    if (!chunk || chunk.used + bytes > UNIFORM_CHUNK) {
      const buffer = this.pool.acquire(UNIFORM_CHUNK, BufferUsage.UNIFORM | BufferUsage.COPY_DST, 'uniforms');
      chunk = { buffer, data: new Uint8Array(UNIFORM_CHUNK), used: 0 };
      this.uniformChunks.push(chunk);
    }
    const offset = chunk.used;
    chunk.used = Math.ceil((offset + bytes) / this.uniformAlign) * this.uniformAlign;
    return { buffer: chunk.buffer, offset, view: new DataView(chunk.data.buffer, offset, bytes) };
  }

  dispatch(def: KernelDef, args: DispatchArgs): void {
    this.throwErrors();
    if (this.planned) {
      const variant = args.variant ?? {};
      this.planned.set(variantKey(def, variant), [def, variant]);
      return;
    }
    const { pipeline, layout } = this.compile(def, args.variant ?? {});
    const resources: GPUBufferBinding[] = def.bindings.map((b) => {
      const bound = args.bind[b.name];
      if (!bound) throw new Error(`kernel "${def.name}": binding "${b.name}" was not given`);
      return 'buffer' in bound ? bound : { buffer: bound };
    });
    checkAliasing(def, resources);
    const entries: GPUBindGroupEntry[] = resources.map((resource, i) => ({ binding: i, resource }));
    if (def.uniforms.length > 0) {
      const bytes = uniformBytes(def);
      const slot = this.uniformSlot(bytes);
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
    const pass = this.profiler ? this.profiledPass(this.profileLabel(def, args.variant ?? {}, [x, y, z])) : this.currentPass();
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

  // ---- profiling -----------------------------------------------------------------------------

  private profiler: {
    querySet: GPUQuerySet;
    names: string[];
    totals: Map<string, { ms: number; count: number }>;
    /** Key each dispatch by its ordinal since the last profileNextStep(), variant and grid. */
    perDispatch: boolean;
    ordinal: number;
  } | null = null;

  private profileLabel(def: KernelDef, variant: Variant, grid: [number, number, number]): string {
    const p = this.profiler!;
    if (!p.perDispatch) return def.name;
    const v = Object.entries(variant).map(([k, val]) => `${k}=${val}`).join(' ');
    return `${String(p.ordinal++).padStart(3)}\t${def.name}\t${v}\t${grid.join('x')}`;
  }

  /** With startProfiling({ perDispatch: true }): the next dispatch is ordinal 0 again (a new step). */
  profileNextStep(): void {
    if (this.profiler) this.profiler.ordinal = 0;
  }

  /** Whether the adapter can time dispatches (the 'timestamp-query' feature). */
  get canProfile(): boolean {
    return this.device.features.has('timestamp-query');
  }

  /**
   * Time every dispatch from now on with GPU timestamps (each in its own pass: slower, so for
   * diagnosis only). stopProfiling() returns the GPU milliseconds per kernel name, or with
   * `perDispatch` per "ordinal\tkernel\tvariant\tgrid" (ordinals restart at profileNextStep()).
   */
  startProfiling(opts: { perDispatch?: boolean } = {}): void {
    if (!this.canProfile) throw new Error(`this adapter (${this.adapterName}) does not support timestamp queries`);
    this.flush();
    this.profiler = {
      querySet: this.device.createQuerySet({ type: 'timestamp', count: 2 * PROFILE_SLOTS }),
      names: [],
      totals: new Map(),
      perDispatch: opts.perDispatch ?? false,
      ordinal: 0,
    };
  }

  async stopProfiling(): Promise<Map<string, { ms: number; count: number }>> {
    const p = this.profiler;
    if (!p) throw new Error('stopProfiling() without startProfiling()');
    await this.settle();
    this.profiler = null;
    p.querySet.destroy();
    return p.totals;
  }

  private profiledPass(name: string): GPUComputePassEncoder {
    const p = this.profiler!;
    if (this.pass) this.pass.end();
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    const i = p.names.length;
    p.names.push(name);
    this.pass = this.encoder.beginComputePass({
      timestampWrites: { querySet: p.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
    });
    return this.pass;
  }

  /** Resolve this submit's timestamps and add them to the totals once the GPU has written them. */
  private collectProfile(): void {
    const p = this.profiler!;
    const n = p.names.length;
    if (n === 0) return;
    const bytes = 2 * n * 8;
    const resolved = this.pool.acquire(bytes, BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC, 'timestamps');
    const staging = this.pool.acquire(bytes, BufferUsage.MAP_READ | BufferUsage.COPY_DST, 'timestamps-read');
    this.encoder!.resolveQuerySet(p.querySet, 0, 2 * n, resolved, 0);
    this.encoder!.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
    const names = p.names;
    p.names = [];
    this.afterSubmitHooks.push(() => {
      this.pending.push(
        staging.mapAsync(MapMode.READ, 0, bytes).then(() => {
          const t = new BigUint64Array(staging.getMappedRange(0, bytes).slice(0));
          staging.unmap();
          names.forEach((name, i) => {
            const e = p.totals.get(name) ?? { ms: 0, count: 0 };
            e.ms += Number(t[2 * i + 1] - t[2 * i]) / 1e6;
            e.count++;
            p.totals.set(name, e);
          });
          this.pool.release(staging);
        }),
      );
      this.pool.release(resolved);
    });
  }

  private afterSubmitHooks: Array<() => void> = [];

  private foldWorkgroups(def: KernelDef, wg: DispatchArgs['workgroups']): [number, number, number] {
    const max = this.limits.maxComputeWorkgroupsPerDimension;
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

  /** Submit everything recorded so far. */
  flush(): void {
    if (this.pass) {
      this.pass.end();
      if (this.profiler) this.collectProfile();
      for (const c of this.uniformChunks) this.device.queue.writeBuffer(c.buffer, 0, c.data, 0, c.used);
      // Validation of a pass happens at finish(): name the kernels the failing submit held.
      const kernels = [...new Set(this.recordedKernels)].join(', ');
      this.device.pushErrorScope('validation');
      this.device.queue.submit([this.encoder!.finish()]);
      this.pending.push(
        this.device.popErrorScope().then((err) => {
          if (err) this.errors.push(`${err.message}\n(in a submit of kernels: ${kernels})`);
        }),
      );
      this.recordedKernels = [];
      this.submits++;
      for (const hook of this.afterSubmitHooks) hook();
      this.afterSubmitHooks = [];
      for (const c of this.uniformChunks) this.pool.release(c.buffer);
      this.uniformChunks = [];
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

  // ---- data in and out -----------------------------------------------------------------------

  /** A pooled storage buffer holding `data` (sized to at least 4 bytes). */
  upload(data: ArrayBufferView, label = 'upload'): GPUBuffer {
    const buf = this.pool.acquire(Math.max(4, data.byteLength), STORAGE_USAGE, label);
    this.write(buf, data);
    return buf;
  }

  /** Overwrite a buffer's start with `data`. Flushes first so recorded work sees the old contents. */
  write(buf: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    if (this.pass) this.flush();
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

  // ---- tensors for embedders -----------------------------------------------------------------
  // A thin layer over the pool for code that uses kdgpu as a library: training does not use it.

  private liveTensors = new Set<HeldTensor>();
  private tidyScopes: Array<Set<HeldTensor>> = [];

  /** Track an engine.tensor() (src/tensor.ts makes them): counted by memory(), owned by the innermost tidy(). */
  hold(t: HeldTensor): void {
    this.liveTensors.add(t);
    this.tidyScopes[this.tidyScopes.length - 1]?.add(t);
  }

  /** Forget a disposed tensor. */
  letGo(t: HeldTensor): void {
    this.liveTensors.delete(t);
    for (const scope of this.tidyScopes) scope.delete(t);
  }

  /**
   * Run `fn`, then dispose every engine.tensor() made during it except those it returns (a
   * tensor, or tensors inside returned arrays and plain objects; a returned view keeps its
   * base). Kept tensors belong to the enclosing tidy(), if any. If `fn` returns a promise, the
   * disposal waits for it; tensors made by other code while it is pending count as made inside,
   * so do not run two async tidy() calls on one engine at once.
   */
  tidy<T>(fn: () => T): T {
    const scope = new Set<HeldTensor>();
    this.tidyScopes.push(scope);
    const finish = (result: unknown) => {
      const at = this.tidyScopes.lastIndexOf(scope);
      if (at >= 0) this.tidyScopes.splice(at, 1);
      const kept = returnedBuffers(result);
      const outer = this.tidyScopes[this.tidyScopes.length - 1];
      for (const t of scope) {
        if (kept.has(t.data.buffer)) outer?.add(t);
        else t.dispose();
      }
    };
    let result: T;
    try {
      result = fn();
    } catch (e) {
      finish(undefined);
      throw e;
    }
    if (result instanceof Promise) {
      return result.then(
        (v) => (finish(v), v),
        (e) => {
          finish(undefined);
          throw e;
        },
      ) as T;
    }
    finish(result);
    return result;
  }

  /** The buffer pool's counters (bytes and buffers in use and allocated) and the live engine.tensor()s. */
  memory(): MemoryInfo {
    return { ...this.pool.stats(), tensors: this.liveTensors.size };
  }

  /** Flush and read a tensor's values (any Tensor: an engine.tensor(), an op's output, a parameter). */
  readTensor(t: { data: GPUBufferBinding; size: number }): Promise<Float32Array> {
    const offset = t.data.offset ?? 0;
    if (offset % 4 !== 0) throw new Error(`readTensor: binding offset ${offset} is not a multiple of 4`);
    return this.readF32(t.data.buffer, t.size, offset / 4);
  }

  /** Flush and read `bytes` from `buf` (the only host sync in the engine). */
  async read(buf: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    if (this.planned) throw new Error('Engine.read() inside Engine.plan(): a plan only notes dispatches, it computes nothing');
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.pool.acquire(size, BufferUsage.MAP_READ | BufferUsage.COPY_DST, 'readback');
    this.copy(buf, offset, staging, 0, size);
    this.flush();
    try {
      await staging.mapAsync(MapMode.READ, 0, size);
    } catch (e) {
      await Promise.all(this.pending); // allocation checks and submit errors
      this.pending = [];
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
    await Promise.all(this.pending);
    this.pending = [];
    this.throwErrors();
  }

  private throwErrors(): void {
    if (this.lostReason) throw new Error(this.lostReason);
    // A failed allocation shows first as validation errors of the dispatches that use the buffer,
    // before its own out-of-memory check comes back: name the cause, and stop recording.
    if (this.errors.length > 0 && this.pool.allocationsUnconfirmed) {
      const oom = this.errors.map((e) => this.pool.explainInvalidBuffer(e)).find((m) => m !== null);
      if (oom) {
        this.errors = [];
        throw new Error(oom);
      }
    }
    if (this.outOfMemory.length > 0) {
      // The validation errors that follow (dispatches over the invalid buffer) add nothing.
      const msg = this.outOfMemory[0];
      this.outOfMemory = [];
      this.errors = [];
      throw new Error(msg);
    }
    if (this.errors.length > 0) {
      const msg = this.errors.join('\n');
      this.errors = [];
      throw new Error(`WebGPU error: ${msg}`);
    }
  }

  private destroyed = false;

  destroy(): void {
    this.destroyed = true;
    this.pool.trim();
    this.device.destroy();
  }
}


/** The buffers of the tensors in a tidy() result: a tensor, or arrays and plain objects holding them. */
function returnedBuffers(result: unknown, out = new Set<GPUBuffer>(), seen = new Set<object>()): Set<GPUBuffer> {
  if (typeof result !== 'object' || result === null || seen.has(result)) return out;
  seen.add(result);
  const data = (result as { data?: GPUBufferBinding }).data;
  if (data && typeof data === 'object' && typeof (data.buffer as GPUBuffer | undefined)?.mapAsync === 'function') {
    out.add(data.buffer);
  } else if (Array.isArray(result)) {
    for (const v of result) returnedBuffers(v, out, seen);
  } else {
    const proto = Object.getPrototypeOf(result);
    if (proto === Object.prototype || proto === null) for (const v of Object.values(result)) returnedBuffers(v, out, seen);
  }
  return out;
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
