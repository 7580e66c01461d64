// Node: onnxruntime-node, loaded only when an ONNX teacher is used. It is an optional peer
// dependency of kdgpu (its CPU binaries ship inside the npm package, ~300 MB unpacked), so users
// who never touch ONNX never download it; without it, the error says what to install.

import type { OrtModule } from './onnx-teacher.js';

const ONNXRUNTIME_NODE_MISSING =
  'an ONNX teacher needs onnxruntime-node, an optional peer dependency of kdgpu: run `npm install onnxruntime-node --ignore-scripts` ' +
  '(its CPU binaries ship inside the npm package; without --ignore-scripts its install script would fetch CUDA libraries from NuGet on linux x64)';

export async function loadOnnxRuntimeNode(): Promise<OrtModule> {
  let m: Record<string, unknown>;
  try {
    m = (await import('onnxruntime-node')) as unknown as Record<string, unknown>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new Error(ONNXRUNTIME_NODE_MISSING);
    throw new Error(`onnxruntime-node could not be loaded: ${(e as Error).message}`);
  }
  return ((m.InferenceSession ? m : m.default) ?? m) as unknown as OrtModule;
}
