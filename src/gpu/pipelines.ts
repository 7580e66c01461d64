// The pipeline cache: one compute pipeline per kernel variant (never per shape), built when first
// dispatched, or ahead of time and in parallel by prepare(); plan() learns which variants a piece
// of recording would need without dispatching it.

import { ShaderStage } from './flags.js';
import { generateWgsl, variantKey, type KernelDef, type Variant } from './kernel.js';
import type { DeviceErrors } from './device-errors.js';

export interface CompiledPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  def: KernelDef;
}

export class PipelineCache {
  /** Number of pipelines compiled (one per kernel variant, never per shape). */
  count = 0;
  /** Wall time spent building pipelines: inside prepare(), and in dispatches that built one. */
  seconds = 0;

  private pipelines = new Map<string, CompiledPipeline>();
  private compiling = new Map<string, Promise<void>>();
  private background: Array<Promise<void>> = [];
  /** While planning (see plan()): the variants dispatch() would have needed. */
  private planned: Map<string, [KernelDef, Variant]> | null = null;

  constructor(
    private readonly device: GPUDevice,
    private readonly errors: DeviceErrors,
  ) {}

  /** The variant's pipeline, built now if it is not yet (or is still building in prepare(): then a second time, now). */
  get(def: KernelDef, variant: Variant): CompiledPipeline {
    const key = variantKey(def, variant);
    const hit = this.pipelines.get(key);
    if (hit) return hit;
    const t0 = performance.now();
    const { module, layout, pipelineLayout, describeError } = this.parts(def, variant, key);
    this.device.pushErrorScope('validation');
    const pipeline = this.device.createComputePipeline({ label: def.name, layout: pipelineLayout, compute: { module, entryPoint: 'main' } });
    const scope = this.device.popErrorScope().then(async (err) => {
      if (!err) return;
      const msg = await describeError(err.message);
      this.errors.push(msg);
      throw new Error(msg);
    });
    this.errors.watch(scope.catch(() => undefined));
    this.seconds += (performance.now() - t0) / 1000;
    return this.add(key, { pipeline, layout, def });
  }

  /** The variant keys of every pipeline built so far (kernel name + constants). */
  keys(): string[] {
    return [...this.pipelines.keys()];
  }

  /** Build these variants (those not built yet) in parallel; with `background`, return at once (see settled()). */
  async prepare(list: Array<[KernelDef, Variant?]>, opts: { background?: boolean } = {}): Promise<void> {
    const t0 = performance.now();
    const jobs = Promise.all(list.map(([def, variant]) => this.buildAsync(def, variant ?? {})));
    if (opts.background) {
      this.background.push(jobs.then(() => void (this.seconds += (performance.now() - t0) / 1000)));
      return;
    }
    await jobs;
    this.seconds += (performance.now() - t0) / 1000;
  }

  built(def: KernelDef, variant: Variant): boolean {
    return this.pipelines.has(variantKey(def, variant));
  }

  building(def: KernelDef, variant: Variant): boolean {
    const key = variantKey(def, variant);
    return this.compiling.has(key) && !this.pipelines.has(key);
  }

  /** Waits for every pipeline prepare() started in the background. */
  async settled(): Promise<void> {
    while (this.background.length) await this.background.shift();
  }

  /** The variants `record` would dispatch: while it runs, planning() is true and the recorder only notes(). */
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

  get planning(): boolean {
    return this.planned !== null;
  }

  /** While planning: a dispatch of this variant would happen. */
  note(def: KernelDef, variant: Variant): void {
    this.planned!.set(variantKey(def, variant), [def, variant]);
  }

  private add(key: string, compiled: CompiledPipeline): CompiledPipeline {
    this.pipelines.set(key, compiled);
    this.count++;
    return compiled;
  }

  private buildAsync(def: KernelDef, variant: Variant): Promise<void> {
    const key = variantKey(def, variant);
    if (this.pipelines.has(key)) return Promise.resolve();
    const running = this.compiling.get(key);
    if (running) return running;
    this.device.pushErrorScope('validation');
    const { module, layout, pipelineLayout, describeError } = this.parts(def, variant, key);
    const created = this.device.createComputePipelineAsync({ label: def.name, layout: pipelineLayout, compute: { module, entryPoint: 'main' } });
    const scope = this.device.popErrorScope();
    const job = (async () => {
      try {
        const [pipeline, err] = await Promise.all([created, scope]);
        if (err) throw err;
        if (!this.pipelines.has(key)) this.add(key, { pipeline, layout, def });
      } catch (err) {
        this.errors.push(await describeError((err as Error).message));
      } finally {
        this.compiling.delete(key);
      }
    })();
    this.compiling.set(key, job);
    return job;
  }

  /** The shader module and layouts of a variant, and how to word its compile error. */
  private parts(def: KernelDef, variant: Variant, key: string) {
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
}
