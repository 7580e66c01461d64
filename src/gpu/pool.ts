// Buffer pool keyed by (size class, usage). A released buffer is not reusable until the submit
// that used it has been handed to the queue: queue.writeBuffer() and mapAsync() are ordered
// against submits, so reusing a buffer earlier could let an upload overwrite data that a
// recorded-but-unsubmitted dispatch still has to read.

export interface PoolCounters {
  /** Bytes handed out and not yet released. */
  bytesInUse: number;
  /** Bytes of all GPU buffers the pool has created and not destroyed. */
  bytesAllocated: number;
  /** Buffers handed out and not yet released. */
  buffersInUse: number;
  /** Buffers created since the pool began (a reuse does not count). */
  buffersCreated: number;
}

/** Round up to a size class: powers of two up to 64 KiB, then quarter steps between powers of two. */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (b <= 65536) return 2 ** Math.ceil(Math.log2(b));
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 4;
  return Math.ceil(b / step) * step;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function outOfMemoryMessage(label: string, size: number, held: number, detail: string): string {
  return `out of GPU memory: could not allocate "${label}" (${mib(size)}) while kdgpu's buffer pool held ${mib(held)}: use a smaller batch size or model, or a device with more memory (${detail})`;
}

export class BufferPool {
  private free = new Map<string, GPUBuffer[]>();
  private pending: GPUBuffer[] = [];
  private sizeOf = new WeakMap<GPUBuffer, number>();
  private inUse = new Set<GPUBuffer>();
  /** New buffers whose out-of-memory check has not come back yet. */
  private unconfirmed = new Map<GPUBuffer, { label: string; size: number; held: number }>();
  private counters: PoolCounters = { bytesInUse: 0, bytesAllocated: 0, buffersInUse: 0, buffersCreated: 0 };

  constructor(
    private device: GPUDevice,
    private maxBufferSize: number,
    /**
     * Called (asynchronously) when the device could not back a new buffer; `watch` receives the
     * promise that reports it, so the engine's settle() waits for it.
     */
    private onOutOfMemory: (message: string) => void = () => {},
    private watch: (p: Promise<unknown>) => void = () => {},
  ) {}

  acquire(bytes: number, usage: GPUBufferUsageFlags, label = 'pooled'): GPUBuffer {
    const size = sizeClass(bytes);
    if (size > this.maxBufferSize) {
      throw new Error(
        `buffer of ${bytes} bytes (${label}) exceeds this adapter's maxBufferSize of ${this.maxBufferSize} bytes`,
      );
    }
    const key = `${size}:${usage}`;
    let buf = this.free.get(key)?.pop();
    if (!buf) {
      // Only a new allocation can run out of memory; reuses never touch the device.
      const held = this.counters.bytesAllocated;
      this.device.pushErrorScope('out-of-memory');
      buf = this.device.createBuffer({ size, usage, label });
      const created = buf;
      this.unconfirmed.set(created, { label, size, held });
      this.watch(
        this.device.popErrorScope().then((err) => {
          this.unconfirmed.delete(created);
          if (err) this.onOutOfMemory(outOfMemoryMessage(label, size, held, err.message.split('\n')[0]));
        }),
      );
      this.sizeOf.set(buf, size);
      this.counters.bytesAllocated += size;
      this.counters.buffersCreated++;
    }
    this.inUse.add(buf);
    this.counters.bytesInUse += size;
    this.counters.buffersInUse++;
    return buf;
  }

  /** Whether some new buffer's out-of-memory check is still to come back. */
  get allocationsUnconfirmed(): boolean {
    return this.unconfirmed.size > 0;
  }

  /**
   * A device error says buffer `label` is invalid before its allocation check came back: the
   * allocation failed (sizes are validated before creation), so say that, naming it.
   */
  explainInvalidBuffer(errorText: string): string | null {
    const label = /Invalid Buffer "([^"]*)"/.exec(errorText)?.[1];
    for (const a of this.unconfirmed.values()) {
      if (a.label === label) return outOfMemoryMessage(a.label, a.size, a.held, 'the device reported the new buffer invalid');
    }
    return null;
  }

  /** Give a buffer back; it becomes reusable after the next submit. */
  release(buf: GPUBuffer): void {
    if (!this.inUse.delete(buf)) throw new Error(`buffer "${buf.label}" released twice or not from this pool`);
    this.counters.bytesInUse -= this.sizeOf.get(buf)!;
    this.counters.buffersInUse--;
    this.pending.push(buf);
  }

  /** Called by the engine right after queue.submit(). */
  afterSubmit(): void {
    for (const buf of this.pending) {
      const key = `${this.sizeOf.get(buf)}:${buf.usage}`;
      let list = this.free.get(key);
      if (!list) this.free.set(key, (list = []));
      list.push(buf);
    }
    this.pending = [];
  }

  /** Destroy every free buffer (buffers in use are left alone). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const buf of list) {
        this.counters.bytesAllocated -= this.sizeOf.get(buf)!;
        buf.destroy();
      }
    }
    this.free.clear();
  }

  stats(): PoolCounters {
    return { ...this.counters };
  }
}
