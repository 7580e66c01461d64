// What the page draws from its state: the charts, the adapter, the busy line, the runs table, the
// teacher view (β histogram and the samples the teacher gets wrong) and the errors box.

import { HistogramChart, METHOD_COLORS, MethodLineChart } from './charts.js';
import type { TeacherView } from './protocol.js';
import { methodParts } from '../src/index.browser.js';
import { $, el } from './dom.js';
import { className, runOf, state } from './state.js';

export const lossChart = new MethodLineChart($('chart-loss'), { xLabel: 'step', yLabel: 'training loss', format: (v) => v.toFixed(4) });
export const accChart = new MethodLineChart($('chart-acc'), { xLabel: 'epoch', yLabel: 'test accuracy', yRange: [0, 1], points: true, format: (v) => `${(100 * v).toFixed(2)}%` });
export const dtChart = new MethodLineChart($('chart-dt'), { xLabel: 'epoch', yLabel: '|Dt| (distilled samples)', points: true, format: (v) => v.toFixed(0) });
export const betaChart = new HistogramChart($('chart-beta'), 'β (label revision weight)');
export const keptChart = new HistogramChart($('chart-kept'), 'class', { yLabel: 'kept for distillation (%)', linear: true, xFormat: (x) => `${Math.round(x)}: ${className(Math.round(x))}` });

/** The methods' line charts, which a new run or Clear resets. */
export const lineCharts = [lossChart, accChart, dtChart];

/** Every chart's summary (what it plots), for the end-to-end test. */
export const chartSummaries = (): Record<string, unknown> => ({ loss: lossChart.summary(), accuracy: accChart.summary(), distilled: dtChart.summary(), beta: betaChart.summary(), kept: keptChart.summary() });

export function showError(job: string, message: string): void {
  state.errors.push(`${job}: ${message}`);
  const li = el('li', {}, `${job}: ${message}`);
  $('errors').prepend(li);
  $('errors-box').hidden = false;
}

/** No WebGPU here (no navigator.gpu, or no adapter): said in the adapter panel. */
export function renderNoWebGpu(reason: string): void {
  state.noWebGpu = reason;
  $('adapter').innerHTML = '';
  $('adapter').append(el('p', { class: 'bad' }, `No WebGPU: ${reason}`));
  document.body.classList.add('no-webgpu');
}

export function renderAdapter(): void {
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

export function renderBusy(): void {
  $('busy').textContent = state.busy > 0 ? `GPU busy (${state.busy} job${state.busy > 1 ? 's' : ''} queued or running)` : 'GPU idle';
  $('busy').className = state.busy > 0 ? 'busy' : '';
}

export function renderRuns(): void {
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

export function renderTeacherView(v: TeacherView): void {
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
