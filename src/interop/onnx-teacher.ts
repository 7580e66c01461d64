// A teacher that is an ONNX model (trained anywhere): its logits for the samples a run trains on,
// computed once with onnxruntime in batches, then used exactly as a logits file is. The runtime
// is passed in (onnxruntime-node in Node, see onnx-node.ts; onnxruntime-web on a page), so this
// module imports none and bundles anywhere; the types below are the few members used.
//
// kdgpu's datasets hold normalised NCHW images; the model gets what it was trained on instead,
// described by options: the layout (NCHW or NHWC, or the same flattened for a [N, D] input), the
// pixel range (images in [0, 1], or times 255), then (x − mean) / std per channel. The model's
// declared input shape is checked against the data's before anything runs, and a dimension fixed
// in the model (a batch of 1, say) is honoured.

import { inputTable, inputValues, type Dataset } from '../data/dataset.js';
import { OptionError } from '../util/option-error.js';
import { logitsAgreement, refuseChanceTeacher, type LogitsAgreement } from './logits-file.js';

/** The members of an onnxruntime tensor used here. */
export interface OrtTensorLike {
  readonly dims: readonly number[];
  readonly type: string;
  readonly data: unknown;
}

export interface OrtValueMetadataLike {
  readonly name: string;
  readonly isTensor: boolean;
  readonly type?: string;
  readonly shape?: ReadonlyArray<number | string>;
}

/** The members of an onnxruntime InferenceSession used here. */
export interface OrtSessionLike {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputMetadata?: readonly OrtValueMetadataLike[];
  run(feeds: Record<string, unknown>): Promise<Record<string, OrtTensorLike>>;
  release?(): Promise<void>;
}

/** What kdgpu needs of an onnxruntime module (onnxruntime-node's or onnxruntime-web's exports). */
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSessionLike> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
}

export const ONNX_LAYOUTS = ['nchw', 'nhwc'] as const;
export type OnnxLayout = (typeof ONNX_LAYOUTS)[number];

/** How kdgpu feeds an ONNX teacher. */
export interface OnnxInputOptions {
  layout: OnnxLayout;
  /** The images' pixels in [0, 1] are multiplied by this first: 1, or 255 for a model trained on 0-255. */
  inputRange: number;
  /** Then (x − mean[c]) / std[c]: one value per channel, or one for all. */
  mean: number[];
  std: number[];
  /** Samples per run() (a batch dimension fixed in the model wins). */
  batchSize: number;
}

export const DEFAULT_ONNX_INPUT: OnnxInputOptions = { layout: 'nchw', inputRange: 1, mean: [0], std: [1], batchSize: 256 };

export interface OnnxTeacherLogits {
  /** data.n × classes; rows not asked for hold zeros. */
  logits: Float32Array;
  classes: number;
  input: { name: string; declared: Array<number | string> | null };
  output: string;
}

const perChannel = (v: number[], channels: number, field: string): number[] => {
  if (v.length === 1) return new Array<number>(channels).fill(v[0]);
  if (v.length !== channels) throw new OptionError(field, v, (name) => `${name(field)}: ${v.length} values for ${channels} channel(s): give one per channel, or one for all`);
  return v;
};

/** The declared input shape against the data's images in `layout`: an error naming both, or nothing. */
export function checkOnnxInput(fileName: string, name: string, declared: ReadonlyArray<number | string>, data: { channels: number; height: number; width: number }, layout: OnnxLayout): void {
  const { channels: C, height: H, width: W } = data;
  const fixed = (d: number | string) => typeof d === 'number' && d > 0;
  const show = `[${declared.map((d) => (fixed(d) ? d : typeof d === 'string' && d ? d : '?')).join(', ')}]`;
  const images = `the data's images are ${C}×${H}×${W} (channels × height × width)`;
  if (declared.length === 4) {
    const want = layout === 'nchw' ? [C, H, W] : [H, W, C];
    if (declared.slice(1).every((d, i) => !fixed(d) || d === want[i])) return;
    const other = layout === 'nchw' ? [H, W, C] : [C, H, W];
    const fits = declared.slice(1).every((d, i) => !fixed(d) || d === other[i]);
    throw new OptionError('onnxLayout', layout, (option) => `${fileName}: input "${name}" is declared ${show}; ${images}, fed as [batch, ${want.join(', ')}] with ${option('onnxLayout')} ${layout}${fits ? `; it fits ${option('onnxLayout')} ${layout === 'nchw' ? 'nhwc' : 'nchw'}` : ''}`);
  }
  if (declared.length === 2) {
    if (!fixed(declared[1]) || declared[1] === C * H * W) return;
    throw new Error(`${fileName}: input "${name}" is declared ${show}; ${images}, ${C * H * W} values each when flattened`);
  }
  throw new Error(`${fileName}: input "${name}" is declared ${show}: kdgpu feeds images as [batch, C, H, W] or [batch, H, W, C] (the input layout), or flattened as [batch, C·H·W]`);
}

/**
 * The teacher's logits for `rows` of `data` (whose images were normalised with `dataNorm`),
 * placed at their dataset positions. Errors name the file, the input or output and what was expected.
 */
export async function onnxTeacherLogits(
  ort: OrtModule,
  model: Uint8Array,
  fileName: string,
  data: Dataset,
  dataNorm: { mean: number[]; std: number[] },
  rows: ArrayLike<number>,
  o: OnnxInputOptions,
  onBatch?: (done: number, total: number) => void,
): Promise<OnnxTeacherLogits> {
  const { channels: C, height: H, width: W } = data;
  const mean = perChannel(o.mean, C, 'onnxMean');
  const std = perChannel(o.std, C, 'onnxStd');
  let session: OrtSessionLike;
  try {
    session = await ort.InferenceSession.create(model, { logSeverityLevel: 3 });
  } catch (e) {
    throw new Error(`${fileName}: onnxruntime could not load the model: ${(e as Error).message}`);
  }
  try {
    if (session.inputNames.length !== 1) {
      throw new Error(`${fileName}: the model takes ${session.inputNames.length} inputs (${session.inputNames.map((n) => `"${n}"`).join(', ')}); an ONNX teacher takes one, the images`);
    }
    const inputName = session.inputNames[0];
    const outputName = session.outputNames[0];
    const meta = session.inputMetadata?.find((m) => m.name === inputName);
    let declared: Array<number | string> | null = null;
    let batchSize = o.batchSize;
    let rank = 4;
    if (meta?.isTensor) {
      if (meta.type && meta.type !== 'float32') throw new Error(`${fileName}: input "${inputName}" is ${meta.type}; kdgpu feeds float32 images`);
      if (meta.shape && meta.shape.length > 0) {
        declared = [...meta.shape];
        checkOnnxInput(fileName, inputName, declared, data, o.layout);
        rank = declared.length;
        const b = declared[0];
        if (typeof b === 'number' && b > 0) batchSize = b;
      }
    }
    const size = C * H * W;
    const plane = H * W;
    const n = rows.length;
    const batch = new Float32Array(batchSize * size);
    // The model's input a batch at a time (bytes become floats per chunk, never the whole set).
    const inputs = new Float32Array(batchSize * size);
    const table = inputTable(data);
    const dims = rank === 2 ? [batchSize, size] : o.layout === 'nchw' ? [batchSize, C, H, W] : [batchSize, H, W, C];
    let logits: Float32Array | null = null;
    let classes = 0;
    for (let start = 0; start < n; start += batchSize) {
      const count = Math.min(batchSize, n - start);
      batch.fill(0);
      const chunk = Array.from({ length: count }, (_, i) => rows[start + i]);
      inputValues(data, chunk, inputs, 0, table);
      for (let i = 0; i < count; i++) {
        const src = inputs.subarray(i * size, (i + 1) * size);
        const dst = i * size;
        for (let c = 0; c < C; c++) {
          // Back to the pixel in [0, 1], then what the model was trained on.
          const a = (dataNorm.std[c] * o.inputRange) / std[c];
          const b = (dataNorm.mean[c] * o.inputRange - mean[c]) / std[c];
          for (let p = 0; p < plane; p++) {
            const v = src[c * plane + p] * a + b;
            batch[o.layout === 'nchw' ? dst + c * plane + p : dst + p * C + c] = v;
          }
        }
      }
      let result: Record<string, OrtTensorLike>;
      try {
        result = await session.run({ [inputName]: new ort.Tensor('float32', batch, dims) });
      } catch (e) {
        throw new Error(`${fileName}: onnxruntime failed on a batch of [${dims.join(', ')}] (layout ${o.layout}): ${(e as Error).message}`);
      }
      const out = result[outputName];
      if (!(out.data instanceof Float32Array)) throw new Error(`${fileName}: output "${outputName}" is ${out.type}; a teacher's logits must be float32`);
      const per = out.data.length / batchSize;
      if (out.dims[0] !== batchSize || !Number.isInteger(per) || out.dims.slice(1).reduce((a, d) => a * d, 1) !== per) {
        throw new Error(`${fileName}: output "${outputName}" is [${out.dims.join(', ')}] for a batch of ${batchSize}; a teacher's logits are [batch, classes]`);
      }
      if (!logits) {
        classes = per;
        if (classes !== data.numClasses) throw new Error(`${fileName}: output "${outputName}" has ${classes} logits per sample ([${out.dims.join(', ')}]), the data has ${data.numClasses} classes`);
        logits = new Float32Array(data.n * classes);
      }
      for (let i = 0; i < count; i++) logits.set(out.data.subarray(i * classes, (i + 1) * classes), rows[start + i] * classes);
      onBatch?.(start + count, n);
    }
    return { logits: logits ?? new Float32Array(0), classes: classes || data.numClasses, input: { name: inputName, declared }, output: outputName };
  } finally {
    await session.release?.().catch(() => {});
  }
}

/**
 * The one check of an ONNX teacher's logits (the command line's and the page's): its predictions
 * on `rows` must agree with their labels above chance, or it was fed wrongly (layout, pixel range,
 * mean, std). `hint` says what to check, in the caller's words; `refuse` false
 * (--no-teacher-check) keeps the teacher anyway. Returns the agreement, for the caller to report.
 */
export function checkOnnxTeacher(r: OnnxTeacherLogits, fileName: string, labels: ArrayLike<number>, rows: ArrayLike<number>, check: { hint: string; refuse?: boolean }): LogitsAgreement {
  const agreement = logitsAgreement(r.logits, r.classes, labels, rows);
  if (check.refuse ?? true) refuseChanceTeacher(agreement, `${fileName}: the ONNX teacher's predictions`, check.hint);
  return agreement;
}
