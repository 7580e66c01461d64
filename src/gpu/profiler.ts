// GPU timestamps per dispatch, for diagnosis: each profiled dispatch runs in its own compute pass
// with a begin and an end timestamp; a submit resolves them and, once the GPU has written them,
// adds them to totals keyed by the dispatch's record (its kernel, or with `perDispatch` also its
// ordinal in the step, its variant and its grid).

import { BufferUsage, MapMode } from './flags.js';
import type { BufferPool } from './pool.js';
import type { DeviceErrors } from './device-errors.js';

/** Dispatches per submit while profiling (two timestamps each). */
export const PROFILE_SLOTS = 256;

/** What a profiled dispatch is counted under: the kernel, and per dispatch its ordinal since profileNextStep(), variant and grid. */
export interface ProfiledDispatch {
  kernel: string;
  ordinal?: number;
  /** The variant's constants, "NAME=value …". */
  variant?: string;
  /** The workgroup grid, "XxYxZ". */
  grid?: string;
}

/** GPU milliseconds of a profiled dispatch (summed over `count` runs). */
export interface ProfileEntry extends ProfiledDispatch {
  ms: number;
  count: number;
}

export class Profiler {
  private readonly querySet: GPUQuerySet;
  /** This submit's dispatches, in order: timestamps 2i and 2i + 1 are the i-th's. */
  private dispatches: ProfiledDispatch[] = [];
  private readonly totals = new Map<string, ProfileEntry>();
  private ordinal = 0;

  constructor(
    device: GPUDevice,
    private readonly perDispatch: boolean,
  ) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * PROFILE_SLOTS });
  }

  /** The next dispatch is ordinal 0 again (a new step). */
  nextStep(): void {
    this.ordinal = 0;
  }

  /** The timestamps of the pass that will hold this dispatch. */
  timestampWrites(kernel: string, variant: Record<string, unknown>, grid: [number, number, number]): GPUComputePassTimestampWrites {
    const i = this.dispatches.length;
    this.dispatches.push(
      this.perDispatch
        ? { kernel, ordinal: this.ordinal++, variant: Object.entries(variant).map(([k, v]) => `${k}=${v}`).join(' '), grid: grid.join('x') }
        : { kernel },
    );
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /**
   * Record the resolution of this submit's timestamps into `encoder`; the returned hook, run after
   * the submit, reads them back (watched by `errors`) and adds them to the totals.
   */
  resolve(encoder: GPUCommandEncoder, pool: BufferPool, errors: DeviceErrors): (() => void) | null {
    const n = this.dispatches.length;
    if (n === 0) return null;
    const bytes = 2 * n * 8;
    const resolved = pool.acquire(bytes, BufferUsage.QUERY_RESOLVE | BufferUsage.COPY_SRC, 'timestamps');
    const staging = pool.acquire(bytes, BufferUsage.MAP_READ | BufferUsage.COPY_DST, 'timestamps-read');
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
    const dispatches = this.dispatches;
    this.dispatches = [];
    return () => {
      errors.watch(
        staging.mapAsync(MapMode.READ, 0, bytes).then(() => {
          const t = new BigUint64Array(staging.getMappedRange(0, bytes).slice(0));
          staging.unmap();
          dispatches.forEach((d, i) => this.add(d, Number(t[2 * i + 1] - t[2 * i]) / 1e6));
          pool.release(staging);
        }),
      );
      pool.release(resolved);
    };
  }

  /** The totals, one entry per kernel (or per dispatch of a step), in the order first seen. */
  entries(): ProfileEntry[] {
    return [...this.totals.values()];
  }

  destroy(): void {
    this.querySet.destroy();
  }

  private add(d: ProfiledDispatch, ms: number): void {
    // The record's fields, in a fixed order, identify it; the key is never read back.
    const key = JSON.stringify([d.kernel, d.ordinal, d.variant, d.grid]);
    const e = this.totals.get(key) ?? { ...d, ms: 0, count: 0 };
    e.ms += ms;
    e.count++;
    this.totals.set(key, e);
  }
}
