// A checkpoint teacher's logits where they are fastest, and kept between runs
// (src/cli/teacher-logits.ts, src/io/logits-cache.ts, src/cli/logits.ts):
// - onnxruntime-node's logits for the committed teacher, exported in memory, agree with kdgpu's
//   forward logit by logit to |Δ| ≤ 1e-5 · max(1, |z|), and the run says which
//   backend computed them; auto picks onnxruntime on a software adapter, kdgpu on a GPU or under
//   augmentation;
// - the disk cache: a second run reads the logits and skips the forward; a truncated or altered
//   entry is discarded and recomputed, never used; the directory stays within its bound, the least
//   recently used entries going first;
// - `kdgpu logits` writes the file --teacher-logits reads, and distilling from it equals
//   distilling from the teacher.
//
// Data: a slice of Fashion-MNIST (1,200 training and 300 test images) as IDX files. Every cache
// lives in a temporary folder (test/setup-cache.ts points $XDG_CACHE_HOME at one too).

import { mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { distillCli, kdgpu, kdgpuFails, writeFashionSlice } from './helpers.js';
import { testEngine } from './engine.js';
import { loadDatasetSpec } from '../src/data/load-dataset.js';
import { runDistill, type DistillCliOptions } from '../src/cli/distill.js';
import { chooseTeacherBackend, computeTeacherLogits } from '../src/cli/teacher-logits.js';
import { splitRows } from '../src/kd/distill.js';
import { loadWeights } from '../src/nn/model-file.js';
import { defaultCacheDir, LogitsCache } from '../src/io/logits-cache.js';
import { readLogitsFile } from '../src/interop/logits-file.js';
import { loadOnnxRuntimeNode } from '../src/interop/onnx-node.js';
import type { Engine } from '../src/gpu/engine.js';

const TEACHER = 'models/teacher-cnn.safetensors';
const TRAIN_N = 1200;
const TEST_N = 300;
const dir = mkdtempSync(join(tmpdir(), 'kdgpu-teacher-logits-'));
const dataDir = join(dir, 'fashion-slice');

beforeAll(() => writeFashionSlice(dataDir, TRAIN_N, TEST_N), 120_000);

/** distill's options on the slice: one quick epoch of KD on 400 of its rows. */
const sliceCli = (o: Partial<DistillCliOptions>) => distillCli({ dataset: 'idx', dataDir, valSplit: 200, trainSubset: 400, ...o });

async function distillLines(engine: Engine, o: Partial<DistillCliOptions>) {
  const lines: string[] = [];
  const result = await runDistill(engine, sliceCli(o), (s) => lines.push(s));
  return { lines, text: lines.join('\n'), result };
}

/** What auto picks on the test's adapter (SwiftShader here; a GPU where one is lent), as the run prints it. */
const autoBackend = (engine: Engine) => (engine.software ? 'onnxruntime-node \\(CPU\\)' : 'kdgpu \\(');

const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('the teacher\'s forward where it is fastest', () => {
  it('onnxruntime-node\'s logits (the checkpoint exported in memory) agree with kdgpu\'s forward to 1e-5 (relative, absolute below |z| = 1)', async () => {
    const engine = await testEngine();
    const teacher = await loadWeights(engine, TEACHER);
    try {
      const { train } = await loadDatasetSpec({ kind: 'idx', dir: dataDir }, teacher.config.normalisation);
      const { trainIdx } = splitRows(TRAIN_N, { valSplit: 200, seed: 1 });
      const ort = await loadOnnxRuntimeNode();
      const viaOnnx = await computeTeacherLogits(engine, teacher, train, trainIdx, { kind: 'onnxruntime', ort });
      const viaKdgpu = await computeTeacherLogits(engine, teacher, train, trainIdx, { kind: 'kdgpu' });
      // Per logit: |Δ| ≤ 1e-5 · max(1, |z|), z kdgpu's (relative for large logits, absolute near zero).
      let delta = 0;
      let worst = 0;
      for (let i = 0; i < viaKdgpu.length; i++) {
        const d = Math.abs(viaOnnx[i] - viaKdgpu[i]);
        delta = Math.max(delta, d);
        worst = Math.max(worst, d / Math.max(1, Math.abs(viaKdgpu[i])));
      }
      console.log(`teacher-cnn on ${trainIdx.length} rows: onnxruntime vs kdgpu max |Δ| ${delta.toExponential(2)}, max |Δ| / max(1, |z|) ${worst.toExponential(2)}, max |z| ${maxAbs(viaKdgpu).toFixed(2)}`);
      expect(maxAbs(viaKdgpu)).toBeGreaterThan(1); // real logits, not zeros
      expect(worst).toBeLessThanOrEqual(1e-5);
      // Rows not asked for hold zeros in both.
      const asked = new Set(trainIdx);
      const other = [...Array(TRAIN_N).keys()].find((k) => !asked.has(k))!;
      expect(viaOnnx.subarray(other * 10, other * 10 + 10).every((v) => v === 0)).toBe(true);
    } finally {
      teacher.model.store.destroy();
    }
  }, 300_000);

  it('auto: onnxruntime on a software adapter, kdgpu on a GPU or under augmentation; the run says which computed the logits', async () => {
    const engine = await testEngine();
    const kind = async (software: boolean, augment: boolean) => (await chooseTeacherBackend({ ...engine, software } as unknown as Engine, 'auto', augment)).kind;
    expect(await kind(true, false)).toBe('onnxruntime');
    expect(await kind(false, false)).toBe('kdgpu');
    expect(await kind(true, true)).toBe('kdgpu');
    const cacheDir = mkdtempSync(join(dir, 'backend-'));
    const viaKdgpu = await distillLines(engine, { teacher: TEACHER, teacherBackend: 'kdgpu', cacheDir });
    expect(viaKdgpu.text).toMatch(/the teacher's logits for the 400 training rows: computed by kdgpu \(.*SwiftShader.*\) in [\d.]+ s; cached in /);
    const viaOrt = await distillLines(engine, { teacher: TEACHER, teacherBackend: 'onnxruntime', cache: false });
    expect(viaOrt.text).toMatch(/the teacher's logits for the 400 training rows: computed by onnxruntime-node \(CPU\) in [\d.]+ s\n/);
    // A named backend never reads the other's entry (they agree to about 1e-5, not bit for bit); auto reads either.
    const ortCached = await distillLines(engine, { teacher: TEACHER, teacherBackend: 'onnxruntime', cacheDir });
    expect(ortCached.text).toMatch(/computed by onnxruntime-node \(CPU\) in [\d.]+ s; cached in /);
    expect((await distillLines(engine, { teacher: TEACHER, teacherBackend: 'kdgpu', cacheDir })).text).toMatch(/read from the cache \(.*, computed by kdgpu\)/);
    expect((await distillLines(engine, { teacher: TEACHER, cacheDir })).text).toMatch(/read from the cache \(.*, computed by (kdgpu|onnxruntime)\)/);
    const auto = await distillLines(engine, { teacher: TEACHER, cache: false });
    expect(auto.text).toMatch(new RegExp(`computed by ${autoBackend(engine)}`));
    // Under augmentation the model runs on the device on each epoch's images.
    const augmented = await distillLines(engine, { teacher: TEACHER, augment: true, cacheDir });
    expect(augmented.text).toMatch(/teacher's forward: kdgpu \(.*\), on each epoch's augmented images/);
  }, 600_000);

  it('refuses --teacher-backend and --cache-dir where they cannot apply, before anything runs', async () => {
    const fails = async (args: string[]) => (await kdgpuFails(args)).out;
    expect(await fails(['distill', '--teacher', TEACHER, '--teacher-backend', 'onnxruntime', '--augment'])).toMatch(/--teacher-backend onnxruntime cannot be used with --augment/);
    const logits = join(dir, 'any.safetensors');
    writeFileSync(logits, 'x');
    expect(await fails(['distill', '--teacher-logits', logits, '--teacher-backend', 'kdgpu'])).toMatch(/--teacher-backend applies to a kdgpu checkpoint teacher, not to --teacher-logits/);
    expect(await fails(['distill', '--teacher', TEACHER, '--teacher-backend', 'tpu'])).toMatch(/argument 'tpu' is invalid\. Allowed choices are auto, kdgpu, onnxruntime/);
    expect(await fails(['distill', '--teacher', TEACHER, '--cache-dir', dir, '--no-cache'])).toMatch(/--cache-dir and --no-cache cannot be used together/);
    expect(await fails(['distill', '--teacher', TEACHER, '--cache-dir', logits])).toMatch(/--cache-dir \S+any\.safetensors: exists and is not a folder/);
    expect(await fails(['distill', '--teacher-logits', logits, '--cache-dir', dir])).toMatch(/--cache-dir applies to a kdgpu checkpoint teacher/);
    // ablate takes the same options, checked the same way.
    expect(await fails(['ablate', '--teacher', TEACHER, '--teacher-backend', 'onnxruntime', '--augment', '--out-dir', join(dir, 'abl')])).toMatch(/--teacher-backend onnxruntime cannot be used with --augment/);
    expect(await fails(['ablate', '--teacher', TEACHER, '--cache-dir', dir, '--no-cache', '--out-dir', join(dir, 'abl')])).toMatch(/--cache-dir and --no-cache cannot be used together/);
  }, 120_000);
});

describe('the teacher-logits cache on disk', () => {
  it('defaults to $XDG_CACHE_HOME/kdgpu, else ~/.cache/kdgpu', () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache' })).toBe('/x/cache/kdgpu');
    expect(defaultCacheDir({ HOME: '/home/u' })).toMatch(/\.cache\/kdgpu$/);
    expect(defaultCacheDir({ XDG_CACHE_HOME: 'relative' })).toMatch(/\.cache\/kdgpu$/); // the spec ignores a relative path
    expect(defaultCacheDir()).toBe(join(process.env.XDG_CACHE_HOME!, 'kdgpu')); // the tests' own, in a temporary folder
  });

  it('the second run skips the teacher\'s forward and trains identically; a corrupt or truncated entry is recomputed, never used', async () => {
    const engine = await testEngine();
    const cacheDir = defaultCacheDir(); // in a temporary folder (test/setup-cache.ts), unused by the other tests here
    const first = await distillLines(engine, { teacher: TEACHER, cacheDir });
    expect(first.text).toMatch(new RegExp(`computed by ${autoBackend(engine)}.* in [\\d.]+ s; cached in `));
    const [entry] = readdirSync(cacheDir);
    const path = join(cacheDir, entry);
    const second = await distillLines(engine, { teacher: TEACHER, cacheDir });
    expect(second.text).toMatch(new RegExp(`the teacher's logits for the 400 training rows: read from the cache \\(${path}, computed by ${autoBackend(engine).startsWith('onnx') ? 'onnxruntime' : 'kdgpu'}\\): the teacher's forward skipped`));
    const strip = (r: typeof first) => r.result.epochs.map(({ seconds, samplesPerSecond, ...t }) => t);
    expect(strip(second)).toEqual(strip(first));

    // One logit altered (its bits flipped): the content hash no longer matches.
    const bytes = readFileSync(path);
    bytes[bytes.length - 3] ^= 0xff;
    writeFileSync(path, bytes);
    const altered = await distillLines(engine, { teacher: TEACHER, cacheDir });
    expect(altered.text).toMatch(/note: a cached entry was discarded and is recomputed: .*: its data does not match its content_sha256/);
    expect(altered.text).toMatch(/the teacher's logits for the 400 training rows: computed by/);
    expect(strip(altered)).toEqual(strip(first));
    // Truncated mid-data (a crash of another writer would leave a .tmp instead; this is a damaged disk).
    truncateSync(path, statSync(path).size - 100);
    const truncated = await distillLines(engine, { teacher: TEACHER, cacheDir });
    expect(truncated.text).toMatch(/note: a cached entry was discarded and is recomputed: .*(truncated|bytes)/);
    expect(strip(truncated)).toEqual(strip(first));
    expect(readdirSync(cacheDir)).toEqual([entry]); // rewritten whole
    expect((await distillLines(engine, { teacher: TEACHER, cacheDir })).text).toMatch(/read from the cache/);
    // --no-cache: computed, the entry in the default folder not read.
    expect((await distillLines(engine, { teacher: TEACHER, cache: false })).text).toMatch(/the teacher's logits for the 400 training rows: computed by .* in [\d.]+ s\n/);
  }, 600_000);

  it('keys entries by teacher, training set, rows, augmentation and backend, and stays within its bound, the least recently used going first', async () => {
    const cacheDir = mkdtempSync(join(dir, 'bound-'));
    const key = (teacher: string, rows = Uint32Array.of(0, 1)) => ({ teacher, trainingSet: 'data', rows, augmentation: 'none', backend: 'kdgpu' as const });
    const logits = (v: number) => new Float32Array(1000).fill(v); // 4,000 bytes of data each
    const probe = new LogitsCache(cacheDir);
    await probe.write(key('probe'), logits(0), 10);
    const entryBytes = statSync(join(cacheDir, readdirSync(cacheDir)[0])).size;
    const cache = new LogitsCache(cacheDir, 3 * entryBytes); // three entries fit
    const age = (k: ReturnType<typeof key>, secondsAgo: number) => {
      const found = cache.read(k, 1000);
      if (!found.logits) throw new Error('expected an entry');
      const t = new Date(Date.now() - secondsAgo * 1000);
      utimesSync(found.path, t, t);
    };
    age(key('probe'), 400);
    await cache.write(key('a'), logits(1), 10);
    age(key('a'), 300);
    await cache.write(key('b'), logits(2), 10);
    age(key('b'), 200);
    expect(readdirSync(cacheDir)).toHaveLength(3);
    // A read makes "probe" the most recently used; the next write evicts the oldest, "a".
    expect(cache.read(key('probe'), 1000).logits?.[0]).toBe(0);
    await cache.write(key('c'), logits(3), 10);
    expect(readdirSync(cacheDir)).toHaveLength(3);
    expect(cache.read(key('a'), 1000).logits).toBeNull();
    for (const [k, v] of [['probe', 0], ['b', 2], ['c', 3]] as const) expect(cache.read(key(k), 1000).logits?.[0]).toBe(v);
    // Other rows, another training set or another augmentation: other entries.
    expect(cache.read(key('c', Uint32Array.of(0, 2)), 1000).logits).toBeNull();
    expect(cache.read({ ...key('c'), trainingSet: 'other' }, 1000).logits).toBeNull();
    expect(cache.read({ ...key('c'), augmentation: 'pad4:seed1:epoch0' }, 1000).logits).toBeNull();
    expect(cache.read({ ...key('c'), backend: 'onnxruntime' }, 1000).logits).toBeNull();
    // An entry of the wrong length is discarded, not used.
    expect(cache.read(key('c'), 999)).toMatchObject({ logits: null, discarded: expect.stringMatching(/expected 999 logits, found 1000/) });
  });
});

describe('kdgpu logits', () => {
  it('writes the file --teacher-logits reads; distilling from it equals distilling from the teacher', async () => {
    // A teacher trained on the slice itself, so that both runs normalise the data alike (a logits
    // teacher's data is normalised with the training set's own statistics, as kdgpu train does).
    const teacher = join(dir, 'slice-teacher.safetensors');
    await kdgpu(['train', '--model', 'student-cnn', '--dataset', 'idx', '--data-dir', dataDir, '--epochs', '1', '--batch', '64', '--no-progress', '--out', teacher]);
    const file = join(dir, 'slice-logits.safetensors');
    const { stdout } = await kdgpu(['logits', '--teacher', teacher, '--out', file]);
    const engine = await testEngine();
    expect(stdout).toMatch(new RegExp(`wrote .*slice-logits\\.safetensors: the logits of student-cnn .* "logits" \\[1200, 10\\] \\(train accuracy [\\d.]+%\\) and "test_logits" \\[300, 10\\] \\(test [\\d.]+%\\); computed by ${autoBackend(engine)}`));
    const read = readLogitsFile(readFileSync(file), file);
    expect(read.logits).toMatchObject({ rows: TRAIN_N, classes: 10, dtype: 'F32' });
    expect(read.testLogits).toMatchObject({ rows: TEST_N, classes: 10 });
    expect((await kdgpuFails(['logits', '--teacher', teacher, '--out', file])).out).toMatch(/--out .*slice-logits\.safetensors already exists: pass --overwrite/);

    const fromTeacher = await distillLines(engine, { teacher, cache: false, method: 'kd+lr' });
    const fromFile = await distillLines(engine, { teacherLogits: file, method: 'kd+lr' });
    expect(fromFile.text).toMatch(/distilling the logits in .*slice-logits\.safetensors \(1200×10 float32/);
    const strip = (r: typeof fromFile) => r.result.epochs.map(({ seconds, samplesPerSecond, ...t }) => t);
    expect(strip(fromFile)).toEqual(strip(fromTeacher));
    // An ensemble of mixed kinds: the checkpoint and its own logits file are one teacher, bit for bit.
    const mixed = await distillLines(engine, { teacher, moreTeachers: [file], cache: false, method: 'kd+lr' });
    expect(mixed.text).toMatch(/distilling an ensemble of 2 teachers \(mean of their probabilities at T\): student-cnn .*; the logits in .*slice-logits\.safetensors/);
    expect(strip(mixed)).toEqual(strip(fromTeacher));
  }, 600_000);
});
