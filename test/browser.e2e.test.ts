// End to end in a real browser: Debian's Chromium (headless, WebGPU on SwiftShader), driven by
// playwright-core (no browser download), opens the demo served by scripts/serve-web.mjs, trains
// KD+LR+DS in the page's worker (and offers the student for download, safetensors and ONNX), runs
// the kernel benchmark and `verify`, and saves screenshots
// to test-artifacts/ (KDGPU_UPDATE_SCREENSHOT=1 also copies the last one to docs/web-screenshot.png).
//
// Needs `npm run build` (dist/web/) and the dataset-fashion-mnist package; the teacher is
// models/teacher-cnn.safetensors, or one trained here for a minute when that is not committed.
//
// Then the user's own data through the page's file inputs, small and synthetic (a bright block in
// a corner per class): IDX files (8×8 grey, 3 classes), CSV files (8×8, 4 classes, a header) and
// a folder of PNGs picked with the directory input (8×8 colour, 3 named classes). The committed
// 1×28×28 teacher does not fit them: the page says so naming both shapes, offers CE only, and CE
// trains above chance; a teacher checkpoint that fits (made here, untrained) enables distillation.
//
// Last, an ONNX teacher (the committed teacher exported) picked in the Teacher panel and run by
// onnxruntime-web in the worker, its wasm binary served by the page's own server.
//
// Page vs Node: after the page's run, the same run (the page's own parameters, the same rows of
// Fashion-MNIST, the same teacher, distill() with the options the page's worker builds) trains in
// this process on Dawn (npm `webgpu`), on the same adapter when both fall back to SwiftShader. Both
// samples/s figures and their ratio are logged and written to test-artifacts/page-vs-node.json
// with the CPU model; they are reported, never asserted (a verdict must not depend on the machine).

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { serveWeb, DEFAULT_DATA_DIR } from '../scripts/serve-web.mjs';
import { encodeCheckpoint } from '../src/io/checkpoint-bytes.js';
import { loadCheckpoint } from '../src/io/checkpoint-file.js';
import { onnxFromCheckpoint } from '../src/interop/onnx-export.js';
import { allIndices, createNodeEngine, distill, fashionMnistDataset, modelFromBytes, normalize, takeExamples } from '../src/index.node.js';
import { pageDistillOptions, type TrainParams } from '../web/protocol.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = process.env.KDGPU_CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts');
const COMMITTED_TEACHER = join(ROOT, 'models', 'teacher-cnn.safetensors');

// The run: 3 epochs of 100 steps (batch 64: 6,400 training samples, 1,000 held out for DS),
// tested on 1,000 images after every epoch. About a minute on SwiftShader.
const RUN = { method: 'kd+lr+ds', steps: 300, epochs: 3, batch: 64, val: 1000, pool: 8000, test: 1000, testEval: 1000 };

// Known-good on Debian 12's Chromium; the extra sets are tried when no adapter comes back.
const BASE_FLAGS = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--enable-unsafe-webgpu'];
const FALLBACK_FLAGS = [[], ['--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader'], ['--enable-features=Vulkan', '--use-angle=swiftshader']];

const DATA_DIR = process.env.KDGPU_DATA_DIR || DEFAULT_DATA_DIR;
const haveChromium = existsSync(CHROMIUM);
const haveData = existsSync(join(DATA_DIR, 'train-images-idx3-ubyte.gz'));

/** A training run's speed as the page reports it (and as the Node run below measures it the same way). */
interface RunSpeed {
  adapter: string;
  /** The last progress report's samples/s: the last epoch's training steps (with a loss read every 5 steps), evaluation excluded. */
  samplesPerSecond: number;
  /** Each epoch's samples/s (the page's epoch log shows them rounded to an integer). */
  perEpoch: number[];
  /** From the run's start to its end: teacher logits, training and evaluation (the page's also its teacher view). */
  seconds: number;
  steps: number;
  testAccuracyLast: number;
}

/**
 * The page's run (params: the page's own TrainParams) again in this process, through distill():
 * the first rows of Fashion-MNIST's train and test files, normalised with the teacher's
 * statistics, and the DistillOptions web/runner.ts builds from the same parameters.
 */
async function nodeRun(teacherFile: string, p: TrainParams): Promise<RunSpeed> {
  const engine = await createNodeEngine({ log: () => {} });
  try {
    const teacher = modelFromBytes(engine, new Uint8Array(readFileSync(teacherFile)), teacherFile, undefined, { state: false });
    const { mean, std } = teacher.config.normalisation!;
    const file = (f: string) => new Uint8Array(gunzipSync(readFileSync(join(DATA_DIR, f))));
    const trainPool = fashionMnistDataset('train', file('train-images-idx3-ubyte.gz'), file('train-labels-idx1-ubyte.gz'));
    const testPool = fashionMnistDataset('test', file('t10k-images-idx3-ubyte.gz'), file('t10k-labels-idx1-ubyte.gz'));
    // As web/runner.ts: `epochs` epochs of ceil(steps / epochs) steps, DS's validation rows on top.
    const stepsPerEpoch = Math.max(1, Math.ceil(p.steps / p.epochs));
    const subset = stepsPerEpoch * p.batch;
    const rows = subset + p.valSplit;
    const train = normalize(takeExamples(trainPool, allIndices(rows), `fashion-mnist/train[0:${rows}]#1`), mean, std);
    const test = normalize(takeExamples(testPool, allIndices(p.testCount), `fashion-mnist/test[0:${p.testCount}]#1`), mean, std);
    const options = pageDistillOptions(p, subset);
    let last = NaN;
    let steps = 0;
    const started = performance.now();
    const result = await distill(engine, { model: teacher.model, hash: teacher.hash }, { train, test }, options, {
      progressEvery: 5,
      onProgress: (q) => {
        last = q.samplesPerSecond;
        steps = (q.epoch - 1) * stepsPerEpoch + q.step;
      },
    });
    const seconds = (performance.now() - started) / 1000;
    result.student.store.destroy();
    teacher.model.store.destroy();
    return { adapter: engine.adapterName, samplesPerSecond: last, perEpoch: result.epochs.map((e) => e.samplesPerSecond), seconds, steps, testAccuracyLast: result.last };
  } finally {
    engine.destroy();
  }
}

type Demo = Window['kdgpuDemo'];

/** A seeded uniform generator in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x6d2b79f5) >>> 0;
    let t = x;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * n synthetic h×w images of c channels (HWC bytes) and their labels: dim noise, and a bright 3×3
 * block in the corner of the image's class (classes ≤ 4). Easy: a small CNN learns it in a few steps.
 */
function synthetic(n: number, classes: number, h: number, w: number, c: number, seed: number, labelOf?: (i: number) => number): { pixels: Uint8Array; labels: Uint8Array } {
  const rand = random(seed);
  const corners = [[1, 1], [1, w - 4], [h - 4, 1], [h - 4, w - 4]];
  const pixels = new Uint8Array(n * h * w * c);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = labelOf ? labelOf(i) : Math.floor(rand() * classes);
    labels[i] = k;
    const base = i * h * w * c;
    for (let j = 0; j < h * w * c; j++) pixels[base + j] = Math.floor(rand() * 60);
    const [y0, x0] = corners[k];
    for (let y = y0; y < y0 + 3; y++) for (let x = x0; x < x0 + 3; x++) for (let ch = 0; ch < c; ch++) pixels[base + (y * w + x) * c + ch] = 190 + Math.floor(rand() * 65);
  }
  return { pixels, labels };
}

/** An IDX file: magic 0x0000080D (unsigned bytes, D dimensions), the dimensions, the bytes. */
function idxBytes(dims: number[], data: Uint8Array): Buffer {
  const out = Buffer.alloc(4 + 4 * dims.length + data.length);
  out.writeUInt32BE(0x0800 | dims.length, 0);
  dims.forEach((d, i) => out.writeUInt32BE(d, 4 + 4 * i));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** A CSV file of grey images: a header, then a row per image (label, pixels 0-255). */
function csvText(d: { pixels: Uint8Array; labels: Uint8Array }, size: number): string {
  const header = ['label', ...Array.from({ length: size }, (_, i) => `p${i}`)].join(',');
  const rows = Array.from(d.labels, (y, i) => [y, ...d.pixels.subarray(i * size, (i + 1) * size)].join(','));
  return [header, ...rows].join('\n') + '\n';
}

/** A kdgpu checkpoint of an untrained student-cnn taking `input`: a teacher that fits such data (its predictions are noise). */
function randomTeacher(input: { channels: number; height: number; width: number; classes: number }): Buffer {
  const rand = random(7);
  const t = (shape: number[], scale: number) => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rand() * 2 - 1) * scale) });
  const { channels: c, height: h, width: w, classes } = input;
  const flat = 16 * Math.floor(h / 4) * Math.floor(w / 4);
  const tensors = new Map([
    ['conv1.weight', t([8, c, 3, 3], 0.5)],
    ['conv1.bias', t([8], 0)],
    ['conv2.weight', t([16, 8, 3, 3], 0.2)],
    ['conv2.bias', t([16], 0)],
    ['fc.weight', t([classes, flat], 0.2)],
    ['fc.bias', t([classes], 0)],
  ]);
  const config = { model: 'student-cnn', input, dataset: 'idx', normalisation: { mean: new Array(c).fill(0.25), std: new Array(c).fill(0.3) }, seed: 0 };
  return Buffer.from(encodeCheckpoint({ model: 'student-cnn', config, tensors }));
}

describe.skipIf(!haveChromium || !haveData)('browser demo (Chromium, WebGPU)', () => {
  let work: string;
  let teacherFile: string;
  let server: Awaited<ReturnType<typeof serveWeb>>['server'] | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  const pageErrors: string[] = [];
  /** Every request the page's server answered ("GET /path -> file"). */
  const serverLog: string[] = [];
  /** The page's KD+LR+DS run, for the Node run to repeat. */
  let pageRun: { params: Parameters<typeof nodeRun>[1]; speed: RunSpeed } | undefined;

  const demo = <T>(fn: (d: Demo) => T): Promise<T> => page.evaluate(`(${fn.toString()})(window.kdgpuDemo)`) as Promise<T>;

  beforeAll(async () => {
    for (const f of ['app.js', 'worker.js', 'app.css']) {
      if (!existsSync(join(ROOT, 'dist', 'web', f))) throw new Error(`dist/web/${f} is missing: run \`npm run build\` first`);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    work = mkdtempSync(join(tmpdir(), 'kdgpu-e2e-'));
    let teacher = COMMITTED_TEACHER;
    if (!existsSync(teacher)) {
      teacher = join(work, 'teacher-cnn.safetensors');
      execFileSync(
        process.execPath,
        [join(ROOT, 'bin', 'kdgpu.js'), 'train', '--model', 'teacher-cnn', '--epochs', '1', '--train-subset', '1000', '--out', teacher, '--no-progress'],
        { stdio: 'inherit', timeout: 240_000 },
      );
    }
    teacherFile = teacher;
    const served = await serveWeb({ port: 0, files: { '/e2e/teacher.safetensors': teacher }, log: (line) => serverLog.push(line) });
    server = served.server;

    // Launch with the first flag set under which the page gets an adapter.
    for (const extra of FALLBACK_FLAGS) {
      context = await chromium.launchPersistentContext(mkdtempSync(join(work, 'profile-')), {
        executablePath: CHROMIUM,
        headless: true,
        args: [...BASE_FLAGS, ...extra],
        viewport: { width: 1400, height: 1000 },
      });
      const probe = await context.newPage();
      await probe.goto(served.url + 'style.css');
      const ok = await probe.evaluate(async () => !!(await navigator.gpu?.requestAdapter()));
      await probe.close();
      if (ok) break;
      await context.close();
      context = undefined;
    }
    if (!context) throw new Error(`${CHROMIUM} gave the page no WebGPU adapter with any of the flag sets ${JSON.stringify(FALLBACK_FLAGS)} (plus ${BASE_FLAGS.join(' ')})`);
    page = await context.newPage();
    // Counts the GPU adapters the page's own thread asks for (the worker's are not seen here): training there would need one.
    await page.addInitScript(() => {
      const w = window as unknown as { pageThreadAdapters: number };
      w.pageThreadAdapters = 0;
      const gpu = navigator.gpu;
      if (!gpu) return;
      const request = gpu.requestAdapter.bind(gpu);
      gpu.requestAdapter = (options) => {
        w.pageThreadAdapters++;
        return request(options);
      };
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().includes('favicon')) pageErrors.push(m.text());
    });
    const q = new URLSearchParams({ teacher: '/e2e/teacher.safetensors', ...Object.fromEntries(Object.entries(RUN).map(([k, v]) => [k, String(v)])) });
    await page.goto(`${served.url}?${q}`);
    await page.waitForFunction(() => {
      const s = window.kdgpuDemo?.state;
      return !!s && ((!!s.teacher && !!s.data) || s.errors.length > 0 || !!s.noWebGpu);
    }, null, { timeout: 120_000, polling: 250 });
  }, 420_000);

  afterAll(async () => {
    await context?.close();
    server?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('shows the adapter and loads the teacher and the data', async () => {
    const s = await demo((d) => ({ adapter: d.state.adapter, noWebGpu: d.state.noWebGpu, teacher: d.state.teacher, data: d.state.data, errors: d.state.errors }));
    expect(s.errors).toEqual([]);
    expect(s.noWebGpu).toBeNull();
    expect(s.adapter?.name).toBeTruthy();
    expect(await page.locator('#adapter-name').textContent()).toBe(s.adapter!.name);
    expect(s.teacher?.model).toBe('teacher-cnn');
    expect(s.data).toMatchObject({ trainCount: RUN.pool, testCount: RUN.test });
  });

  it('trains KD+LR+DS in the worker with live charts while the page stays responsive', async () => {
    await page.check(`input[name=method][value="${RUN.method}"]`);
    await demo((d) => d.resetPulse());
    const framesBefore = await demo((d) => d.pulse.frames);
    await page.click('#train');
    await page.waitForFunction(() => {
      const s = window.kdgpuDemo.state;
      return s.runs.some((r) => r.status !== 'running') || s.errors.length > 0;
    }, null, { timeout: 300_000, polling: 1000 });
    await page.waitForTimeout(300); // the last chart redraw is queued on an animation frame
    const s = await demo((d) => ({ runs: d.state.runs, errors: d.state.errors, charts: d.charts(), pulse: { ...d.pulse } }));
    expect(s.errors).toEqual([]);
    const run = s.runs[0];
    console.log(`browser e2e: ${run.method} ${run.steps} steps in ${run.seconds.toFixed(0)} s, ${run.samplesPerSecond.toFixed(0)} samples/s, test accuracy last ${(100 * run.last).toFixed(2)}% best ${(100 * run.best).toFixed(2)}%; page thread: longest event-loop delay ${s.pulse.maxTimerLagMs.toFixed(0)} ms`);
    expect(run).toMatchObject({ method: RUN.method, status: 'done', epochs: RUN.epochs, steps: RUN.steps });
    // Chance is 10%; a few hundred steps of a small CNN on Fashion-MNIST reach far above it.
    expect(run.last).toBeGreaterThan(0.4);
    // Each epoch's samples/s, from the page's epoch log (newest first, rounded).
    const perEpoch = await page.evaluate(() =>
      Array.from(document.querySelectorAll('#epoch-log li'))
        .map((li) => /epoch (\d+):.*, (\d+) samples\/s$/.exec(li.textContent ?? ''))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [Number(m[1]), Number(m[2])] as const)
        .sort((a, b) => a[0] - b[0])
        .map((e) => e[1]),
    );
    const adapter = await demo((d) => d.state.adapter?.name ?? '');
    pageRun = { params: run.params, speed: { adapter, samplesPerSecond: run.samplesPerSecond, perEpoch, seconds: run.seconds, steps: run.steps, testAccuracyLast: run.last } };

    // Charts: one series each, a point per progress report / epoch, and ink on their canvases.
    expect(s.charts).toMatchObject({ loss: { series: 1 }, accuracy: { series: 1, points: RUN.epochs }, distilled: { series: 1, points: RUN.epochs }, beta: { bins: 20 }, kept: { bins: 10 } });
    // The selection's bar chart: ten classes, each kept at the ratio (class balance, default 0.7).
    expect((s.charts.kept as { total: number }).total).toBeGreaterThan(10 * 60);
    expect((s.charts.kept as { total: number }).total).toBeLessThan(10 * 80);
    expect((s.charts.loss as { points: number }).points).toBeGreaterThanOrEqual(RUN.steps / 20);
    expect((s.charts.beta as { total: number }).total).toBe((RUN.steps / RUN.epochs) * RUN.batch);
    const inked = await page.evaluate(() =>
      Array.from(document.querySelectorAll<HTMLCanvasElement>('#charts canvas')).map((c) => {
        const px = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
        return n;
      }),
    );
    expect(inked).toHaveLength(5); // loss, test accuracy, β, |Dt|, kept per class
    for (const n of inked) expect(n).toBeGreaterThan(500);
    // The grid of samples the teacher gets wrong (a weak teacher has many), drawn on canvases.
    expect(await page.locator('#samples canvas.digit').count()).toBeGreaterThan(0);

    // The student, offered for download as a kdgpu checkpoint and as ONNX (the exporter of `kdgpu export`).
    const student = await demo((d) => d.state.student);
    expect(student).toMatchObject({ runId: run.runId, model: 'student-cnn', method: RUN.method });
    expect(student!.onnxOperators).toEqual(expect.arrayContaining(['Conv', 'Gemm', 'MaxPool', 'Relu', 'Sub', 'Div']));
    const links = await page.evaluate(async () =>
      Promise.all(['download-onnx', 'download-safetensors'].map(async (id) => {
        const a = document.getElementById(id) as HTMLAnchorElement;
        return { download: a.download, bytes: (await (await fetch(a.href)).arrayBuffer()).byteLength, visible: !a.closest('[hidden]') };
      })),
    );
    expect(links[0]).toEqual({ download: 'student-cnn-kd-lr-ds.onnx', bytes: student!.onnxBytes, visible: true });
    expect(links[1]).toEqual({ download: 'student-cnn-kd-lr-ds.safetensors', bytes: student!.safetensorsBytes, visible: true });

    // Every kernel ran in the worker: the page's thread never asked for a GPU adapter, and it kept
    // drawing frames meanwhile. (Its timers' lag is printed above, not judged: it measures the
    // machine's load as much as the page.)
    expect(await page.evaluate(() => (window as unknown as { pageThreadAdapters: number }).pageThreadAdapters)).toBe(0);
    expect(s.pulse.frames).toBeGreaterThan(framesBefore);
    await page.screenshot({ path: join(ARTIFACTS, 'browser-train.png'), fullPage: true });
  }, 330_000);

  it('trains the same run in Node (Dawn) and reports page vs Node samples/s', async () => {
    // After the page's run has ended (the page is idle now): the two never share the CPU.
    expect(pageRun, 'the page run did not finish').toBeDefined();
    const pageSpeed = pageRun!.speed;
    const node = await nodeRun(teacherFile, pageRun!.params);
    const ratio = pageSpeed.samplesPerSecond / node.samplesPerSecond;
    const cpu = cpus();
    const report = {
      date: new Date().toISOString(),
      cpu: { model: cpu[0]?.model ?? 'unknown', cores: cpu.length },
      chromium: CHROMIUM,
      run: pageRun!.params,
      measure: 'samples/s of the last epoch\'s training steps (the last progress report), evaluation excluded',
      page: pageSpeed,
      node,
      ratioPageOverNode: ratio,
      perEpochRatioPageOverNode: pageSpeed.perEpoch.map((v, i) => v / node.perEpoch[i]),
    };
    writeFileSync(join(ARTIFACTS, 'page-vs-node.json'), JSON.stringify(report, null, 2) + '\n');
    const epochs = (v: number[]) => v.map((x) => x.toFixed(0)).join(' / ');
    console.log(
      `page vs Node, ${pageRun!.params.method} ${pageRun!.params.steps} steps of batch ${pageRun!.params.batch} on ${report.cpu.model} (${report.cpu.cores} cores):\n` +
        `  page (Chromium worker, ${pageSpeed.adapter}): ${pageSpeed.samplesPerSecond.toFixed(0)} samples/s in the last epoch (per epoch ${epochs(pageSpeed.perEpoch)}), ${pageSpeed.seconds.toFixed(1)} s in all, test accuracy ${(100 * pageSpeed.testAccuracyLast).toFixed(2)}%\n` +
        `  Node (Dawn, ${node.adapter}): ${node.samplesPerSecond.toFixed(0)} samples/s in the last epoch (per epoch ${epochs(node.perEpoch)}), ${node.seconds.toFixed(1)} s in all, test accuracy ${(100 * node.testAccuracyLast).toFixed(2)}%\n` +
        `  page / Node: ${ratio.toFixed(2)} (written to test-artifacts/page-vs-node.json)`,
    );
    // Both runs finished the same work and measured something; the figures themselves are not judged.
    expect(node.steps).toBe(pageSpeed.steps);
    expect(node.perEpoch).toHaveLength(pageRun!.params.epochs);
    for (const v of [pageSpeed.samplesPerSecond, node.samplesPerSecond, ratio, ...node.perEpoch]) {
      expect(Number.isFinite(v) && v > 0).toBe(true);
    }
  }, 330_000);

  it('runs the kernel benchmark', async () => {
    await page.click('#bench');
    await page.waitForFunction(() => window.kdgpuDemo.state.bench.done || window.kdgpuDemo.state.errors.length > 0, null, { timeout: 120_000, polling: 500 });
    const b = await demo((d) => ({ bench: d.state.bench, errors: d.state.errors }));
    expect(b.errors).toEqual([]);
    expect(b.bench.rows.length).toBeGreaterThan(0);
    expect(b.bench.fmaGflops).toBeGreaterThan(0);
    console.log(
      `browser kernel bench (${b.bench.adapter}): FMA ${b.bench.fmaGflops.toFixed(2)} GFLOP/s, copy ${b.bench.copyGBps.toFixed(2)} GB/s\n` +
        b.bench.rows.map((r) => `  ${r.name} ${r.shape}: ${r.ms.toFixed(3)} ms, ${r.rate.toFixed(2)} ${r.unit}, ${(100 * r.fractionOfCeiling).toFixed(1)}% of ceiling`).join('\n'),
    );
  }, 150_000);

  it('verifies every kernel against its reference in the browser', async () => {
    await page.click('#verify');
    const finished = await page
      .waitForFunction(() => window.kdgpuDemo.state.verify.done || window.kdgpuDemo.state.errors.length > 0, null, { timeout: 240_000, polling: 500 })
      .then(() => true)
      .catch(() => false);
    const v = await demo((d) => ({ verify: d.state.verify, errors: d.state.errors }));
    await page.screenshot({ path: join(ARTIFACTS, 'browser-e2e.png'), fullPage: true });
    if (process.env.KDGPU_UPDATE_SCREENSHOT === '1') {
      mkdirSync(join(ROOT, 'docs'), { recursive: true });
      copyFileSync(join(ARTIFACTS, 'browser-e2e.png'), join(ROOT, 'docs', 'web-screenshot.png'));
    }
    expect(finished, `verify did not finish in 240 s: ${v.verify.rows} rows done, the last one ${v.verify.last}`).toBe(true);
    expect(v.errors).toEqual([]);
    expect(v.verify.failures).toEqual([]);
    expect(v.verify.unverified).toEqual([]);
    expect(v.verify.passed).toBeGreaterThan(100);
    expect(pageErrors).toEqual([]);
  }, 270_000);
  // ---- the user's own data -------------------------------------------------------------------

  type RunRow = Demo['state']['runs'][number];

  /** Sets the run's size on the page, trains the checked method and waits for it to end. */
  async function trainOnPage(settings: { steps: number; epochs: number; batch: number; val: number; testEval: number }): Promise<RunRow> {
    for (const [id, v] of [['steps', settings.steps], ['epochs', settings.epochs], ['batch', settings.batch], ['val', settings.val], ['test-eval', settings.testEval]] as const) {
      await page.fill(`#${id}`, String(v));
    }
    const [runs, errors] = await demo((d) => [d.state.runs.length, d.state.errors.length]);
    await page.click('#train');
    await page.waitForFunction(
      ([n, e]) => {
        const s = window.kdgpuDemo.state;
        return (s.runs.length > n && s.runs[s.runs.length - 1].status !== 'running') || s.errors.length > e;
      },
      [runs, errors],
      { timeout: 120_000, polling: 250 },
    );
    const s = await demo((d) => ({ runs: d.state.runs, errors: d.state.errors }));
    expect(s.errors.slice(errors)).toEqual([]);
    return s.runs[s.runs.length - 1];
  }

  /** Waits for the next data set (or an error) after `act`, and returns the page's data state. */
  async function loadOnPage(act: () => Promise<void>): Promise<{ data: Demo['state']['data']; errors: string[]; status: string }> {
    const [loads, errors] = await demo((d) => [d.state.dataLoads, d.state.errors.length]);
    await act();
    await page.waitForFunction(([n, e]) => window.kdgpuDemo.state.dataLoads > n || window.kdgpuDemo.state.errors.length > e, [loads, errors], { timeout: 60_000, polling: 100 });
    return demo((d) => ({ data: d.state.data, errors: d.state.errors, status: document.getElementById('data-status')!.textContent ?? '' })).then((r) => ({ ...r, errors: r.errors.slice(errors) }));
  }

  const methodsEnabled = () => page.evaluate(() => Array.from(document.querySelectorAll<HTMLInputElement>('input[name=method]')).filter((i) => !i.disabled).map((i) => i.value));
  const checkedMethod = () => page.evaluate(() => document.querySelector<HTMLInputElement>('input[name=method]:checked')?.value);

  it('takes IDX files of another shape (8×8, 3 classes): refuses distillation with the 28×28 teacher, trains CE; a teacher that fits enables distillation', async () => {
    const train = synthetic(900, 3, 8, 8, 1, 11);
    const test = synthetic(150, 3, 8, 8, 1, 12);
    await page.selectOption('#data-kind', 'idx');
    const r = await loadOnPage(() =>
      page.setInputFiles('#data-files', [
        { name: 'train-images-idx3-ubyte.gz', mimeType: 'application/gzip', buffer: gzipSync(idxBytes([900, 8, 8], train.pixels)) },
        { name: 'train-labels-idx1-ubyte', mimeType: 'application/octet-stream', buffer: idxBytes([900], train.labels) },
        { name: 't10k-images-idx3-ubyte', mimeType: 'application/octet-stream', buffer: idxBytes([150, 8, 8], test.pixels) },
        { name: 't10k-labels-idx1-ubyte', mimeType: 'application/octet-stream', buffer: idxBytes([150], test.labels) },
      ]),
    );
    expect(r.errors).toEqual([]);
    expect(r.data).toMatchObject({ kind: 'idx', trainCount: 900, testCount: 150, channels: 1, height: 8, width: 8, numClasses: 3, classNames: null });
    expect(r.status).toContain('1×8×8, 3 classes');

    // The committed teacher takes 1×28×28: the page names both shapes and offers CE only.
    const compat = await page.locator('#compat').textContent();
    expect(compat).toContain('1×28×28, 10 classes');
    expect(compat).toContain('1×8×8, 3 classes');
    expect(await methodsEnabled()).toEqual(['ce']);
    expect(await checkedMethod()).toBe('ce');
    expect(await page.isDisabled('input[name=method][value="kd+lr+ds"]')).toBe(true);

    const run = await trainOnPage({ steps: 40, epochs: 2, batch: 32, val: 100, testEval: 150 });
    console.log(`browser e2e, IDX 8×8×1, 3 classes: CE ${run.steps} steps, test accuracy ${(100 * run.last).toFixed(1)}%`);
    expect(run).toMatchObject({ method: 'ce', status: 'done', epochs: 2, steps: 40 });
    expect(run.last).toBeGreaterThan(0.6); // chance: 1/3
    expect(await page.locator('#samples-note').textContent()).toContain('without a teacher');

    // A teacher checkpoint that takes 1×8×8 and predicts 3 classes: distillation is offered again.
    const teachers = await demo((d) => d.state.teacherLoads);
    await page.setInputFiles('#teacher-file', { name: 'teacher-8x8.safetensors', mimeType: 'application/octet-stream', buffer: randomTeacher({ channels: 1, height: 8, width: 8, classes: 3 }) });
    await page.waitForFunction((n) => window.kdgpuDemo.state.teacherLoads > n || window.kdgpuDemo.state.errors.length > 0, teachers, { timeout: 30_000, polling: 100 });
    expect(await demo((d) => ({ fits: d.state.compat.fits, input: d.state.teacher?.input, errors: d.state.errors }))).toEqual({ fits: true, input: { channels: 1, height: 8, width: 8, classes: 3 }, errors: [] });
    expect(await methodsEnabled()).toEqual(['ce', 'kd', 'kd+lr', 'kd+ds', 'kd+lr+ds']);
    expect(await checkedMethod()).toBe('kd+lr+ds'); // the method chosen before, restored
    await page.check('input[name=method][value="kd+lr"]');
    const kd = await trainOnPage({ steps: 20, epochs: 1, batch: 32, val: 100, testEval: 150 });
    expect(kd).toMatchObject({ method: 'kd+lr', status: 'done', steps: 20 });
    // The teacher view draws the 8×8 samples the (untrained) teacher gets wrong.
    const sizes = await page.evaluate(() => Array.from(document.querySelectorAll<HTMLCanvasElement>('#samples canvas.digit')).map((c) => `${c.width}x${c.height}`));
    expect(sizes.length).toBeGreaterThan(0);
    expect(new Set(sizes)).toEqual(new Set(['8x8']));
  }, 300_000);

  it('takes CSV files (header, 4 classes), showing a parser error with its file and line', async () => {
    const train = synthetic(700, 4, 8, 8, 1, 21);
    const test = synthetic(120, 4, 8, 8, 1, 22);
    await page.selectOption('#data-kind', 'csv');
    const bad = csvText(synthetic(3, 4, 8, 8, 1, 23), 64).split('\n');
    bad[3] = bad[3].replace(/^(\d+,\d+,\d+,)\d+/, '$1oops'); // line 4, column 4
    await page.setInputFiles('#csv-test', { name: 'test.csv', mimeType: 'text/csv', buffer: Buffer.from(csvText(test, 64)) });
    const refused = await loadOnPage(() => page.setInputFiles('#csv-train', { name: 'bad-train.csv', mimeType: 'text/csv', buffer: Buffer.from(bad.join('\n')) }));
    expect(refused.errors).toEqual(['load-data: bad-train.csv: line 4: column 4: expected a pixel value (a number), found "oops"']);
    expect(refused.status).toBe('bad-train.csv: line 4: column 4: expected a pixel value (a number), found "oops"');
    expect(await page.locator('#data-status').getAttribute('class')).toBe('bad');

    const r = await loadOnPage(() => page.setInputFiles('#csv-train', { name: 'train.csv', mimeType: 'text/csv', buffer: Buffer.from(csvText(train, 64)) }));
    expect(r.errors).toEqual([]);
    expect(r.data).toMatchObject({ kind: 'csv', trainCount: 700, testCount: 120, channels: 1, height: 8, width: 8, numClasses: 4 });
    // The 8×8 teacher of the last test predicts 3 classes, the data has 4.
    const compat = await page.locator('#compat').textContent();
    expect(compat).toContain('1×8×8, 3 classes');
    expect(compat).toContain('1×8×8, 4 classes');
    expect(await methodsEnabled()).toEqual(['ce']);
    const run = await trainOnPage({ steps: 40, epochs: 2, batch: 32, val: 60, testEval: 120 });
    console.log(`browser e2e, CSV 8×8, 4 classes: CE ${run.steps} steps, test accuracy ${(100 * run.last).toFixed(1)}%`);
    expect(run).toMatchObject({ method: 'ce', status: 'done', steps: 40 });
    expect(run.last).toBeGreaterThan(0.5); // chance: 1/4
  }, 240_000);

  it('takes a folder of PNG images picked with the directory input (colour, named classes)', async () => {
    // synthetic-pets/{train,test}/<class>/<n>.png, opaque RGBA PNGs (colour: every channel differs).
    const root = join(work, 'synthetic-pets');
    const names = ['stripe', 'circle', 'cross']; // folder order is sorted: circle, cross, stripe
    for (const [split, perClass, seed] of [['train', 80, 31], ['test', 20, 32]] as const) {
      names.forEach((name, k) => {
        const dir = join(root, split, name);
        mkdirSync(dir, { recursive: true });
        const imgs = synthetic(perClass, 3, 8, 8, 3, seed + 10 * k, () => k);
        for (let i = 0; i < perClass; i++) {
          const png = new PNG({ width: 8, height: 8 });
          for (let p = 0; p < 64; p++) png.data.set([...imgs.pixels.subarray((i * 64 + p) * 3, (i * 64 + p + 1) * 3), 255], 4 * p);
          writeFileSync(join(dir, `${String(i).padStart(3, '0')}.png`), PNG.sync.write(png));
        }
      });
    }
    writeFileSync(join(root, 'README.txt'), 'ignored: not in train/ or test/');
    await page.selectOption('#data-kind', 'folder');
    const r = await loadOnPage(() => page.setInputFiles('#data-folder', root));
    expect(r.errors).toEqual([]);
    expect(r.data).toMatchObject({ kind: 'folder', trainCount: 240, testCount: 60, channels: 3, height: 8, width: 8, numClasses: 3, classNames: ['circle', 'cross', 'stripe'] });
    expect(r.status).toContain('3×8×8, 3 classes: circle, cross, stripe');
    const compat = await page.locator('#compat').textContent();
    expect(compat).toContain('1×8×8, 3 classes');
    expect(compat).toContain('3×8×8, 3 classes');
    expect(await methodsEnabled()).toEqual(['ce']);
    const run = await trainOnPage({ steps: 20, epochs: 2, batch: 16, val: 40, testEval: 60 });
    console.log(`browser e2e, image folder 8×8×3, 3 classes: CE ${run.steps} steps, test accuracy ${(100 * run.last).toFixed(1)}%`);
    expect(run).toMatchObject({ method: 'ce', status: 'done', steps: 20 });
    expect(run.last).toBeGreaterThan(0.6); // chance: 1/3
    await page.screenshot({ path: join(ARTIFACTS, 'browser-own-data.png'), fullPage: true });
  }, 240_000);

  it('offers distillation again with the 28×28 teacher and Fashion-MNIST', async () => {
    await page.setInputFiles('#teacher-file', teacherFile);
    await page.selectOption('#data-kind', 'server');
    const r = await loadOnPage(() => page.click('#data-server'));
    expect(r.errors).toEqual([]);
    expect(r.data).toMatchObject({ kind: 'server', trainCount: RUN.pool, channels: 1, height: 28, width: 28, numClasses: 10 });
    await page.waitForFunction(() => window.kdgpuDemo.state.compat.fits === true && window.kdgpuDemo.state.busy === 0, null, { timeout: 30_000, polling: 100 });
    expect(await methodsEnabled()).toEqual(['ce', 'kd', 'kd+lr', 'kd+ds', 'kd+lr+ds']);
    expect(await checkedMethod()).toBe('kd+lr');
    expect(await page.locator('#compat').textContent()).toBe('');
    expect(pageErrors).toEqual([]);
  }, 120_000);
  it('distils from an ONNX teacher (the committed teacher, exported) run by onnxruntime-web, its wasm from the page\'s own server', async () => {
    const onnx = join(work, 'teacher-cnn.onnx');
    writeFileSync(onnx, onnxFromCheckpoint(await loadCheckpoint(teacherFile), teacherFile).bytes);
    const d = await demo((x) => x.state.data);
    if (d?.kind !== 'server') {
      await page.selectOption('#data-kind', 'server');
      expect((await loadOnPage(() => page.click('#data-server'))).errors).toEqual([]);
    }
    const [loads, errors] = await demo((x) => [x.state.teacherLoads, x.state.errors.length]);
    await page.setInputFiles('#teacher-file', onnx);
    await page.waitForFunction(([n, e]) => window.kdgpuDemo.state.teacherLoads > n || window.kdgpuDemo.state.errors.length > e, [loads, errors], { timeout: 120_000, polling: 250 });
    const t = await demo((x) => ({ teacher: x.state.teacher, errors: x.state.errors }));
    expect(t.errors.slice(errors)).toEqual([]);
    expect(t.teacher).toMatchObject({ format: 'onnx', model: 'ONNX model', input: { channels: 1, height: 28, width: 28, classes: 10 }, onnxInput: { name: 'input', declared: ['batch', 1, 28, 28], layout: 'nchw' } });
    expect(await page.isVisible('#onnx-options')).toBe(true);
    expect(await methodsEnabled()).toContain('kd+lr');
    await page.check('input[name=method][value="kd+lr"]');
    const run = await trainOnPage({ steps: 60, epochs: 1, batch: 32, val: 200, testEval: 500 });
    console.log(`browser e2e, ONNX teacher (onnxruntime-web): KD+LR ${run.steps} steps, test accuracy ${(100 * run.last).toFixed(1)}%`);
    expect(run).toMatchObject({ method: 'kd+lr', status: 'done', steps: 60 });
    expect(run.last).toBeGreaterThan(0.4); // chance: 1/10
    // The teacher view comes from the ONNX logits: the committed teacher gets a few percent wrong.
    const note = (await page.locator('#samples-note').textContent()) ?? '';
    const [wrong, total] = /^(\d+) of (\d+) training samples are misclassified/.exec(note)!.slice(1).map(Number);
    expect(total).toBe(60 * 32);
    expect(wrong / total).toBeGreaterThan(0);
    expect(wrong / total).toBeLessThan(0.2);
    // onnxruntime-web's wasm came from this server (this machine has no route to a CDN: the run shows nothing else was needed).
    expect(serverLog.some((l) => /^GET \/ort\/ort-wasm-simd-threaded\.wasm -> /.test(l))).toBe(true);
    expect(pageErrors).toEqual([]);
  }, 300_000);
});
