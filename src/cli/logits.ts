// `kdgpu logits`: a checkpoint teacher's logits on its data, written as the file that
// `kdgpu distill --teacher-logits` reads (src/interop/logits-file.ts): safetensors with "logits"
// [N, C], a row per training sample in the training set's order, and "test_logits" [M, C]. The
// forward runs where it is fastest (teacher-logits.ts), so the teacher is run once and every later
// distillation, here or elsewhere, starts from the file.

import { existsSync } from 'node:fs';
import type { Engine } from '../gpu/engine.js';
import { allIndices } from '../data/batches.js';
import { saveCheckpointAtomic } from '../io/checkpoint-file.js';
import { encodeSafetensors } from '../io/safetensors.js';
import { loadWeights } from '../nn/model-file.js';
import type { ModelConfig } from '../nn/model-checkpoint.js';
import { logitsAgreement } from '../interop/logits-file.js';
import { loadDatasetSpec } from '../data/load-dataset.js';
import { checkModelFitsData, describeSpec, specFromOptions, specOfCheckpoint, trainingSetHash, type DataOptions } from './data-options.js';
import { checkOutputFile, refuseOverlaps } from './preflight.js';
import { requireRegularFileSync } from '../io/regular-file.js';
import { chooseTeacherBackend, computeTeacherLogits, describeBackend, type TeacherBackendChoice } from './teacher-logits.js';

export interface LogitsCliOptions extends DataOptions {
  teacher: string;
  out: string;
  overwrite?: boolean;
  teacherBackend?: TeacherBackendChoice;
}

/** Everything checked before the teacher is read or a file written. */
export function checkLogitsOptions(o: LogitsCliOptions): void {
  requireRegularFileSync(o.teacher, 'the --teacher checkpoint');
  refuseOverlaps([{ option: '--out', path: o.out }], [{ option: '--teacher', path: o.teacher }]);
  checkOutputFile({ option: '--out', path: o.out });
  if (existsSync(o.out) && !o.overwrite) throw new Error(`--out ${o.out} already exists: pass --overwrite to replace it`);
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

export async function runLogits(engine: Engine, o: LogitsCliOptions, out: (s: string) => void): Promise<void> {
  checkLogitsOptions(o);
  const teacher = await loadWeights(engine, o.teacher);
  try {
    const tc = teacher.config as ModelConfig;
    const spec = specFromOptions(o, specOfCheckpoint(tc, o.teacher));
    const { train, test } = await loadDatasetSpec(spec, tc.normalisation, undefined, (t) => checkModelFitsData(`the teacher ${o.teacher} (${tc.model})`, tc.input, t, spec));
    if (tc.data && tc.data.trainHash !== trainingSetHash(train)) out(`note: the teacher was trained on other data (${describeSpec(tc.data.spec)}); its logits are for ${describeSpec(spec)}`);
    const backend = await chooseTeacherBackend(engine, o.teacherBackend ?? 'auto', false);
    const started = performance.now();
    const onTrain = await computeTeacherLogits(engine, teacher, train, allIndices(train.n), backend);
    const onTest = await computeTeacherLogits(engine, teacher, test, allIndices(test.n), backend);
    const seconds = (performance.now() - started) / 1000;
    const C = tc.input.classes;
    const bytes = encodeSafetensors(
      { logits: { dtype: 'F32', shape: [train.n, C], data: onTrain }, test_logits: { dtype: 'F32', shape: [test.n, C], data: onTest } },
      { teacher: o.teacher, teacher_sha256: teacher.hash, data: describeSpec(spec), train_sha256: trainingSetHash(train) },
    );
    await saveCheckpointAtomic(o.out, bytes);
    const acc = (l: Float32Array, labels: Uint32Array) => pct(logitsAgreement(l, C, labels).accuracy);
    out(
      `wrote ${o.out}: the logits of ${tc.model} (${o.teacher}) on ${describeSpec(spec)}, "logits" [${train.n}, ${C}] (train accuracy ${acc(onTrain, train.labels)}) and ` +
        `"test_logits" [${test.n}, ${C}] (test ${acc(onTest, test.labels)}); computed by ${describeBackend(backend, engine)} in ${seconds.toFixed(1)} s`,
    );
  } finally {
    teacher.model.store.destroy();
  }
}
