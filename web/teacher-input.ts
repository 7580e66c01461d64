// The worker's teacher input: the teacher it holds, onnxruntime-web, an ONNX model's declared
// shape, and the ONNX feed with its errors in the Teacher panel's words.

import { DEFAULT_ONNX_INPUT, OptionError, type Model, type OrtModule } from '../src/index.browser.js';
import type { InputShape, OnnxFeed } from './protocol.js';

/** A teacher the page holds: a kdgpu model, or an ONNX model (its bytes: a session is made per run), its declared input, and the runtime. */
export type Teacher =
  | { format: 'kdgpu'; model: Model; hash: string; input: InputShape; normalisation: { mean: number[]; std: number[] } }
  | { format: 'onnx'; name: string; bytes: Uint8Array; hash: string; input: InputShape; ort: OrtModule };

/** The Teacher panel's names for the ONNX feed's options. */
export const TEACHER_PANEL: Record<string, string> = {
  onnxLayout: "the ONNX teacher's layout (Teacher panel)",
  onnxInputRange: "the ONNX teacher's pixel range (Teacher panel)",
  onnxMean: "the ONNX teacher's mean (Teacher panel)",
  onnxStd: "the ONNX teacher's std (Teacher panel)",
};

/** Run `f`; a bad option it reports is reworded with the Teacher panel's names. */
export async function inTeacherPanelWords<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof OptionError) throw new Error(e.describe((field) => TEACHER_PANEL[field] ?? field));
    throw e;
  }
}

export const DEFAULT_FEED: OnnxFeed = { layout: DEFAULT_ONNX_INPUT.layout, inputRange: DEFAULT_ONNX_INPUT.inputRange, mean: DEFAULT_ONNX_INPUT.mean, std: DEFAULT_ONNX_INPUT.std };

/** onnxruntime-web's wasm build (CPU, one thread: the page is not cross-origin isolated), its binary from the page's server. */
export async function loadOrtWeb(): Promise<OrtModule> {
  const ort = await import('onnxruntime-web/wasm');
  ort.env.wasm.wasmPaths = { wasm: new URL('/ort/ort-wasm-simd-threaded.wasm', location.href).href };
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  return ort as unknown as OrtModule;
}

/** An ONNX model's declared input as the page's InputShape (channels, height, width by layout; classes from the output). */
export function onnxShape(name: string, input: ReadonlyArray<number | string> | undefined, output: ReadonlyArray<number | string> | undefined): { shape: InputShape; layout: 'nchw' | 'nhwc' } {
  const fixed = (d: number | string | undefined): d is number => typeof d === 'number' && d > 0;
  const show = (dims: ReadonlyArray<number | string> | undefined) => (dims ? `[${dims.join(', ')}]` : 'none');
  if (!input || input.length !== 4 || !input.slice(1).every(fixed) || !output || output.length !== 2 || !fixed(output[1])) {
    throw new Error(
      `${name}: the page needs an ONNX model that declares its input as [batch, C, H, W] or [batch, H, W, C] and its output as [batch, classes], with fixed sizes; ` +
        `it declares input ${show(input)}, output ${show(output)} (the command line, kdgpu distill --teacher ${name}, runs it anyway)`,
    );
  }
  const [, a, b, c] = input as number[];
  // Channels first unless the last dimension looks like channels and the second does not.
  const nhwc = c <= 4 && a > 4;
  return { shape: nhwc ? { channels: c, height: a, width: b, classes: output[1] as number } : { channels: a, height: b, width: c, classes: output[1] as number }, layout: nhwc ? 'nhwc' : 'nchw' };
}
