// The teacher-target cache: the teacher never changes while a student trains, so its logits are
// computed once for the whole training set and kept on the GPU, keyed by the teacher
// checkpoint's content hash, the dataset and (with augmentation) the epoch's augmentation key.
// Revised targets are derived from these logits inside the fused loss kernel, per batch.

import type { Engine } from '../gpu/engine.js';
import { Batcher, allIndices } from '../data/batches.js';
import { scatterRows } from '../kernels/scatter.js';
import type { Dataset } from '../data/dataset.js';
import type { AugmentOptions } from '../data/augment.js';
import type { Model } from '../nn/models.js';
import { Graph } from '../tensor.js';
import { BatchBuffers } from '../train.js';

export interface TeacherLogits {
  /** [dataset.n, classes], row k = the teacher's logits for dataset sample k. */
  logits: GPUBuffer;
  n: number;
  classes: number;
  key: string;
}

export class TeacherCache {
  private entries = new Map<string, TeacherLogits>();
  /** How many times logits were computed (not served from the cache). */
  computed = 0;

  constructor(private engine: Engine) {}

  /**
   * Logits of `teacher` (identified by `teacherHash`) for the samples `rows` of `data` (default: all),
   * placed at their dataset positions, under epoch `epoch`'s augmentation when `augment` is given
   * (seeded as the student's batches are). Rows not asked for hold zeros.
   */
  get(teacher: Model, teacherHash: string, data: Dataset, opts: { rows?: Uint32Array; augment?: AugmentOptions; seed?: number; epoch?: number } = {}): TeacherLogits {
    const rows = opts.rows ?? allIndices(data.n);
    const key = `${teacherHash}|${data.name}|${data.n}|rows:${rows.length}:${fnv1a(rows)}|${opts.augment ? `aug${opts.seed}:${opts.epoch}` : 'plain'}`;
    const hit = this.entries.get(key);
    if (hit) return hit;
    if (opts.augment) {
      // Only one augmented epoch is worth keeping: drop the others.
      for (const [k, v] of this.entries) {
        if (k.startsWith(`${teacherHash}|${data.name}|${data.n}|aug`)) {
          this.engine.release(v.logits);
          this.entries.delete(k);
        }
      }
    }
    const classes = teacher.input.classes;
    const logits = this.engine.upload(new Float32Array(data.n * classes), 'teacher-logits');
    const batchSize = 500;
    const batcher = new Batcher(data, { batchSize, seed: opts.seed ?? 0, shuffle: false, augment: opts.augment, indices: rows });
    const idx = this.engine.alloc(batchSize * 4, 'teacher-rows');
    const bufs = new BatchBuffers(this.engine, batchSize, data.channels * data.height * data.width);
    const wasTraining = teacher.net.training;
    teacher.net.train(false);
    batcher.startEpoch(opts.epoch ?? 0);
    for (let b = 0; b < batcher.batchesPerEpoch; b++) {
      const batch = batcher.fill(b);
      bufs.upload(batch.images, batch.labels, batch.size);
      this.engine.write(idx, batch.indices.subarray(0, batch.size));
      const g = new Graph(this.engine, false);
      const out = teacher.forward(g, g.input(bufs.images, [batch.size, data.channels, data.height, data.width]));
      scatterRows(this.engine, out.data, idx, logits, batch.size, classes);
      g.release();
    }
    teacher.net.train(wasTraining);
    bufs.destroy();
    this.engine.release(idx);
    this.engine.flush();
    const entry = { logits, n: data.n, classes, key };
    this.entries.set(key, entry);
    this.computed++;
    return entry;
  }

  clear(): void {
    for (const v of this.entries.values()) this.engine.release(v.logits);
    this.entries.clear();
  }
}

/** A cheap content hash of a row list (for the cache key). */
function fnv1a(rows: Uint32Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < rows.length; i++) h = Math.imul(h ^ rows[i], 0x01000193) >>> 0;
  return h.toString(16);
}
