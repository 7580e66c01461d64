// The page's side of the worker: it starts the worker (or, with ?worker=0, the same Runner on this
// thread) and sends it jobs, counting those queued or running for the busy line.

import type { FromWorker, ToWorker } from './protocol.js';
import { $ } from './dom.js';
import { query, state } from './state.js';
import { renderBusy, showError } from './views.js';

type Send = (msg: ToWorker) => void;
/** A message to the worker that is not a job (stop). */
export let send: Send;

/** Starts the worker; its messages go to `onMessage`. */
export async function startWorker(onMessage: (msg: FromWorker) => void): Promise<void> {
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

export function job(msg: ToWorker): void {
  if (msg.type !== 'stop') state.busy++;
  renderBusy();
  send(msg);
}
