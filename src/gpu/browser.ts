// Browser: navigator.gpu, in a secure context (http://localhost counts).

import { engineFromAdapter } from './acquire.js';
import type { Engine, EngineOptions } from './engine.js';

export async function createBrowserEngine(options: EngineOptions = {}): Promise<Engine> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    throw new Error(
      'this browser has no WebGPU (navigator.gpu is missing): use a recent Chrome/Edge, or Chromium with --enable-unsafe-webgpu, on https or localhost',
    );
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('navigator.gpu.requestAdapter() returned no adapter: WebGPU is disabled or unsupported here');
  return engineFromAdapter(adapter, options);
}
