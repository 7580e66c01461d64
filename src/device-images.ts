// A dataset's images as the GPU reads them for batches. Resident (the default when it fits): the
// whole set's stored values (bytes, or floats) in one storage buffer, uploaded once; a step
// uploads only its plan (rows and augmentation draws, 16 bytes an example) and the gather kernel
// reads the examples by row. Otherwise each batch's stored values are copied into a staging array
// (one copy per example, never per value) and uploaded, and the same kernel reads them in place.
// Either way the kernel normalises and augments as it writes the model's input, so the two give
// bit-identical batches.

import type { Engine } from './gpu/engine.js';
import { gatherBatch } from './kernels/gather.js';
import { PLAN_WORDS, type Batch } from './data/batches.js';
import { exampleSize, inputTable, type Dataset } from './data/dataset.js';

/**
 * The most bytes of stored values kept resident (on a CPU adapter device memory is host memory):
 * Fashion-MNIST's training bytes are 47 MB, CIFAR-10's 154 MB, Fashion-MNIST as floats 188 MB.
 */
export const RESIDENT_BUDGET = 512 * 2 ** 20;

/** Uploads of a resident set go in pieces of this many bytes (bounds the implementation's staging copy). */
const UPLOAD_PIECE = 16 * 2 ** 20;

const ceil4 = (n: number) => Math.ceil(n / 4) * 4;

export interface DeviceImagesOptions {
  /** true: keep the set resident; false: upload each batch; absent: resident when it fits (see residentFits). */
  resident?: boolean;
  /**
   * The only rows batches will read (a run's training subset): only these are kept resident
   * (10,000 of Fashion-MNIST's 60,000 rows: 8 MB instead of 47). Absent: every row.
   */
  rows?: Uint32Array;
}

/**
 * Whether `ds`'s stored values (of `rows` only, when given) fit in one storage binding of
 * `engine`'s device and the resident budget.
 */
export function residentFits(engine: Engine, ds: Dataset, budget = RESIDENT_BUDGET, rows?: ArrayLike<number>): boolean {
  const bytes = ceil4(rows ? (ds.images.byteLength / ds.n) * rows.length : ds.images.byteLength);
  return bytes <= budget && bytes <= engine.limits.maxStorageBufferBindingSize && bytes <= engine.limits.maxBufferSize;
}

export class DeviceImages {
  readonly resident: boolean;
  private readonly bytes: boolean;
  private readonly size: number;
  private readonly table: GPUBuffer;
  /** The resident set, or the last uploaded batch. */
  private data: GPUBuffer | null = null;
  private dataBytes = 0;
  private plan: GPUBuffer | null = null;
  private planCapacity = 0;
  private staging: Uint8Array | Float32Array | null = null;
  /** With a row subset resident: each dataset row's position in it (-1: not resident), and the plan as uploaded. */
  private position: Int32Array | null = null;
  private planCopy: Uint32Array | null = null;

  constructor(
    private engine: Engine,
    readonly dataset: Dataset,
    padValue: ArrayLike<number> = new Float32Array(dataset.channels),
    opts: DeviceImagesOptions = {},
  ) {
    this.bytes = dataset.images instanceof Uint8Array;
    this.size = exampleSize(dataset);
    this.resident = opts.resident ?? residentFits(engine, dataset, RESIDENT_BUDGET, opts.rows);
    const t = inputTable(dataset);
    const table = new Float32Array(t.length + dataset.channels);
    table.set(t);
    table.set(Array.from(padValue), t.length);
    this.table = engine.upload(table, 'gather-table');
    if (this.resident && opts.rows) this.uploadRows(opts.rows);
    else if (this.resident) this.upload(dataset.images, dataset.images.byteLength);
  }

  /**
   * Records the gather of a filled batch (Batcher.fill) into `out` (at least size x C x H x W
   * floats): uploads its plan and, unless resident, its examples' stored values.
   */
  gather(batch: Batch, out: GPUBuffer): void {
    const ds = this.dataset;
    const count = batch.size;
    if (batch.plan.length < count * PLAN_WORDS) throw new RangeError(`gather ${ds.name}: a plan of ${batch.plan.length} words for ${count} examples`);
    if (count > this.planCapacity) {
      if (this.plan) this.engine.release(this.plan);
      this.plan = this.engine.alloc(count * PLAN_WORDS * 4, 'gather-plan');
      this.planCapacity = count;
    }
    let plan = batch.plan.subarray(0, count * PLAN_WORDS);
    if (this.position) {
      // Dataset rows to their positions among the resident rows (per example, not per value).
      if (!this.planCopy || this.planCopy.length < plan.length) this.planCopy = new Uint32Array(plan.length);
      const copy = this.planCopy.subarray(0, plan.length);
      copy.set(plan);
      for (let i = 0; i < count; i++) {
        const k = plan[i * PLAN_WORDS];
        const at = k < ds.n ? this.position[k] : -1;
        if (at < 0) throw new RangeError(`gather ${ds.name}: row ${k} is not among the rows kept resident (DeviceImagesOptions.rows)`);
        copy[i * PLAN_WORDS] = at;
      }
      plan = copy;
    }
    this.engine.write(this.plan!, plan);
    if (!this.resident) {
      const size = this.size;
      const want = this.bytes ? ceil4(count * size) : count * size;
      if (!this.staging || this.staging.length < want) this.staging = this.bytes ? new Uint8Array(want) : new Float32Array(want);
      const staging = this.staging;
      for (let i = 0; i < count; i++) {
        const k = batch.plan[i * PLAN_WORDS];
        if (k >= ds.n) throw new RangeError(`gather ${ds.name}: row ${k} outside [0, ${ds.n})`);
        staging.set(ds.images.subarray(k * size, (k + 1) * size), i * size);
      }
      this.upload(staging.subarray(0, want), count * size * (this.bytes ? 1 : 4));
    }
    gatherBatch(this.engine, { buffer: this.data!, size: ceil4(this.dataBytes) }, this.plan!, this.table, out, {
      count,
      channels: ds.channels,
      height: ds.height,
      width: ds.width,
      bytes: this.bytes,
      indexed: this.resident,
    });
  }

  /** Only `rows` resident, in that order, copied and uploaded a piece at a time. */
  private uploadRows(rows: Uint32Array): void {
    const ds = this.dataset;
    const unit = ds.images.BYTES_PER_ELEMENT;
    const exampleBytes = this.size * unit;
    this.position = new Int32Array(ds.n).fill(-1);
    const total = rows.length * exampleBytes;
    this.data = this.engine.alloc(Math.max(4, ceil4(total)), 'dataset-images');
    this.dataBytes = total;
    // A multiple of 4 examples a piece, so that every piece starts on a word.
    const perPiece = Math.max(4, Math.floor(UPLOAD_PIECE / exampleBytes / 4) * 4);
    const piece = this.bytes ? new Uint8Array(ceil4(Math.min(rows.length, perPiece) * this.size)) : new Float32Array(Math.min(rows.length, perPiece) * this.size);
    for (let start = 0; start < rows.length; start += perPiece) {
      const count = Math.min(perPiece, rows.length - start);
      for (let i = 0; i < count; i++) {
        const k = rows[start + i];
        if (!(k < ds.n)) throw new RangeError(`DeviceImages ${ds.name}: row ${k} outside [0, ${ds.n})`);
        this.position[k] = start + i;
        piece.set(ds.images.subarray(k * this.size, (k + 1) * this.size), i * this.size);
      }
      // Whole words: only the last piece can end inside one (its padding lies beyond the data).
      const bytes = ceil4(count * exampleBytes);
      this.engine.write(this.data, new Uint8Array(piece.buffer, 0, bytes), start * exampleBytes);
    }
  }

  /** `values` (byteLength bytes of stored values) into this.data, grown when too small. */
  private upload(values: Uint8Array | Float32Array, byteLength: number): void {
    const need = Math.max(4, ceil4(byteLength));
    if (!this.data || this.data.size < need) {
      if (this.data) this.engine.release(this.data);
      this.data = this.engine.alloc(need, this.resident ? 'dataset-images' : 'batch-stored-images');
    }
    this.dataBytes = byteLength;
    const raw = new Uint8Array(values.buffer, values.byteOffset, byteLength);
    const whole = Math.floor(byteLength / 4) * 4;
    for (let at = 0; at < whole; at += UPLOAD_PIECE) this.engine.write(this.data, raw.subarray(at, Math.min(whole, at + UPLOAD_PIECE)), at);
    if (whole < byteLength) {
      // WebGPU writes whole words: the last bytes go zero-padded.
      const tail = new Uint8Array(4);
      tail.set(raw.subarray(whole));
      this.engine.write(this.data, tail, whole);
    }
  }

  destroy(): void {
    this.engine.release(this.table);
    if (this.data) this.engine.release(this.data);
    if (this.plan) this.engine.release(this.plan);
    this.data = this.plan = null;
  }
}
