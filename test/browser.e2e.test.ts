// End to end in a real browser: Debian's Chromium (headless, WebGPU on SwiftShader), driven by
// playwright-core (no browser download), opens the demo served by scripts/serve-web.mjs, trains
// KD+LR+DS in the page's worker, runs the kernel benchmark and `verify`, and saves screenshots
// to test-artifacts/ (KDGPU_UPDATE_SCREENSHOT=1 also copies the last one to docs/web-screenshot.png).
//
// Needs `npm run build` (dist/web/) and the dataset-fashion-mnist package; the teacher is
// models/teacher-cnn.safetensors, or one trained here for a minute when that is not committed.

import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { serveWeb, DEFAULT_DATA_DIR } from '../scripts/serve-web.mjs';

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

const haveChromium = existsSync(CHROMIUM);
const haveData = existsSync(join(process.env.KDGPU_DATA_DIR ?? DEFAULT_DATA_DIR, 'train-images-idx3-ubyte.gz'));

type Demo = Window['kdgpuDemo'];

describe.skipIf(!haveChromium || !haveData)('browser demo (Chromium, WebGPU)', () => {
  let work: string;
  let server: Awaited<ReturnType<typeof serveWeb>>['server'] | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  const pageErrors: string[] = [];

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
    const served = await serveWeb({ port: 0, files: { '/e2e/teacher.safetensors': teacher } });
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
    expect(inked).toHaveLength(4);
    for (const n of inked) expect(n).toBeGreaterThan(500);
    // The grid of samples the teacher gets wrong (a weak teacher has many), drawn on canvases.
    expect(await page.locator('#samples canvas.digit').count()).toBeGreaterThan(0);

    // The page thread kept running: timers fired on time and frames were drawn.
    expect(s.pulse.maxTimerLagMs).toBeLessThan(1000);
    expect(s.pulse.frames).toBeGreaterThan(framesBefore);
    await page.screenshot({ path: join(ARTIFACTS, 'browser-train.png'), fullPage: true });
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
});
