// The engine.tensor()s of embedders (made in src/tensor.ts, which sits above the engine): which
// are alive, and tidy() scopes that dispose those a function made and did not return. A thin
// layer for code that uses kdgpu as a library: training does not use it.

/** What the engine keeps of an engine.tensor(): its buffer and its size, and how to give it back. */
export interface HeldTensor {
  readonly data: GPUBufferBinding;
  readonly size: number;
  dispose(): void;
}

export class HeldTensors {
  private live = new Set<HeldTensor>();
  private scopes: Array<Set<HeldTensor>> = [];

  get count(): number {
    return this.live.size;
  }

  /** Track a tensor: counted, and owned by the innermost tidy(). */
  hold(t: HeldTensor): void {
    this.live.add(t);
    this.scopes[this.scopes.length - 1]?.add(t);
  }

  /** Forget a disposed tensor. */
  letGo(t: HeldTensor): void {
    this.live.delete(t);
    for (const scope of this.scopes) scope.delete(t);
  }

  /** See Engine.tidy(). */
  tidy<T>(fn: () => T): T {
    const scope = new Set<HeldTensor>();
    this.scopes.push(scope);
    const finish = (result: unknown) => {
      const at = this.scopes.lastIndexOf(scope);
      if (at >= 0) this.scopes.splice(at, 1);
      const kept = returnedBuffers(result);
      const outer = this.scopes[this.scopes.length - 1];
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
