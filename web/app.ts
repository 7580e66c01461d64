// The demo page's entry: it wires the modules below and starts the worker. All GPU work happens in
// the worker (runner.ts); this thread only sends jobs and draws what comes back:
//   state.ts     what the page knows (and the URL query)      jobs.ts      the worker, jobs sent to it
//   messages.ts  what each message from the worker does       controls.ts  the controls and panels
//   views.ts     the charts, tables and sample grid drawn      e2e.ts       window.kdgpuDemo, for tests
// and beside them charts.ts (the charts), kernel-tables.ts (the Verify and Bench tables), pickers.ts
// (the Data panel's file pickers) and dom.ts (two DOM helpers).
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

import { e2eHooks, heartbeat } from './e2e.js';
import { job, startWorker } from './jobs.js';
import { onMessage } from './messages.js';
import { setupControls } from './controls.js';
import { renderBusy, renderNoWebGpu } from './views.js';

e2eHooks();
setupControls();
heartbeat();
renderBusy();
if (!('gpu' in navigator)) {
  renderNoWebGpu('navigator.gpu is missing: this browser has no WebGPU. Use a recent Chrome or Edge (or Chromium with --enable-unsafe-webgpu) on https or localhost.');
} else {
  await startWorker(onMessage);
  job({ type: 'init' });
}
