// The demo page: controls, charts, tables and the sample grid. All GPU work happens in the worker
// (runner.ts); this thread only sends jobs and draws what comes back. Beside it: charts.ts (the
// charts), kernel-tables.ts (the Verify and Bench tables), pickers.ts (the Data panel's file
// pickers) and dom.ts (two DOM helpers).
//
// URL query (every one optional; the end-to-end test sets them):
//   teacher=URL        teacher checkpoint (default models/teacher-cnn.safetensors)
//   data=URL           folder with the four Fashion-MNIST IDX files (default /data/)
//   pool=N, test=N     training / test examples loaded at most (default 10000 / 2000)
//
// Data: Fashion-MNIST from the server, or the user's own (the Data panel's source): the four IDX
// files (any [N,H,W] or [N,H,W,C]), a train and a test CSV file, or a folder of images picked with
// a directory input (train/<class>/*.png|jpg, test/<class>/…, decoded in the worker by the
// browser). Shape and classes come from the data; when the teacher does not take them, the page
// names both shapes and offers CE only (trained without a teacher) until a teacher that fits is picked.
//   method, steps, epochs, batch, lr, eta, ratio, T, val, testEval, seed   initial training settings
//   verifyFilter=S     verify only kernels whose name contains S
//   worker=0           run the GPU work on the page's thread (browsers without WebGPU in workers)

import { HistogramChart, METHOD_COLORS, MethodLineChart } from './charts.js';
import {
  WEB_METHODS,
  describeShape,
  sameShape,
  type AdapterReport,
  type DataKind,
  type DataOptions,
  type DataSource,
  type FromWorker,
  type InputShape,
  type OnnxFeed,
  type TeacherView,
  type ToWorker,
  type TrainParams,
  type WebMethod,
} from './protocol.js';
import { methodParts, RUN_OPTIONS, type BenchRow } from '../src/index.browser.js';
import { $, el } from './dom.js';
import { addBenchRow, addVerifyRow, verifyByKernel } from './kernel-tables.js';
import { folderSource, pickIdxFiles, readDataOptions } from './pickers.js';

const query = new URLSearchParams(location.search);
const num = (name: string, fallback: number) => {
  const v = query.get(name);
  return v !== null && v !== '' && Number.isFinite(Number(v)) ? Number(v) : fallback;
};

/** What the page knows, readable by tests (window.kdgpuDemo). */
const state = {
  adapter: null as AdapterReport | null,
  noWebGpu: null as string | null,
  teacher: null as Extract<FromWorker, { type: 'teacher' }> | null,
  data: null as Extract<FromWorker, { type: 'data' }> | null,
  /** Whether the teacher fits the data (null: not known yet), what the page says about it, and the methods offered. */
  compat: { fits: null as boolean | null, text: '', methods: [...WEB_METHODS] as WebMethod[] },
  /** The data's class names by label (the labels as numbers when it has none). */
  classNames: [] as string[],
  /** Data sets and teachers loaded so far (tests wait for the next one). */
  dataLoads: 0,
  teacherLoads: 0,
  verify: { running: false, rows: 0, passed: 0, failed: 0, unverified: [] as string[], done: false, seconds: 0, last: '', failures: [] as string[] },
  bench: { running: false, rows: [] as BenchRow[], done: false, fmaGflops: 0, copyGBps: 0, adapter: '', seconds: 0 },
  runs: [] as Array<{ runId: number; method: WebMethod; params: TrainParams; status: string; best: number; last: number; epochs: number; steps: number; loss: number; seconds: number; samplesPerSecond: number }>,
  /** The last run's student, offered for download (kdgpu checkpoint and ONNX). */
  student: null as { runId: number; method: WebMethod; model: string; safetensorsBytes: number; onnxBytes: number; onnxOperators: string[]; onnxUrl: string; safetensorsUrl: string } | null,
  errors: [] as string[],
  busy: 0,
  frames: 0,
};

// ---- the worker ---------------------------------------------------------------------------

type Send = (msg: ToWorker) => void;
let send: Send;

async function startWorker(): Promise<void> {
  if (query.get('worker') === '0') {
    // Same code on this thread: for browsers that expose WebGPU to pages but not to workers.
    const { Runner } = await import('./runner.js');
    const runner = new Runner((msg) => queueMicrotask(() => onMessage(msg)));
    send = (msg) => runner.handle(msg);
    $('worker-mode').textContent = 'page thread (worker=0)';
  } else {
    const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    worker.onmessage = (e: MessageEvent<FromWorker>) => onMessage(e.data);
    worker.onerror = (e) => showError('worker', e.message || 'the worker failed to start');
    send = (msg) => worker.postMessage(msg);
    $('worker-mode').textContent = 'dedicated Web Worker';
  }
}

function job(msg: ToWorker): void {
  if (msg.type !== 'stop') state.busy++;
  renderBusy();
  send(msg);
}

// ---- charts ---------------------------------------------------------------------------------

const lossChart = new MethodLineChart($('chart-loss'), { xLabel: 'step', yLabel: 'training loss', format: (v) => v.toFixed(4) });
const accChart = new MethodLineChart($('chart-acc'), { xLabel: 'epoch', yLabel: 'test accuracy', yRange: [0, 1], points: true, format: (v) => `${(100 * v).toFixed(2)}%` });
const dtChart = new MethodLineChart($('chart-dt'), { xLabel: 'epoch', yLabel: '|Dt| (distilled samples)', points: true, format: (v) => v.toFixed(0) });
const betaChart = new HistogramChart($('chart-beta'), 'β (label revision weight)');
const className = (i: number) => state.classNames[i] ?? String(i);
const keptChart = new HistogramChart($('chart-kept'), 'class', { yLabel: 'kept for distillation (%)', linear: true, xFormat: (x) => `${Math.round(x)}: ${className(Math.round(x))}` });

// ---- messages -------------------------------------------------------------------------------

function onMessage(msg: FromWorker): void {
  switch (msg.type) {
    case 'adapter':
      state.adapter = msg.adapter;
      renderAdapter();
      autoLoad();
      break;
    case 'no-webgpu':
      state.noWebGpu = msg.reason;
      $('adapter').innerHTML = '';
      $('adapter').append(el('p', { class: 'bad' }, `No WebGPU: ${msg.reason}`));
      document.body.classList.add('no-webgpu');
      $('teacher-status').textContent = $('data-status').textContent = 'needs WebGPU';
      break;
    case 'status':
      $('run-status').textContent = msg.text;
      break;
    case 'error':
      showError(msg.job, msg.message);
      if (msg.job === 'load-teacher') {
        $('teacher-status').className = 'bad';
        $('teacher-status').textContent = `${msg.message}`;
        $('teacher-file').classList.add('attention');
      }
      if (msg.job === 'load-data') {
        $('data-status').className = 'bad';
        $('data-status').textContent = msg.message;
      }
      if (msg.job === 'train') {
        const run = state.runs.at(-1);
        if (run && run.status === 'running') run.status = 'failed';
        renderRuns();
      }
      if (msg.job === 'verify') state.verify.running = false;
      if (msg.job === 'bench') state.bench.running = false;
      break;
    case 'teacher':
      state.teacher = msg;
      state.teacherLoads++;
      $('teacher-status').className = 'ok';
      $('teacher-status').textContent =
        `${msg.model} from ${msg.source}: takes ${describeShape(msg.input)}${msg.onnxInput ? ` (input "${msg.onnxInput.name}" [${msg.onnxInput.declared.join(', ')}], run by onnxruntime-web)` : ''}; trained on ${msg.trainedOn}` +
        (msg.parameters !== null ? `; ${msg.parameters.toLocaleString('en-US')} parameters` : '') +
        (msg.testAccuracy !== null ? `, test accuracy ${(100 * msg.testAccuracy).toFixed(2)}%` : '') +
        `, sha256 ${msg.hash.slice(0, 12)}…`;
      $('teacher-file').classList.remove('attention');
      // An ONNX teacher's input: the layout it declares, pixels in [0, 1], no normalisation (what kdgpu export writes) until changed.
      $('onnx-options').hidden = msg.format !== 'onnx';
      if (msg.onnxInput) $<HTMLSelectElement>('onnx-layout').value = msg.onnxInput.layout;
      renderCompat();
      break;
    case 'data': {
      state.data = msg;
      state.dataLoads++;
      state.classNames = msg.classNames ?? Array.from({ length: msg.numClasses }, (_, i) => String(i));
      const count = (kept: number, total: number) => `${kept.toLocaleString('en-US')}${total > kept ? ` of ${total.toLocaleString('en-US')}` : ''}`;
      const names = msg.classNames ? `: ${listNames(msg.classNames)}` : ' (labels 0–' + (msg.numClasses - 1) + ')';
      $('data-status').className = 'ok';
      $('data-status').textContent =
        `${count(msg.trainCount, msg.trainTotal)} training and ${count(msg.testCount, msg.testTotal)} test images of ${describeShape(dataShape(msg))}${names}; ` +
        `${SOURCE_WORDS[msg.kind]} ${msg.source} (${msg.seconds.toFixed(1)} s)`;
      renderCompat();
      updateDerived();
      break;
    }
    case 'data-status':
      $('data-status').className = '';
      $('data-status').textContent = msg.text;
      break;
    case 'verify-row':
      addVerifyRow(state.verify, msg.row);
      break;
    case 'verify-done': {
      Object.assign(state.verify, { running: false, done: true, passed: msg.passed, failed: msg.failed, unverified: msg.unverified, seconds: msg.seconds });
      const ok = msg.failed === 0 && msg.unverified.length === 0 && msg.passed > 0;
      const s = $('verify-summary');
      s.className = ok ? 'ok' : 'bad';
      s.textContent =
        `${msg.passed} passed, ${msg.failed} failed in ${msg.seconds.toFixed(1)} s (seed ${msg.seed})` +
        (msg.unverified.length ? `; defined but never verified: ${msg.unverified.join(', ')}` : '');
      break;
    }
    case 'bench-row':
      state.bench.rows.push(msg.row);
      addBenchRow(msg.row);
      break;
    case 'bench-done':
      Object.assign(state.bench, { running: false, done: true, fmaGflops: msg.result.fmaGflops, copyGBps: msg.result.copyGBps, adapter: msg.result.adapter, seconds: msg.seconds });
      $('bench-summary').textContent = `${msg.result.adapter}: ceilings FMA-bound ${msg.result.fmaGflops.toFixed(2)} GFLOP/s, copy ${msg.result.copyGBps.toFixed(2)} GB/s (read + write); ${msg.seconds.toFixed(1)} s`;
      break;
    case 'run-start': {
      const run = { runId: msg.runId, method: msg.params.method, params: msg.params, status: 'running', best: 0, last: 0, epochs: 0, steps: 0, loss: NaN, seconds: 0, samplesPerSecond: 0 };
      state.runs.push(run);
      for (const c of [lossChart, accChart, dtChart]) c.reset(msg.params.method);
      $('run-status').textContent = `${msg.params.method}: ${msg.params.epochs} epochs × ${msg.stepsPerEpoch} steps on ${msg.trainSamples} samples${msg.teacherFree ? ', without a teacher' : ''}`;
      if (msg.teacherFree) {
        $('samples').innerHTML = '';
        $('samples-note').textContent = `${msg.params.method.toUpperCase()} runs without a teacher (${state.teacher ? 'none fits the data' : 'none is loaded'}): no teacher view.`;
      }
      renderRuns();
      break;
    }
    case 'teacher-view':
      renderTeacherView(msg);
      break;
    case 'progress': {
      const run = runOf(msg.runId);
      if (run) Object.assign(run, { steps: msg.step, loss: msg.loss, samplesPerSecond: msg.samplesPerSecond });
      lossChart.push(msg.method, msg.step, msg.loss);
      $('run-status').textContent = `${msg.method}: epoch ${msg.epoch}, step ${msg.step}, loss ${msg.loss.toFixed(4)}, train accuracy ${(100 * msg.accuracy).toFixed(1)}%, ${msg.samplesPerSecond.toFixed(0)} samples/s`;
      renderRuns();
      break;
    }
    case 'epoch': {
      const t = msg.telemetry;
      const run = runOf(msg.runId);
      // "best" is the test accuracy at the epoch of best validation accuracy (never chosen on test).
      if (run) Object.assign(run, { epochs: t.epoch, last: t.testAccuracy, best: t.testAtBestVal });
      if (t.selection) {
        const s = t.selection;
        keptChart.set(-0.5, s.perClass.length - 0.5, s.perClass.map((c) => 100 * c.fraction), `${msg.method}: kept % per class after epoch ${s.afterEpoch}`, METHOD_COLORS[msg.method]);
        const perClass = s.perClass.length <= 20 ? `; kept per class: ${s.perClass.map((c, i) => `${className(i)} ${(100 * c.fraction).toFixed(0)}%`).join(', ')}` : '';
        $('kept-note').textContent = `|Dt| ${s.selected}/${s.candidates}; teacher error in Dt ${(100 * s.teacherErrorInside).toFixed(1)}%, outside ${(100 * s.teacherErrorOutside).toFixed(1)}%; ${s.changed} samples changed${perClass}`;
      }
      accChart.push(msg.method, t.epoch, t.testAccuracy);
      dtChart.push(msg.method, t.epoch, t.distilled);
      const teacherPart = msg.teacherFree
        ? 'no teacher'
        : `teacher train error ${(100 * t.teacherTrainError).toFixed(1)}%, LR changed ${t.lrChanged}, β median ${t.betaQuantiles[2].toFixed(3)}`;
      $('epoch-log').prepend(
        el('li', {}, `${msg.method} epoch ${t.epoch}: test ${(100 * t.testAccuracy).toFixed(2)}%${t.valAccuracy === null ? '' : `, validation ${(100 * t.valAccuracy).toFixed(2)}%`}, train loss ${t.trainLoss.toFixed(4)}, ${teacherPart}, |Dt| ${t.distilled}/${t.trainSamples}, ${t.samplesPerSecond.toFixed(0)} samples/s`),
      );
      renderRuns();
      break;
    }
    case 'student': {
      // Blob URLs for the two downloads; the previous run's are released.
      if (state.student) for (const u of [state.student.onnxUrl, state.student.safetensorsUrl]) URL.revokeObjectURL(u);
      const onnxUrl = URL.createObjectURL(new Blob([msg.onnx as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
      const safetensorsUrl = URL.createObjectURL(new Blob([msg.safetensors as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
      state.student = { runId: msg.runId, method: msg.method, model: msg.model, safetensorsBytes: msg.safetensors.byteLength, onnxBytes: msg.onnx.byteLength, onnxOperators: msg.onnxOperators, onnxUrl, safetensorsUrl };
      const base = `${msg.model}-${msg.method.replace(/\+/g, '-')}`;
      const onnx = $<HTMLAnchorElement>('download-onnx');
      Object.assign(onnx, { href: onnxUrl, download: `${base}.onnx` });
      onnx.textContent = `ONNX (${base}.onnx, ${(msg.onnx.byteLength / 1024).toFixed(0)} KiB)`;
      const st = $<HTMLAnchorElement>('download-safetensors');
      Object.assign(st, { href: safetensorsUrl, download: `${base}.safetensors` });
      st.textContent = `kdgpu checkpoint (${base}.safetensors)`;
      $('student-note').textContent = `ONNX opset 13 (${msg.onnxOperators.join(', ')}): input [batch, C, H, W] float32 pixels in [0, 1], normalised in the graph; output logits. See docs/interop.md.`;
      $('student-downloads').hidden = false;
      break;
    }
    case 'run-done': {
      const run = runOf(msg.runId);
      if (run) Object.assign(run, { status: msg.stopped ? 'stopped' : 'done', best: msg.best, last: msg.last, seconds: msg.seconds });
      $('run-status').textContent = `${msg.method} ${msg.stopped ? 'stopped' : 'done'} in ${msg.seconds.toFixed(0)} s: test at best validation ${(100 * msg.best).toFixed(2)}%, last ${(100 * msg.last).toFixed(2)}%`;
      renderRuns();
      break;
    }
    case 'job-done':
      state.busy = Math.max(0, state.busy - 1);
      renderBusy();
      break;
  }
}

const SOURCE_WORDS: Record<DataKind, string> = { server: 'Fashion-MNIST from', idx: 'from the IDX files', csv: 'from the CSV files', folder: 'from the image folder' };

const runOf = (id: number) => state.runs.find((r) => r.runId === id);

function showError(job: string, message: string): void {
  state.errors.push(`${job}: ${message}`);
  const li = el('li', {}, `${job}: ${message}`);
  $('errors').prepend(li);
  $('errors-box').hidden = false;
}

// ---- rendering ------------------------------------------------------------------------------

function renderAdapter(): void {
  const a = state.adapter!;
  const box = $('adapter');
  box.innerHTML = '';
  const rows: Array<[string, string]> = [
    ['vendor', a.vendor || '–'],
    ['architecture', a.architecture || '–'],
    ['device', a.device || '–'],
    ['description', a.description || '–'],
    ['fallback (software) adapter', a.isFallbackAdapter || a.software ? 'yes: a CPU implementation such as SwiftShader; expect slow steps' : 'no'],
    ['max buffer / storage binding', `${(a.limits.maxBufferSize / 2 ** 20).toFixed(0)} MiB / ${(a.limits.maxStorageBufferBindingSize / 2 ** 20).toFixed(0)} MiB`],
    ['storage buffers per stage', String(a.limits.maxStorageBuffersPerShaderStage)],
  ];
  const dl = el('dl');
  for (const [k, v] of rows) dl.append(el('dt', {}, k), el('dd', {}, v));
  const features = el('details', {}, el('summary', {}, `${a.features.length} features`), el('p', { class: 'dim' }, a.features.join(', ') || '–'));
  box.append(el('p', { class: 'ok', id: 'adapter-name' }, a.name), dl, features);
}

function renderBusy(): void {
  $('busy').textContent = state.busy > 0 ? `GPU busy (${state.busy} job${state.busy > 1 ? 's' : ''} queued or running)` : 'GPU idle';
  $('busy').className = state.busy > 0 ? 'busy' : '';
}

function renderRuns(): void {
  const tbody = $('runs').querySelector('tbody')!;
  tbody.innerHTML = '';
  for (const r of [...state.runs].reverse()) {
    const p = r.params;
    const parts = methodParts(p.method);
    const settings = `T=${p.temperature}` + (parts.revise ? ` η=${p.eta}` : '') + (parts.select !== 'none' ? ` ratio=${p.dsRatio}` : '');
    const swatch = el('span', { class: 'swatch', style: `background:${METHOD_COLORS[r.method]}` });
    tbody.append(
      el(
        'tr',
        {},
        el('td', {}, swatch, r.method.toUpperCase()),
        el('td', {}, settings),
        el('td', {}, r.status),
        el('td', {}, `${r.epochs}/${p.epochs}`),
        el('td', {}, String(r.steps)),
        el('td', {}, Number.isFinite(r.loss) ? r.loss.toFixed(4) : '–'),
        el('td', {}, r.epochs ? `${(100 * r.last).toFixed(2)}%` : '–'),
        el('td', {}, r.epochs ? `${(100 * r.best).toFixed(2)}%` : '–'),
        el('td', {}, r.samplesPerSecond ? r.samplesPerSecond.toFixed(0) : '–'),
      ),
    );
  }
}

function renderTeacherView(v: TeacherView): void {
  const method = runOf(v.runId)?.method ?? 'kd+lr';
  betaChart.set(v.betaHistogram.lo, v.betaHistogram.hi, v.betaHistogram.counts, `samples (η=${v.eta}, T=${v.temperature})`, METHOD_COLORS[method]);
  const lrNote = methodParts(method).revise ? '' : ` (shown as LR would revise them; ${method.toUpperCase()} trains without LR)`;
  $('beta-note').textContent =
    `β over the ${v.trainSamples} training samples: ${v.betaAtEta} at β = η (teacher right), ${v.teacherWrong} below η (teacher wrong, β in (η/2, η))${lrNote}.`;
  const grid = $('samples');
  grid.innerHTML = '';
  $('samples-note').textContent = `${v.teacherWrong} of ${v.trainSamples} training samples are misclassified by the teacher; the first ${v.wrong.length}: true label, teacher's prediction (softmax, T = 1), revised target p = β·softmax(z/T) + (1 − β)·onehot(y) (argmax and its probability)${lrNote}.`;
  for (const s of v.wrong) {
    const canvas = el('canvas', { width: String(s.width), height: String(s.height), class: 'digit' }) as HTMLCanvasElement;
    const ctx = canvas.getContext('2d')!;
    const img = ctx.createImageData(s.width, s.height);
    const C = s.channels;
    for (let i = 0; i < s.width * s.height; i++) {
      const r = s.pixels[i * C];
      const g = C >= 3 ? s.pixels[i * C + 1] : r;
      const b = C >= 3 ? s.pixels[i * C + 2] : r;
      img.data.set([r, g, b, 255], i * 4);
    }
    ctx.putImageData(img, 0, 0);
    grid.append(
      el(
        'figure',
        { class: 'sample' },
        canvas,
        el(
          'figcaption',
          {},
          el('div', {}, el('b', {}, 'true '), v.classes[s.label]),
          el('div', { class: 'bad' }, el('b', {}, 'teacher '), `${v.classes[s.teacherClass]} ${(100 * s.teacherProb).toFixed(0)}%`),
          el('div', { class: 'ok' }, el('b', {}, 'revised '), `${v.classes[s.revisedClass]} ${(100 * s.revisedProb).toFixed(0)}%`, el('span', { class: 'dim' }, ` β=${s.beta.toFixed(2)}`)),
        ),
      ),
    );
  }
}

// ---- controls -------------------------------------------------------------------------------

function bindSlider(id: string, initial: number): void {
  const input = $<HTMLInputElement>(id);
  const out = $(`${id}-value`);
  input.value = String(initial);
  const show = () => (out.textContent = input.value);
  input.addEventListener('input', show);
  show();
}

function setupControls(): void {
  const methods = $('methods');
  const initialMethod = (WEB_METHODS as readonly string[]).includes(query.get('method') ?? '') ? (query.get('method') as WebMethod) : 'kd+lr+ds';
  preferredMethod = initialMethod;
  for (const m of WEB_METHODS) {
    const input = el('input', { type: 'radio', name: 'method', value: m, id: `method-${m}` }) as HTMLInputElement;
    input.checked = m === initialMethod;
    // The user's choice, restored when a teacher that fits makes it available again.
    input.addEventListener('change', () => {
      if (input.checked) preferredMethod = m;
    });
    methods.append(el('label', { for: `method-${m}`, class: 'method' }, input, el('span', { class: 'swatch', style: `background:${METHOD_COLORS[m]}` }), m.toUpperCase()));
  }
  // The method's defaults are the library's; the run's size (steps, batch, learning rate) is the page's, for short runs.
  bindSlider('eta', num('eta', RUN_OPTIONS.eta.default));
  bindSlider('ratio', num('ratio', RUN_OPTIONS.dsRatio.default));
  bindSlider('temperature', num('T', RUN_OPTIONS.temperature.default));
  const numbers: Array<[string, number]> = [
    ['steps', num('steps', 300)],
    ['epochs', num('epochs', 3)],
    ['batch', num('batch', 64)],
    ['lr', num('lr', 0.05)],
    ['val', num('val', 1000)],
    ['test-eval', num('testEval', Math.min(1000, num('test', 2000)))],
    ['seed', num('seed', 1)],
    ['pool', num('pool', 10000)],
    ['test-pool', num('test', 2000)],
  ];
  for (const [id, v] of numbers) $<HTMLInputElement>(id).value = String(v);
  for (const id of ['steps', 'epochs', 'batch', 'val', 'test-eval']) $(id).addEventListener('input', updateDerived);
  updateDerived();

  $('train').addEventListener('click', () => {
    const params = readParams();
    job({ type: 'train', runId: ++runCounter, params });
  });
  $('train-all').addEventListener('click', () => {
    for (const method of state.compat.methods) job({ type: 'train', runId: ++runCounter, params: { ...readParams(), method } });
  });
  $('stop').addEventListener('click', () => send({ type: 'stop' }));
  $('clear').addEventListener('click', () => {
    for (const c of [lossChart, accChart, dtChart]) c.clear();
    state.runs = [];
    renderRuns();
    $('epoch-log').innerHTML = '';
  });
  $('verify').addEventListener('click', () => {
    $('verify-table').querySelector('tbody')!.innerHTML = '';
    $('verify-kernels').querySelector('tbody')!.innerHTML = '';
    verifyByKernel.clear();
    Object.assign(state.verify, { running: true, done: false, rows: 0, passed: 0, failed: 0, unverified: [], last: '', failures: [] });
    $('verify-summary').className = '';
    $('verify-summary').textContent = 'running…';
    job({ type: 'verify', filter: query.get('verifyFilter') ?? undefined });
  });
  $('bench').addEventListener('click', () => {
    $('bench-table').querySelector('tbody')!.innerHTML = '';
    Object.assign(state.bench, { running: true, done: false, rows: [] });
    $('bench-summary').textContent = 'running…';
    job({ type: 'bench', quick: $<HTMLInputElement>('bench-quick').checked });
  });
  $('teacher-file').addEventListener('change', () => {
    const f = $<HTMLInputElement>('teacher-file').files?.[0];
    if (f) loadTeacher({ kind: 'file', file: f });
  });
  $('data-server').addEventListener('click', () => loadData({ kind: 'server', baseUrl: dataUrl }));
  // The data source: one section of controls per kind.
  const kind = $<HTMLSelectElement>('data-kind');
  const showKind = () => {
    for (const section of Array.from(document.querySelectorAll<HTMLElement>('#setup .source'))) section.hidden = section.dataset.kind !== kind.value;
    document.querySelector<HTMLElement>('#setup .source-options')!.hidden = kind.value === 'server';
  };
  kind.addEventListener('change', showKind);
  showKind();
  $('data-files').addEventListener('change', () => {
    const files = Array.from($<HTMLInputElement>('data-files').files ?? []);
    const source = pickIdxFiles(files);
    if (typeof source === 'string') dataProblem(source);
    else loadData(source);
  });
  // CSV: loads once both files are picked (again when either changes).
  const csv = () => {
    const train = $<HTMLInputElement>('csv-train').files?.[0];
    const test = $<HTMLInputElement>('csv-test').files?.[0];
    if (train && test) loadData({ kind: 'csv', train, test });
    else dataProblem(`pick the ${train ? 'test' : 'train'} CSV file too`);
  };
  $('csv-train').addEventListener('change', csv);
  $('csv-test').addEventListener('change', csv);
  $('data-folder').addEventListener('change', () => {
    const files = Array.from($<HTMLInputElement>('data-folder').files ?? []);
    const source = folderSource(files);
    if (typeof source === 'string') dataProblem(source);
    else loadData(source);
  });
}

function dataProblem(text: string): void {
  $('data-status').className = 'bad';
  $('data-status').textContent = text;
}

/** The run's size against the data loaded: training rows per epoch, DS's validation rows, what is there. */
function updateDerived(): void {
  const p = readParams();
  const perEpoch = Math.ceil(p.steps / p.epochs);
  const need = perEpoch * p.batch + p.valSplit;
  const d = state.data;
  const fits = !d || (need <= d.trainCount && p.testCount <= d.testCount);
  $('derived').className = fits ? 'dim' : 'bad';
  $('derived').textContent =
    `${p.epochs} epochs × ${perEpoch} steps: ${perEpoch * p.batch} training samples + ${p.valSplit} held out for validation (DS)` +
    (d ? `; ${d.trainCount} training and ${d.testCount} test images are loaded${fits ? '' : ': lower the steps, batch or validation rows, or load more'}` : '');
}

const dataShape = (d: { channels: number; height: number; width: number; numClasses: number }): InputShape => ({ channels: d.channels, height: d.height, width: d.width, classes: d.numClasses });

function listNames(names: readonly string[]): string {
  return names.length > 12 ? `${names.slice(0, 12).join(', ')}, … (${names.length})` : names.join(', ');
}

/** The method the user chose last; restored when it is offered again. */
let preferredMethod: WebMethod = 'kd+lr+ds';

/**
 * Whether the teacher takes the data's input and predicts its classes. When it does not (or no
 * teacher is loaded), the page says so, naming both shapes, and offers CE only: distillation
 * needs a teacher that fits.
 */
function renderCompat(): void {
  const d = state.data;
  const t = state.teacher;
  const note = $('compat');
  let methods: WebMethod[] = [...WEB_METHODS];
  if (!d) {
    state.compat = { fits: null, text: '', methods };
    note.className = 'dim';
    note.textContent = '';
  } else {
    const data = dataShape(d);
    const fits = !!t && sameShape(t.input, data);
    let text = '';
    if (!fits) {
      methods = ['ce'];
      text = t
        ? `The teacher (${t.model} from ${t.source}) takes ${describeShape(t.input)}; the data is ${describeShape(data)}. ` +
          'Distillation needs a teacher that fits the data: pick a checkpoint trained on it in the Teacher panel. Until then only CE, which needs no teacher, is offered.'
        : `No teacher is loaded; the data is ${describeShape(data)}. Only CE, which needs no teacher, is offered until a teacher that fits is loaded.`;
    } else if (t!.dataset !== (d.kind === 'server' ? 'fashion-mnist' : d.kind)) {
      text = `The teacher takes ${describeShape(data)} like the data, but was trained on ${t.trainedOn}: distilling on this data anyway.`;
    }
    state.compat = { fits, text, methods };
    note.className = fits ? 'dim' : 'bad';
    note.textContent = text;
  }
  for (const input of Array.from(document.querySelectorAll<HTMLInputElement>('input[name=method]'))) {
    const offered = methods.includes(input.value as WebMethod);
    input.disabled = !offered;
    input.parentElement!.classList.toggle('disabled', !offered);
    input.parentElement!.title = offered ? '' : 'needs a teacher that fits the data';
  }
  const checked = document.querySelector<HTMLInputElement>('input[name=method]:checked');
  const want = methods.includes(preferredMethod) ? preferredMethod : methods[0];
  if (!checked || checked.disabled || checked.value !== want) {
    const input = document.querySelector<HTMLInputElement>(`input[name=method][value="${want}"]`)!;
    input.checked = true;
  }
  const all = $<HTMLButtonElement>('train-all');
  all.textContent = methods.length === WEB_METHODS.length ? 'Train all five methods' : `Train ${methods.map((m) => m.toUpperCase()).join(', ')}`;
}

let runCounter = 0;
const teacherUrl = new URL(query.get('teacher') ?? 'models/teacher-cnn.safetensors', location.href).href;
const dataUrl = new URL(query.get('data') ?? '/data/', location.href).href;

function readParams(): TrainParams {
  const v = (id: string) => Number($<HTMLInputElement>(id).value);
  const method = (document.querySelector('input[name=method]:checked') as HTMLInputElement | null)?.value as WebMethod;
  return {
    method: method ?? 'kd+lr+ds',
    steps: Math.max(1, Math.round(v('steps'))),
    epochs: Math.max(1, Math.round(v('epochs'))),
    batch: Math.max(1, Math.round(v('batch'))),
    lr: v('lr'),
    temperature: v('temperature'),
    eta: v('eta'),
    dsRatio: v('ratio'),
    valSplit: Math.max(1, Math.round(v('val'))),
    testCount: Math.max(1, Math.round(v('test-eval'))),
    seed: Math.round(v('seed')),
    ...(state.teacher?.format === 'onnx' ? { onnx: readOnnxFeed() } : {}),
  };
}

/** The ONNX teacher's input options from the Teacher panel (the command line's --onnx-*). */
function readOnnxFeed(): OnnxFeed {
  // Checked by the worker, which names what is wrong.
  const list = (id: string, fallback: number) => {
    const text = $<HTMLInputElement>(id).value.trim();
    return text === '' ? [fallback] : text.split(',').map((x) => (x.trim() === '' ? NaN : Number(x)));
  };
  return {
    layout: $<HTMLSelectElement>('onnx-layout').value === 'nhwc' ? 'nhwc' : 'nchw',
    inputRange: Number($<HTMLSelectElement>('onnx-range').value),
    mean: list('onnx-mean', 0),
    std: list('onnx-std', 1),
  };
}

function loadTeacher(source: { kind: 'url'; url: string } | { kind: 'file'; file: File }): void {
  $('teacher-status').className = '';
  $('teacher-status').textContent = `loading ${source.kind === 'url' ? source.url : source.file.name}…`;
  job({ type: 'load-teacher', source });
}

function loadData(source: DataSource): void {
  let options: DataOptions = {};
  if (source.kind !== 'server') {
    try {
      options = readDataOptions(source.kind);
    } catch (e) {
      dataProblem((e as Error).message);
      return;
    }
  }
  $('data-status').className = '';
  $('data-status').textContent = 'loading…';
  const trainCount = Math.round(Number($<HTMLInputElement>('pool').value));
  const testCount = Math.round(Number($<HTMLInputElement>('test-pool').value));
  job({ type: 'load-data', source, trainCount, testCount, options });
}

let autoLoaded = false;
function autoLoad(): void {
  if (autoLoaded) return;
  autoLoaded = true;
  loadTeacher({ kind: 'url', url: teacherUrl });
  loadData({ kind: 'server', baseUrl: dataUrl });
}

/**
 * The page thread's pulse: frames drawn, and the longest delay of a 50 ms timer (event-loop lag).
 * Training runs in the worker, so the lag stays small while it trains (the test checks it).
 */
const pulse = { frames: 0, maxFrameGapMs: 0, maxTimerLagMs: 0 };
function heartbeat(): void {
  let lastFrame = performance.now();
  const tick = (now: number) => {
    pulse.frames++;
    state.frames = pulse.frames;
    pulse.maxFrameGapMs = Math.max(pulse.maxFrameGapMs, now - lastFrame);
    lastFrame = now;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  let expected = performance.now() + 50;
  setInterval(() => {
    const now = performance.now();
    pulse.maxTimerLagMs = Math.max(pulse.maxTimerLagMs, now - expected);
    expected = now + 50;
    $('heartbeat').textContent = `page thread: ${pulse.frames} frames drawn; longest event-loop delay ${pulse.maxTimerLagMs.toFixed(0)} ms, longest gap between frames ${pulse.maxFrameGapMs.toFixed(0)} ms`;
  }, 50);
}

declare global {
  interface Window {
    kdgpuDemo: { state: typeof state; pulse: typeof pulse; resetPulse: () => void; charts: () => Record<string, unknown> };
  }
}
window.kdgpuDemo = {
  state,
  pulse,
  resetPulse: () => Object.assign(pulse, { maxFrameGapMs: 0, maxTimerLagMs: 0 }),
  charts: () => ({ loss: lossChart.summary(), accuracy: accChart.summary(), distilled: dtChart.summary(), beta: betaChart.summary(), kept: keptChart.summary() }),
};

setupControls();
heartbeat();
renderBusy();
if (!('gpu' in navigator)) {
  state.noWebGpu = 'navigator.gpu is missing: this browser has no WebGPU. Use a recent Chrome or Edge (or Chromium with --enable-unsafe-webgpu) on https or localhost.';
  $('adapter').innerHTML = '';
  $('adapter').append(el('p', { class: 'bad' }, `No WebGPU: ${state.noWebGpu}`));
  document.body.classList.add('no-webgpu');
} else {
  await startWorker();
  job({ type: 'init' });
}
