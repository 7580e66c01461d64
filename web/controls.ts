// The page's controls: the method picker and the training settings (from the URL query first),
// the buttons that send jobs, the Teacher and Data panels' inputs, and which methods the loaded
// teacher and data allow.

import { METHOD_COLORS } from './charts.js';
import { WEB_METHODS, describeShape, sameShape, type DataOptions, type DataSource, type OnnxFeed, type TrainParams, type WebMethod } from './protocol.js';
import { RUN_OPTIONS } from '../src/index.browser.js';
import { $, el } from './dom.js';
import { verifyByKernel } from './kernel-tables.js';
import { folderSource, pickIdxFiles, readDataOptions } from './pickers.js';
import { dataShape, num, query, state } from './state.js';
import { job, send } from './jobs.js';
import { lineCharts, renderRuns } from './views.js';

function bindSlider(id: string, initial: number): void {
  const input = $<HTMLInputElement>(id);
  const out = $(`${id}-value`);
  input.value = String(initial);
  const show = () => (out.textContent = input.value);
  input.addEventListener('input', show);
  show();
}

export function setupControls(): void {
  setupMethods();
  setupSettings();
  setupJobButtons();
  setupTeacherAndData();
}

/** The method picker: the query's method first, then the user's choice. */
function setupMethods(): void {
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
}

/** The training settings and the data's size, from the query or their defaults. */
function setupSettings(): void {
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
}

/** Train, Train all, Stop, Clear, Verify and Bench. */
function setupJobButtons(): void {
  $('train').addEventListener('click', () => {
    const params = readParams();
    job({ type: 'train', runId: ++runCounter, params });
  });
  $('train-all').addEventListener('click', () => {
    for (const method of state.compat.methods) job({ type: 'train', runId: ++runCounter, params: { ...readParams(), method } });
  });
  $('stop').addEventListener('click', () => send({ type: 'stop' }));
  $('clear').addEventListener('click', () => {
    for (const c of lineCharts) c.clear();
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
}

/** The Teacher panel's file input and the Data panel: the source's kind, then its files. */
function setupTeacherAndData(): void {
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
  // The files picked, as a data source or what is wrong with them.
  const onPicked = (id: string, toSource: (files: File[]) => DataSource | string) =>
    $(id).addEventListener('change', () => {
      const source = toSource(Array.from($<HTMLInputElement>(id).files ?? []));
      if (typeof source === 'string') dataProblem(source);
      else loadData(source);
    });
  onPicked('data-files', pickIdxFiles);
  // CSV: loads once both files are picked (again when either changes).
  const csv = () => {
    const train = $<HTMLInputElement>('csv-train').files?.[0];
    const test = $<HTMLInputElement>('csv-test').files?.[0];
    if (train && test) loadData({ kind: 'csv', train, test });
    else dataProblem(`pick the ${train ? 'test' : 'train'} CSV file too`);
  };
  $('csv-train').addEventListener('change', csv);
  $('csv-test').addEventListener('change', csv);
  onPicked('data-folder', folderSource);
}

function dataProblem(text: string): void {
  $('data-status').className = 'bad';
  $('data-status').textContent = text;
}

/** The run's size against the data loaded: training rows per epoch, DS's validation rows, what is there. */
export function updateDerived(): void {
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

/** The method the user chose last; restored when it is offered again. */
let preferredMethod: WebMethod = 'kd+lr+ds';

/**
 * Whether the teacher takes the data's input and predicts its classes. When it does not (or no
 * teacher is loaded), the page says so, naming both shapes, and offers CE only: distillation
 * needs a teacher that fits.
 */
export function renderCompat(): void {
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
export function autoLoad(): void {
  if (autoLoaded) return;
  autoLoaded = true;
  loadTeacher({ kind: 'url', url: teacherUrl });
  loadData({ kind: 'server', baseUrl: dataUrl });
}
