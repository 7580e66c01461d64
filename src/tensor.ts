// Tensors over GPU buffers, and the Graph: the scope of one step (its temporaries are released
// together at the end) and the tape of its differentiable ops.
//
// The tape is the list of ops in the order they ran, which is already a topological order:
// backward() walks it in reverse, and each op's closure adds its inputs' gradients, like
// micrograd's `_backward`, but over whole tensors and with GPU kernels.

import { Engine } from './gpu/engine.js';
import { elementwise } from './kernels/elementwise.js';

/** Gradient state, shared by a tensor and its views (a view's gradient is its base's). */
interface GradCell {
  grad: GPUBufferBinding | null;
  written: boolean;
  /** Whether a contribution to `grad` skipped this tensor's ReLU mask (see `reluOutput`). */
  unmasked: boolean;
}

export class Tensor {
  private cell: GradCell = { grad: null, written: false, unmasked: false };

  /**
   * Set by an op that fused a ReLU into the kernel producing this tensor: its backward must mask
   * the gradient by (this > 0). Consumers that can apply that mask themselves for free (max
   * pooling) say so when they write the gradient; when all did, the mask pass is skipped.
   */
  reluOutput = false;

  /** Gradient for the current backward pass, once something has written it. */
  get grad(): GPUBufferBinding | null {
    return this.cell.grad;
  }
  set grad(g: GPUBufferBinding | null) {
    this.cell.grad = g;
  }
  /** Whether `grad` holds this step's gradient (false: the next contribution overwrites it). */
  get gradWritten(): boolean {
    return this.cell.written;
  }
  set gradWritten(w: boolean) {
    this.cell.written = w;
  }
  /** Whether the gradient still needs this tensor's ReLU mask (some contribution did not apply it). */
  get gradNeedsMask(): boolean {
    return this.cell.unmasked;
  }
  set gradNeedsMask(u: boolean) {
    this.cell.unmasked = u;
  }

  constructor(
    readonly shape: readonly number[],
    readonly data: GPUBufferBinding,
    readonly requiresGrad: boolean,
    /** Parameters own a persistent gradient slice; other tensors get one from the pool. */
    readonly gradSlot: GPUBufferBinding | null = null,
    readonly name = '',
  ) {
    const n = shape.reduce((p, d) => p * d, 1);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`tensor ${name || ''} has an invalid shape [${shape.join(', ')}]`);
  }

  get size(): number {
    return this.shape.reduce((p, d) => p * d, 1);
  }

  /** Same data, another shape (flatten/reshape); gradients flow through unchanged. */
  view(shape: readonly number[]): Tensor {
    const n = shape.reduce((p, d) => p * d, 1);
    if (n !== this.size) throw new Error(`cannot view [${this.shape.join(', ')}] as [${shape.join(', ')}]`);
    const v = new Tensor(shape, this.data, this.requiresGrad, this.gradSlot, this.name);
    v.cell = this.cell;
    return v;
  }
}

export interface TapeEntry {
  op: string;
  backward: () => void;
}

export class Graph {
  private temporaries: GPUBuffer[] = [];
  private tape: TapeEntry[] = [];
  private touched = new Set<Tensor>();

  constructor(
    readonly engine: Engine,
    /** false for inference: ops record nothing and outputs need no gradient. */
    readonly recording = true,
  ) {}

  /** A step-scoped buffer of `floats` f32 (released by release()). */
  scratch(floats: number, label = 'activation'): GPUBuffer {
    const buf = this.engine.alloc(Math.max(1, floats) * 4, label);
    this.temporaries.push(buf);
    return buf;
  }

  /** A new step-scoped tensor; it takes part in backward when any input required a gradient. */
  tensor(shape: readonly number[], requiresGrad: boolean, label = 'activation'): Tensor {
    const n = shape.reduce((p, d) => p * d, 1);
    return new Tensor(shape, { buffer: this.scratch(n, label) }, requiresGrad && this.recording);
  }

  /** Wrap caller-owned data (e.g. an input batch) without taking ownership. */
  input(data: GPUBuffer | GPUBufferBinding, shape: readonly number[]): Tensor {
    return new Tensor(shape, 'buffer' in data ? data : { buffer: data }, false);
  }

  record(op: string, inputs: Tensor[], backward: () => void): void {
    if (this.recording && inputs.some((t) => t.requiresGrad)) this.tape.push({ op, backward });
  }

  /** Number of ops on the tape. */
  get length(): number {
    return this.tape.length;
  }

  /**
   * Where to put a gradient for `t`, and whether to add to what is there (fan-out: a tensor
   * used twice receives two contributions, which must sum). `reluMasked`: the contribution is
   * already zero where t is not > 0 (only meaningful for a `reluOutput` tensor).
   */
  gradTarget(t: Tensor, reluMasked = false): { grad: GPUBufferBinding; accumulate: boolean } {
    if (!t.grad) t.grad = t.gradSlot ?? { buffer: this.scratch(t.size, 'grad') };
    const accumulate = t.gradWritten;
    t.gradWritten = true;
    if (!reluMasked) t.gradNeedsMask = true;
    this.touched.add(t);
    return { grad: t.grad, accumulate };
  }

  /**
   * Write a gradient with a kernel that cannot accumulate: straight into the target the first
   * time, else into scratch and then added.
   */
  writeGrad(t: Tensor, write: (dst: GPUBufferBinding) => void, reluMasked = false): void {
    const { grad, accumulate } = this.gradTarget(t, reluMasked);
    if (!accumulate) {
      write(grad);
      return;
    }
    const tmp: GPUBufferBinding = { buffer: this.scratch(t.size, 'grad') };
    write(tmp);
    elementwise(this.engine, 'accumulate', tmp, tmp, grad, t.size, 1);
  }

  /** Seed the gradient of `t` (e.g. logits, from a fused loss kernel) before backward(). */
  seed(t: Tensor, grad: GPUBufferBinding): void {
    t.grad = grad;
    t.gradWritten = true;
    t.gradNeedsMask = true;
    this.touched.add(t);
  }

  /** Run the tape in reverse; seeded gradients flow down to every tensor that requires one. */
  backward(): void {
    if (!this.recording) throw new Error('backward() on a graph made without recording (inference)');
    for (let i = this.tape.length - 1; i >= 0; i--) this.tape[i].backward();
    this.tape = [];
  }

  /** Give back every temporary of this step (after the commands that use them are recorded). */
  release(): void {
    for (const b of this.temporaries) this.engine.release(b);
    this.temporaries = [];
    this.tape = [];
    for (const t of this.touched) {
      if (!t.gradSlot) t.grad = null;
      t.gradWritten = false;
      t.gradNeedsMask = false;
    }
    this.touched.clear();
  }
}

/**
 * A tensor made by engine.tensor() for code that embeds kdgpu: it owns a pooled buffer (outside
 * any Graph) until dispose(), or until the engine.tidy() it was made in returns without it. It is
 * a Tensor, so it can be an input of the ops in src/autograd.ts, and its `data` binding can be
 * handed to kernels directly.
 */
declare module './gpu/engine.js' {
  interface Engine {
    /**
     * A tensor holding a copy of `data` in a pooled storage buffer, outside any Graph: read() it,
     * pass it to ops (src/autograd.ts) or kernels (`t.data`), and dispose() it, or make it inside
     * tidy(). `shape` defaults to [data.length].
     */
    tensor(data: Float32Array, shape?: readonly number[]): EngineTensor;
  }
}

Engine.prototype.tensor = function tensor(this: Engine, data: Float32Array, shape: readonly number[] = [data.length]): EngineTensor {
  if (!shape.every((d) => Number.isInteger(d) && d > 0)) throw new Error(`engine.tensor: invalid shape [${shape.join(', ')}]`);
  const n = shape.reduce((p, d) => p * d, 1);
  if (n !== data.length) throw new Error(`engine.tensor: ${data.length} values for shape [${shape.join(', ')}] (${n} elements)`);
  const t = new EngineTensor(this, [...shape], this.upload(data, 'tensor'), (d) => this.letGo(d));
  this.hold(t);
  return t;
};

export class EngineTensor extends Tensor {
  private released = false;

  constructor(
    private readonly engine: Engine,
    shape: readonly number[],
    buffer: GPUBuffer,
    private readonly onDispose: (t: EngineTensor) => void,
  ) {
    super(shape, { buffer }, false, null, buffer.label);
  }

  /** Whether dispose() has run (by hand, by tidy(), or never). */
  get disposed(): boolean {
    return this.released;
  }

  /** Flush recorded work and read the values back (a host sync). */
  read(): Promise<Float32Array> {
    if (this.released) return Promise.reject(new Error(`read() of a disposed tensor [${this.shape.join(', ')}]`));
    return this.engine.readTensor(this);
  }

  /** Give the buffer back to the engine's pool (reusable after the next submit). Idempotent. */
  dispose(): void {
    if (this.released) return;
    this.released = true;
    this.engine.release(this.data.buffer);
    this.onDispose(this);
  }
}
