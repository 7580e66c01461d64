// What each message from the worker does: the state it updates (state.ts) and what it redraws.

import { METHOD_COLORS } from './charts.js';
import { describeShape, type DataKind, type FromWorker } from './protocol.js';
import { $, el } from './dom.js';
import { addBenchRow, addVerifyRow } from './kernel-tables.js';
import { className, dataShape, runOf, state } from './state.js';
import { accChart, dtChart, keptChart, lineCharts, lossChart, renderAdapter, renderBusy, renderNoWebGpu, renderRuns, renderTeacherView, showError } from './views.js';
import { autoLoad, renderCompat, updateDerived } from './controls.js';

export function onMessage(msg: FromWorker): void {
  switch (msg.type) {
    case 'adapter':
      state.adapter = msg.adapter;
      renderAdapter();
      autoLoad();
      break;
    case 'no-webgpu':
      renderNoWebGpu(msg.reason);
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
      for (const c of lineCharts) c.reset(msg.params.method);
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

function listNames(names: readonly string[]): string {
  return names.length > 12 ? `${names.slice(0, 12).join(', ')}, … (${names.length})` : names.join(', ');
}
