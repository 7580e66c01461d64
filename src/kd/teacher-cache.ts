// The teacher-target cache: the teacher never changes while a student trains, so its logits are
// computed once for the whole training set and kept on the GPU, keyed by the teacher
// checkpoint's content hash, the dataset and (with augmentation) the epoch's augmentation key.
// A teacher computed elsewhere (a logits file, an ONNX model) is a matrix uploaded once, keyed by
// its own hash.
// Revised targets are derived from these logits inside the fused loss kernel, per batch.

import type { Engine } from '../gpu/engine.js';
import { allIndices } from '../data/batches.js';
import { scatterRows } from '../kernels/scatter.js';
import type { Dataset } from '../data/dataset.js';
import type { AugmentOptions } from '../data/augment.js';
import type { Model } from '../nn/models.js';
import { forEachBatch } from '../train.js';

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
    forEachBatch(teacher, data, { indices: rows, augment: opts.augment, seed: opts.seed ?? 0, epoch: opts.epoch ?? 0 }, ({ g, x, bufs, batch }) => {
      scatterRows(this.engine, teacher.forward(g, x).data, bufs.rows, logits, batch.size, classes);
    });
    this.engine.flush();
    const entry = { logits, n: data.n, classes, key };
    this.entries.set(key, entry);
    this.computed++;
    return entry;
  }

  /**
   * Logits computed elsewhere, `logits` = data.n × classes with row k the teacher's logits for
   * dataset sample k, uploaded once under `hash` (a logits file's or an ONNX model's content hash)
   * and the matrix's own fingerprint: logits computed for other rows of the same data (zeros
   * elsewhere) are another entry.
   */
  fromLogits(hash: string, data: Dataset, logits: Float32Array, classes: number): TeacherLogits {
    if (logits.length !== data.n * classes) {
      throw new Error(`teacher logits: ${logits.length} values, expected ${data.n} × ${classes} (a row per sample of ${data.name}, a logit per class)`);
    }
    const key = `${hash}|${data.name}|${data.n}|given:${fnv1a(new Uint32Array(logits.buffer, logits.byteOffset, logits.length))}`;
    const hit = this.entries.get(key);
    if (hit) return hit;
    const entry = { logits: this.engine.upload(logits, 'teacher-logits'), n: data.n, classes, key };
    this.entries.set(key, entry);
    this.computed++;
    return entry;
  }

  /** Every cached entry (for tests and tools that compare teachers' logits). */
  list(): TeacherLogits[] {
    return [...this.entries.values()];
  }

  clear(): void {
    for (const v of this.entries.values()) this.engine.release(v.logits);
    this.entries.clear();
  }
}

/** A cheap content hash of a row list or of float bits (for the cache key). */
function fnv1a(rows: Uint32Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < rows.length; i++) h = Math.imul(h ^ rows[i], 0x01000193) >>> 0;
  return h.toString(16);
}
