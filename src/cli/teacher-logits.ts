// A kdgpu checkpoint teacher's logits for rows of a dataset, computed where it is fastest and
// kept on disk between runs. On a software adapter (SwiftShader), whose every kernel is bound by
// an emulated GPU's FMA rate, the forward goes to onnxruntime-node when it is installed: the model
// is exported to ONNX in memory (interop/onnx-export.ts) and run as an ONNX teacher is
// (interop/onnx-teacher.ts), ~60x faster there. On a GPU, kdgpu's own forward runs. The logits
// are cached under the teacher's content hash, the training set's hash and the rows
// (io/logits-cache.ts), so a second run skips the forward entirely.

import type { Engine } from '../gpu/engine.js';
import type { Dataset } from '../data/dataset.js';
import type { RestoredModel } from '../nn/model-checkpoint.js';
import { TeacherCache } from '../kd/teacher-cache.js';
import { modelKernels, batchSizes, EVAL_BATCH } from '../train.js';
import { onnxFromModel } from '../interop/onnx-export.js';
import { onnxTeacherLogits, type OrtModule } from '../interop/onnx-teacher.js';
import { loadOnnxRuntimeNode } from '../interop/onnx-node.js';
import { LogitsCache, type CacheLookup, type LogitsKey } from '../io/logits-cache.js';

export const TEACHER_BACKENDS = ['auto', 'kdgpu', 'onnxruntime'] as const;
export type TeacherBackendChoice = (typeof TEACHER_BACKENDS)[number];

/** The engine that runs a teacher's forward, with onnxruntime's module when it is that one. */
export type TeacherBackend = { kind: 'kdgpu' } | { kind: 'onnxruntime'; ort: OrtModule };

/** Whether onnxruntime-node can be loaded here (it is an optional peer dependency). */
async function tryOnnxRuntime(): Promise<OrtModule | null> {
  try {
    return await loadOnnxRuntimeNode();
  } catch {
    return null;
  }
}

/**
 * `auto`: onnxruntime-node on a software adapter when it is installed, else kdgpu. `onnxruntime`
 * without it installed is an error saying what to install. With augmentation the teacher sees
 * each epoch's augmented images, which only kdgpu's forward (on the device, per epoch) computes.
 */
export async function chooseTeacherBackend(engine: Engine, choice: TeacherBackendChoice, augment: boolean): Promise<TeacherBackend> {
  if (choice === 'kdgpu') return { kind: 'kdgpu' };
  if (choice === 'onnxruntime') {
    if (augment) throw new Error('the onnxruntime backend computes a teacher\'s logits once, for the images as they are: with augmentation the teacher runs on the device');
    return { kind: 'onnxruntime', ort: await loadOnnxRuntimeNode().catch((e: Error) => Promise.reject(new Error(`--teacher-backend onnxruntime: ${e.message}`))) };
  }
  if (augment || !engine.software) return { kind: 'kdgpu' };
  const ort = await tryOnnxRuntime();
  return ort ? { kind: 'onnxruntime', ort } : { kind: 'kdgpu' };
}

export const describeBackend = (b: TeacherBackend, engine: Engine): string => (b.kind === 'onnxruntime' ? 'onnxruntime-node (CPU)' : `kdgpu (${engine.adapterName})`);

/**
 * The teacher's logits for `rows` of `data` (whose images are normalised as the teacher was
 * trained), [data.n, classes] with the other rows zero: kdgpu's batched eval forward, or the same
 * model exported to ONNX (its input the normalised image, fed as it is) run by onnxruntime.
 */
export async function computeTeacherLogits(engine: Engine, teacher: RestoredModel, data: Dataset, rows: Uint32Array, backend: TeacherBackend): Promise<Float32Array> {
  const model = teacher.model;
  if (backend.kind === 'onnxruntime') {
    const { bytes } = await onnxFromModel(model, { normalisationInGraph: false });
    const C = data.channels;
    const identity = { mean: new Array<number>(C).fill(0), std: new Array<number>(C).fill(1) };
    const name = `${teacher.config.model} (exported in memory)`;
    return (await onnxTeacherLogits(backend.ort, bytes, name, data, identity, rows, { layout: 'nchw', inputRange: 1, ...identity, batchSize: EVAL_BATCH })).logits;
  }
  await engine.prepare(modelKernels(model, { eval: batchSizes(rows.length, EVAL_BATCH) }));
  const cache = new TeacherCache(engine);
  try {
    const entry = cache.get(model, teacher.hash, data, { rows });
    return await engine.readF32(entry.logits, data.n * entry.classes);
  } finally {
    cache.clear();
  }
}

/** Where computed logits are kept: a cache directory, or none (--no-cache). */
export interface TeacherLogitsSource {
  /** The backend asked for: with 'auto' an entry of either backend is used. */
  choice: TeacherBackendChoice;
  /** The backend, chosen only when the logits must be computed (a cache hit loads no onnxruntime). */
  backend: () => Promise<TeacherBackend>;
  cache: LogitsCache | null;
  /** The training set's hash (trainingSetHash), part of the cache key. */
  trainingSetHash: string;
}

/**
 * computeTeacherLogits through the disk cache: a valid entry is used as it is (the forward is
 * skipped), a missing or failed one is computed and written. `how` says which for the run's
 * progress line. A cache that cannot be written (a read-only directory) costs the run nothing
 * but a note.
 */
export async function cachedTeacherLogits(
  engine: Engine,
  teacher: RestoredModel,
  data: Dataset,
  rows: Uint32Array,
  source: TeacherLogitsSource,
  note: (s: string) => void,
): Promise<{ logits: Float32Array; how: string }> {
  const C = teacher.model.input.classes;
  const keyOf = (backend: TeacherBackend['kind']): LogitsKey => ({ teacher: teacher.hash, trainingSet: source.trainingSetHash, rows, augmentation: 'none', backend });
  // 'auto' takes either backend's entry (they agree to about 1e-5), the one it would compute first.
  const kinds: Array<TeacherBackend['kind']> = source.choice !== 'auto' ? [source.choice] : engine.software ? ['onnxruntime', 'kdgpu'] : ['kdgpu', 'onnxruntime'];
  // An entry holds the rows' logits only ([rows, C]), placed back at their dataset positions.
  for (const kind of kinds) {
    const found: CacheLookup | undefined = source.cache?.read(keyOf(kind), rows.length * C);
    if (found?.logits) {
      const hit = found.logits;
      const logits = new Float32Array(data.n * C);
      rows.forEach((k, i) => logits.set(hit.subarray(i * C, (i + 1) * C), k * C));
      return { logits, how: `read from the cache (${found.path}, computed by ${kind}): the teacher's forward skipped` };
    }
    if (found?.discarded) note(`note: a cached entry was discarded and is recomputed: ${found.discarded}`);
  }
  const backend = await source.backend();
  const started = performance.now();
  const logits = await computeTeacherLogits(engine, teacher, data, rows, backend);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  let stored = '';
  if (source.cache) {
    const ofRows = new Float32Array(rows.length * C);
    rows.forEach((k, i) => ofRows.set(logits.subarray(k * C, (k + 1) * C), i * C));
    try {
      stored = `; cached in ${await source.cache.write(keyOf(backend.kind), ofRows, C)}`;
    } catch (e) {
      note(`note: the teacher's logits could not be cached in ${source.cache.dir}: ${(e as Error).message}`);
    }
  }
  return { logits, how: `computed by ${describeBackend(backend, engine)} in ${seconds} s${stored}` };
}
