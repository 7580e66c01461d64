// A kdgpu model as a standard ONNX graph (opset 13): the layers are walked in the order forward()
// runs them and each becomes the ONNX operator that computes the same thing in eval mode:
//
//   Conv2d        Conv (weight [O, I, k, k] as kdgpu stores it: OIHW), bias when the layer has one
//   Linear        Gemm with transB = 1 (weight [out, in], y = x·Wᵀ + b, as kdgpu's matmul)
//   BatchNorm2d   BatchNormalization with the running mean and variance (inference)
//   ReLU          Relu
//   MaxPool2d     MaxPool (no padding, floor)
//   GlobalAvgPool GlobalAveragePool, then Flatten
//   Flatten       Flatten (axis 1: kdgpu's tensors are NCHW, contiguous)
//   BasicBlock    main path, shortcut (or the input), Add, Relu
//
// The graph's input is `input` [batch, C, H, W] float32 and its output `logits` [batch, classes].
// With the normalisation in the graph (the default) the input is the image as kdgpu's readers
// produce it, pixels in [0, 1], and the first two nodes are Sub(mean) and Div(std) per channel;
// without it, the input is the normalised image (what kdgpu's forward() takes). Either way the
// model's metadata_props say which, with the mean, the std, the classes and their names
// (docs/interop.md). Fused kernels (conv + ReLU + pool) are a kdgpu implementation detail: the
// graph has the plain operators. A layer of another kind is refused, naming it.

import type { Checkpoint } from '../io/checkpoint-bytes.js';
import { requireLittleEndianHost } from '../io/safetensors.js';
import { checkModelConfig, refuseNonFinite, requireModelTensors, type ModelConfig } from '../nn/model-checkpoint.js';
import { BatchNorm2d, Conv2d, Flatten, GlobalAvgPool, Linear, MaxPool2d, Module, ReLU, Sequential } from '../nn/layers.js';
import { BasicBlock, modelLayers, type InputSpec, type Model } from '../nn/models.js';
import { ATTR, encodeOnnxModel, ONNX_FLOAT, type OnnxAttribute, type OnnxModel, type OnnxNode, type OnnxTensor } from './onnx-proto.js';

export const ONNX_OPSET = 13;
/** IR version 7 is the one opset 13 was released with; every runtime that runs opset 13 reads it. */
const ONNX_IR_VERSION = 7;

export interface OnnxExportOptions {
  /** The model's name (metadata and the graph's name). */
  name: string;
  input: InputSpec;
  /** Per-channel mean and std the model was trained with (a checkpoint's config.normalisation). */
  normalisation?: { mean: number[]; std: number[] };
  /** Put the normalisation into the graph (Sub, Div), so the input is pixels in [0, 1]. Default true when a normalisation is given. */
  normalisationInGraph?: boolean;
  classNames?: string[];
  /** More metadata_props (string values), e.g. the checkpoint's hash. */
  metadata?: Record<string, string>;
  producerVersion?: string;
}

/** What was written, for messages and --json. */
export interface OnnxExportSummary {
  model: string;
  opset: number;
  input: { name: string; shape: Array<number | string>; range: 'unit' | 'normalised' };
  output: { name: string; shape: Array<number | string> };
  normalisation: { mean: number[]; std: number[]; inGraph: boolean } | null;
  classNames: string[] | null;
  nodes: number;
  operators: string[];
  initializers: number;
  parameters: number;
  bytes: number;
}

type Weights = ReadonlyMap<string, { shape: number[]; data: Float32Array }>;

const ints = (name: string, v: number[]): OnnxAttribute => ({ name, type: ATTR.INTS, ints: v });
const int = (name: string, v: number): OnnxAttribute => ({ name, type: ATTR.INT, i: v });
const float = (name: string, v: number): OnnxAttribute => ({ name, type: ATTR.FLOAT, f: v });

function rawBytes(data: Float32Array): Uint8Array {
  requireLittleEndianHost('ONNX export', 'raw_data');
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
}

class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private used = new Set<string>();
  parameters = 0;

  constructor(private weights: Weights) {}

  /** A fresh value name based on `base`. */
  fresh(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  node(op: string, inputs: string[], name: string, attribute: OnnxAttribute[] = []): string {
    const out = this.fresh(name);
    this.nodes.push({ name: out, op_type: op, input: inputs, output: [out], attribute });
    return out;
  }

  constant(name: string, shape: number[], data: Float32Array): string {
    this.used.add(name);
    this.initializers.push({ name, dims: shape, data_type: ONNX_FLOAT, raw_data: rawBytes(data) });
    return name;
  }

  /** A parameter of the model as an initializer under its kdgpu name, its shape checked. */
  param(name: string, shape: number[], layer: string): string {
    const w = this.weights.get(name);
    if (!w) throw new Error(`ONNX export: layer ${layer}: the weights have no tensor "${name}"`);
    if (w.shape.join(',') !== shape.join(',')) throw new Error(`ONNX export: layer ${layer}: tensor "${name}" is [${w.shape.join(', ')}], the layer expects [${shape.join(', ')}]`);
    if (w.data.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`ONNX export: tensor "${name}" has ${w.data.length} values for shape [${shape.join(', ')}]`);
    this.parameters += w.data.length;
    return this.constant(name, shape, w.data);
  }
}

const EXPORTABLE = 'Conv2d, Linear, BatchNorm2d, ReLU, MaxPool2d, GlobalAvgPool, Flatten, Sequential and the ResNets\' BasicBlock';

/** Emit `m` applied to the value `x`; returns the output value's name. `path` names the layer in errors. */
function emit(b: GraphBuilder, m: Module, x: string, path: string): string {
  if (m instanceof Sequential) {
    let h = x;
    m.layers.forEach((layer, i) => (h = emit(b, layer, h, `${path}[${i}]`)));
    return h;
  }
  if (m instanceof Conv2d) {
    const k = m.kernel;
    const stride = m.opts.stride ?? 1;
    const pad = m.opts.padding ?? 0;
    const inputs = [x, b.param(`${m.name}.weight`, [m.outChannels, m.inChannels, k, k], m.name)];
    if (m.opts.bias ?? true) inputs.push(b.param(`${m.name}.bias`, [m.outChannels], m.name));
    return b.node('Conv', inputs, m.name, [ints('kernel_shape', [k, k]), ints('strides', [stride, stride]), ints('pads', [pad, pad, pad, pad]), ints('dilations', [1, 1]), int('group', 1)]);
  }
  if (m instanceof Linear) {
    const w = b.param(`${m.name}.weight`, [m.outFeatures, m.inFeatures], m.name);
    const bias = b.param(`${m.name}.bias`, [m.outFeatures], m.name);
    return b.node('Gemm', [x, w, bias], m.name, [float('alpha', 1), float('beta', 1), int('transA', 0), int('transB', 1)]);
  }
  if (m instanceof BatchNorm2d) {
    const c = [m.channels];
    const inputs = [x, b.param(`${m.name}.weight`, c, m.name), b.param(`${m.name}.bias`, c, m.name), b.param(`${m.name}.running_mean`, c, m.name), b.param(`${m.name}.running_var`, c, m.name)];
    return b.node('BatchNormalization', inputs, m.name, [float('epsilon', m.eps)]);
  }
  if (m instanceof ReLU) return b.node('Relu', [x], 'relu');
  if (m instanceof MaxPool2d) {
    return b.node('MaxPool', [x], 'maxpool', [ints('kernel_shape', [m.kernel, m.kernel]), ints('strides', [m.stride, m.stride]), ints('pads', [0, 0, 0, 0]), int('ceil_mode', 0)]);
  }
  if (m instanceof GlobalAvgPool) return b.node('Flatten', [b.node('GlobalAveragePool', [x], 'avgpool')], 'flatten', [int('axis', 1)]);
  if (m instanceof Flatten) return b.node('Flatten', [x], 'flatten', [int('axis', 1)]);
  if (m instanceof BasicBlock) {
    const main = emit(b, m.main, x, `${path}.main`);
    const skip = m.shortcut ? emit(b, m.shortcut, x, `${path}.shortcut`) : x;
    return b.node('Relu', [b.node('Add', [main, skip], 'add')], 'relu');
  }
  const kind = (m as object).constructor?.name || 'an unnamed class';
  throw new Error(`ONNX export: layer ${path} is a ${kind}, which kdgpu cannot export (it exports ${EXPORTABLE})`);
}

const shapeProto = (dims: Array<number | string>) => ({ dim: dims.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) });

/**
 * The ONNX bytes of `net` (a model's Sequential(body, head), as Model.net) with the weights named
 * as kdgpu names them, and a summary of what was written.
 */
export function exportOnnx(net: Module, weights: Weights, o: OnnxExportOptions): { bytes: Uint8Array; summary: OnnxExportSummary } {
  const { channels: C, height: H, width: W, classes } = o.input;
  const b = new GraphBuilder(weights);
  const norm = o.normalisation;
  if (norm && (norm.mean.length !== C || norm.std.length !== C)) {
    throw new Error(`ONNX export: the normalisation has ${norm.mean.length} means and ${norm.std.length} stds, the input ${C} channel(s)`);
  }
  const inGraph = !!norm && (o.normalisationInGraph ?? true);
  const input = b.fresh('input');
  let x = input;
  if (inGraph) {
    const mean = b.constant('normalisation.mean', [1, C, 1, 1], Float32Array.from(norm!.mean));
    const std = b.constant('normalisation.std', [1, C, 1, 1], Float32Array.from(norm!.std));
    x = b.node('Div', [b.node('Sub', [x, mean], 'centred'), std], 'normalised');
  }
  const last = emit(b, net, x, 'model');
  // The output is named `logits`: an Identity unless the last node can simply be renamed.
  const lastNode = b.nodes[b.nodes.length - 1];
  let output = 'logits';
  if (lastNode && lastNode.output[0] === last && !b.initializers.some((t) => t.name === 'logits')) lastNode.output = ['logits'];
  else output = b.node('Identity', [last], 'logits');
  const batch = 'batch';
  const inputShape: Array<number | string> = [batch, C, H, W];
  const outputShape: Array<number | string> = [batch, classes];
  const range = inGraph ? 'unit' : 'normalised';
  const metadata: Record<string, string> = {
    'kdgpu.model': o.name,
    'kdgpu.input': JSON.stringify({ name: input, layout: 'NCHW', shape: [C, H, W], dtype: 'float32', range: inGraph ? '[0, 1]' : 'normalised' }),
    'kdgpu.classes': String(classes),
    ...(norm ? { 'kdgpu.normalisation': JSON.stringify({ mean: norm.mean, std: norm.std, in_graph: inGraph }) } : {}),
    ...(o.classNames ? { 'kdgpu.class_names': JSON.stringify(o.classNames) } : {}),
    ...o.metadata,
  };
  const doc =
    `${o.name} exported by kdgpu. Input "${input}": float32 [batch, ${C}, ${H}, ${W}] (NCHW), ` +
    (inGraph
      ? `pixels in [0, 1]; the graph normalises them with mean [${norm!.mean.join(', ')}] and std [${norm!.std.join(', ')}] per channel.`
      : norm
        ? `already normalised: (pixel in [0, 1] - mean) / std per channel, mean [${norm.mean.join(', ')}], std [${norm.std.join(', ')}].`
        : 'as the model was trained on.') +
    ` Output "logits": float32 [batch, ${classes}]${o.classNames ? `, classes ${o.classNames.join(', ')}` : ''}.`;
  const model: OnnxModel = {
    ir_version: ONNX_IR_VERSION,
    opset_import: [{ domain: '', version: ONNX_OPSET }],
    producer_name: 'kdgpu',
    producer_version: o.producerVersion ?? '',
    doc_string: doc,
    graph: {
      name: o.name,
      node: b.nodes,
      initializer: b.initializers,
      input: [{ name: input, type: { tensor_type: { elem_type: ONNX_FLOAT, shape: shapeProto(inputShape) } } }],
      output: [{ name: output, type: { tensor_type: { elem_type: ONNX_FLOAT, shape: shapeProto(outputShape) } } }],
    },
    metadata_props: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  };
  const bytes = encodeOnnxModel(model);
  return {
    bytes,
    summary: {
      model: o.name,
      opset: ONNX_OPSET,
      input: { name: input, shape: inputShape, range },
      output: { name: output, shape: outputShape },
      normalisation: norm ? { mean: [...norm.mean], std: [...norm.std], inGraph } : null,
      classNames: o.classNames ? [...o.classNames] : null,
      nodes: b.nodes.length,
      operators: [...new Set(b.nodes.map((n) => n.op_type))].sort(),
      initializers: b.initializers.length,
      parameters: b.parameters,
      bytes: bytes.length,
    },
  };
}

/** A live model (after training, in Node or a page): its weights are read back from the device. */
export async function onnxFromModel(model: Model, o: Omit<OnnxExportOptions, 'name' | 'input'> & { name?: string } = {}): Promise<{ bytes: Uint8Array; summary: OnnxExportSummary }> {
  const weights = await model.store.read();
  return exportOnnx(model.net, weights, { ...o, name: o.name ?? model.name, input: model.input });
}

/**
 * A checkpoint written by kdgpu train or distill, without a device: its config is checked, the
 * recorded model's layers are built host-side, and every tensor must be there with its shape.
 */
export function onnxFromCheckpoint(ck: Checkpoint, fileName: string, o: { normalisationInGraph?: boolean; producerVersion?: string } = {}): { bytes: Uint8Array; summary: OnnxExportSummary; config: ModelConfig } {
  const config = checkModelConfig(ck.config, fileName);
  refuseNonFinite(ck, fileName);
  const { net, shapes } = modelLayers(config.model, config.input);
  requireModelTensors(ck, fileName, config.model, shapes);
  const metadata: Record<string, string> = { 'kdgpu.checkpoint_sha256': ck.metadata.content_sha256 };
  if (config.testAccuracy !== undefined) metadata['kdgpu.test_accuracy'] = String(config.testAccuracy);
  if (config.data) metadata['kdgpu.trained_on'] = JSON.stringify({ kind: config.data.spec.kind, train_sha256: config.data.trainHash });
  const r = exportOnnx(net, ck.tensors, {
    name: config.model,
    input: config.input,
    normalisation: config.normalisation,
    normalisationInGraph: o.normalisationInGraph,
    classNames: config.data?.classNames,
    metadata,
    producerVersion: o.producerVersion,
  });
  return { ...r, config };
}
