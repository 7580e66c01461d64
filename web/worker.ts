// The dedicated worker that owns the WebGPU device: training, verify and bench run here, so the
// page's thread only draws. WebGPU is exposed in dedicated workers (Chromium 113+).

import { Runner } from './runner.js';
import type { FromWorker, ToWorker } from './protocol.js';

// The DOM lib types `self` as a Window; in a dedicated worker it is the worker's global scope.
const scope = self as unknown as {
  postMessage(message: FromWorker, transfer: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
};
const runner = new Runner((message, transfer) => scope.postMessage(message, transfer ?? []));
scope.onmessage = (event) => runner.handle(event.data);
