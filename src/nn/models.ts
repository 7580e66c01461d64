// Models by name: the two Fashion-MNIST CNNs of the project and the CIFAR-style ResNets of the
// KD literature (RepDistiller's resnet20 and resnet8x4), sized from the dataset.

import * as ops from '../autograd.js';
import type { Activation } from '../kernels/matmul.js';
import type { Graph, Tensor } from '../tensor.js';
import { Rng } from '../util/rng.js';
import type { Engine } from '../gpu/engine.js';
import { BatchNorm2d, Conv2d, Flatten, GlobalAvgPool, Linear, MaxPool2d, Module, ReLU, Sequential } from './layers.js';
import { ParameterStore } from './parameters.js';

export interface InputSpec {
  channels: number;
  height: number;
  width: number;
  classes: number;
}

export const MODEL_NAMES = ['teacher-cnn', 'student-cnn', 'resnet8x4', 'resnet20'] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export interface Model {
  /** One of MODEL_NAMES, or the name given to defineModel. */
  name: string;
  input: InputSpec;
  seed: number;
  store: ParameterStore;
  net: Module;
  /** The layer whose input is the feature vector h of method.md §3 (the last linear). */
  head: Linear;
  /** logits [B, classes] from x [B, C, H, W]; `features` receives h [B, D] when given. */
  forward(g: Graph, x: Tensor, features?: (h: Tensor) => void): Tensor;
}

/** The ResNets' residual block: relu(main(x) + shortcut(x)), the shortcut the identity when null. */
export class BasicBlock extends Module {
  readonly main: Sequential;
  readonly shortcut: Sequential | null;

  constructor(store: ParameterStore, name: string, rng: Rng, cin: number, cout: number, stride: number) {
    super();
    this.main = new Sequential(
      new Conv2d(store, `${name}.conv1`, rng, cin, cout, 3, { stride, padding: 1, bias: false }),
      new BatchNorm2d(store, `${name}.bn1`, cout),
      new ReLU(),
      new Conv2d(store, `${name}.conv2`, rng, cout, cout, 3, { padding: 1, bias: false }),
      new BatchNorm2d(store, `${name}.bn2`, cout),
    );
    this.shortcut =
      stride !== 1 || cin !== cout
        ? new Sequential(new Conv2d(store, `${name}.shortcut.0`, rng, cin, cout, 1, { stride, bias: false }), new BatchNorm2d(store, `${name}.shortcut.1`, cout))
        : null;
  }

  override children(): Module[] {
    return this.shortcut ? [this.main, this.shortcut] : [this.main];
  }

  forward(g: Graph, x: Tensor): Tensor {
    const out = this.main.forward(g, x);
    const skip = this.shortcut ? this.shortcut.forward(g, x) : x;
    return ops.relu(g, ops.add(g, out, skip));
  }
}

function resnet(store: ParameterStore, rng: Rng, input: InputSpec, depth: number, widths: number[]): { body: Sequential; head: Linear } {
  const blocks = (depth - 2) / 6;
  const layers: Module[] = [
    new Conv2d(store, 'conv1', rng, input.channels, widths[0], 3, { padding: 1, bias: false }),
    new BatchNorm2d(store, 'bn1', widths[0]),
    new ReLU(),
  ];
  let cin = widths[0];
  for (let stage = 0; stage < 3; stage++) {
    for (let b = 0; b < blocks; b++) {
      const stride = stage > 0 && b === 0 ? 2 : 1;
      layers.push(new BasicBlock(store, `layer${stage + 1}.${b}`, rng, cin, widths[stage + 1], stride));
      cin = widths[stage + 1];
    }
  }
  layers.push(new GlobalAvgPool());
  return { body: new Sequential(...layers), head: new Linear(store, 'fc', rng, cin, input.classes) };
}

/** Build a model by name with weights from a seeded generator (the same seed, the same weights). */
/** What a model is made of: a body (features h) and a head, the last Linear (logits = head(h)). */
export interface ModelParts {
  body: Module;
  head: Linear;
}

/**
 * A model of your own from kdgpu's layers (Conv2d, Linear, ReLU, MaxPool2d, BatchNorm2d, Flatten,
 * GlobalAvgPool, Sequential): `build` creates the layers on `store` (initialised from `rng`); the
 * head must be a Linear from the body's features to input.classes logits (distillation's data
 * selection reads the head's input). Train it with train(), distil into it with distill()'s
 * `initial` student.
 */
export function defineModel(engine: Engine, name: string, input: InputSpec, seed: number, build: (store: ParameterStore, rng: Rng, input: InputSpec) => ModelParts): Model {
  const store = new ParameterStore(engine);
  const { body, head } = build(store, new Rng(seed), input);
  if (head.outFeatures !== input.classes) throw new Error(`model "${name}": the head has ${head.outFeatures} outputs, the data has ${input.classes} classes`);
  store.build();
  const net = new Sequential(body, head);
  return {
    name,
    input,
    seed,
    store,
    net,
    head,
    forward(g: Graph, x: Tensor, features?: (h: Tensor) => void): Tensor {
      const hFeat = body.forward(g, x, 'none' as Activation);
      features?.(hFeat);
      return head.forward(g, hFeat);
    },
  };
}

/**
 * The layers of a built-in model, without a device (nothing is allocated or uploaded): what the
 * ONNX exporter walks. `shapes` are the parameters' and buffers' names and shapes, as a
 * checkpoint of the model holds them.
 */
export function modelLayers(name: string, input: InputSpec): { net: Sequential; shapes: Map<string, number[]> } {
  if (!(MODEL_NAMES as readonly string[]).includes(name)) throw new Error(`unknown model "${name}" (known: ${MODEL_NAMES.join(', ')})`);
  // A store that is never built needs no engine: layers only register names, shapes and initial values.
  const store = new ParameterStore(undefined as unknown as Engine);
  const { body, head } = builtIn(store, new Rng(0), name as ModelName, input);
  return { net: new Sequential(body, head), shapes: new Map(store.entries.map((e) => [e.name, e.shape])) };
}

export function createModel(engine: Engine, name: string, input: InputSpec, seed: number): Model {
  if (!(MODEL_NAMES as readonly string[]).includes(name)) throw new Error(`unknown model "${name}" (known: ${MODEL_NAMES.join(', ')})`);
  return defineModel(engine, name, input, seed, (store, rng) => builtIn(store, rng, name as ModelName, input));
}

function builtIn(store: ParameterStore, rng: Rng, name: ModelName, input: InputSpec): ModelParts {
  let body: Sequential;
  let head: Linear;
  const { channels: c, height: h, width: w, classes } = input;
  switch (name) {
    case 'teacher-cnn': {
      const flat = 64 * Math.floor(h / 4) * Math.floor(w / 4);
      body = new Sequential(
        new Conv2d(store, 'conv1', rng, c, 32, 3, { padding: 1 }),
        new ReLU(),
        new MaxPool2d(2),
        new Conv2d(store, 'conv2', rng, 32, 64, 3, { padding: 1 }),
        new ReLU(),
        new MaxPool2d(2),
        new Flatten(),
        new Linear(store, 'fc1', rng, flat, 256),
        new ReLU(),
      );
      head = new Linear(store, 'fc2', rng, 256, classes);
      break;
    }
    case 'student-cnn': {
      const flat = 16 * Math.floor(h / 4) * Math.floor(w / 4);
      body = new Sequential(
        new Conv2d(store, 'conv1', rng, c, 8, 3, { padding: 1 }),
        new ReLU(),
        new MaxPool2d(2),
        new Conv2d(store, 'conv2', rng, 8, 16, 3, { padding: 1 }),
        new ReLU(),
        new MaxPool2d(2),
        new Flatten(),
      );
      head = new Linear(store, 'fc', rng, flat, classes);
      break;
    }
    case 'resnet20':
      ({ body, head } = resnet(store, rng, input, 20, [16, 16, 32, 64]));
      break;
    case 'resnet8x4':
      ({ body, head } = resnet(store, rng, input, 8, [32, 64, 128, 256]));
      break;
  }
  return { body, head };
}
