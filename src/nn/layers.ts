// Layers. Each registers its parameters in the model's ParameterStore at construction and looks
// them up at forward time; Sequential fuses a ReLU into the layer before it when it can, and a
// conv + ReLU + 2×2 max pool into one forward kernel.

import * as ops from '../autograd.js';
import type { Activation } from '../kernels/matmul.js';
import type { Graph, Tensor } from '../tensor.js';
import type { Rng } from '../util/rng.js';
import type { ParameterStore } from './parameters.js';

export abstract class Module {
  training = true;

  abstract forward(g: Graph, x: Tensor, activation?: Activation): Tensor;

  children(): Module[] {
    return [];
  }

  /** Whether a following ReLU can be folded into this layer's kernel. */
  get fusesRelu(): boolean {
    return false;
  }

  train(mode = true): this {
    this.training = mode;
    for (const c of this.children()) c.train(mode);
    return this;
  }
}

/** He (Kaiming) normal initialisation: std = √(2 / fan_in), for layers followed by ReLU. */
function kaimingNormal(rng: Rng, n: number, fanIn: number): Float32Array {
  const std = Math.sqrt(2 / fanIn);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * std;
  return out;
}

export class Conv2d extends Module {
  constructor(
    private store: ParameterStore,
    readonly name: string,
    rng: Rng,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number,
    readonly opts: { stride?: number; padding?: number; bias?: boolean } = {},
  ) {
    super();
    const fanIn = inChannels * kernel * kernel;
    store.param(`${name}.weight`, [outChannels, inChannels, kernel, kernel], kaimingNormal(rng, outChannels * fanIn, fanIn));
    if (opts.bias ?? true) store.param(`${name}.bias`, [outChannels], new Float32Array(outChannels));
  }

  override get fusesRelu(): boolean {
    return true;
  }

  private get bias(): Tensor | null {
    return this.opts.bias ?? true ? this.store.get(`${this.name}.bias`) : null;
  }

  forward(g: Graph, x: Tensor, activation: Activation = 'none'): Tensor {
    return ops.conv2d(g, x, this.store.get(`${this.name}.weight`), this.bias, { stride: this.opts.stride, padding: this.opts.padding, activation });
  }

  /** This layer, a ReLU and a 2×2/2 max pool, with one forward kernel (ops.conv2dReluMaxPool). */
  forwardReluMaxPool(g: Graph, x: Tensor): Tensor {
    return ops.conv2dReluMaxPool(g, x, this.store.get(`${this.name}.weight`), this.bias, { stride: this.opts.stride, padding: this.opts.padding });
  }
}

export class Linear extends Module {
  constructor(
    private store: ParameterStore,
    readonly name: string,
    rng: Rng,
    readonly inFeatures: number,
    readonly outFeatures: number,
  ) {
    super();
    store.param(`${name}.weight`, [outFeatures, inFeatures], kaimingNormal(rng, outFeatures * inFeatures, inFeatures));
    store.param(`${name}.bias`, [outFeatures], new Float32Array(outFeatures));
  }

  override get fusesRelu(): boolean {
    return true;
  }

  forward(g: Graph, x: Tensor, activation: Activation = 'none'): Tensor {
    return ops.linear(g, x, this.store.get(`${this.name}.weight`), this.store.get(`${this.name}.bias`), activation);
  }
}

export class BatchNorm2d extends Module {
  constructor(
    private store: ParameterStore,
    readonly name: string,
    readonly channels: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    super();
    store.param(`${name}.weight`, [channels], new Float32Array(channels).fill(1));
    store.param(`${name}.bias`, [channels], new Float32Array(channels));
    store.buffer(`${name}.running_mean`, [channels], new Float32Array(channels));
    store.buffer(`${name}.running_var`, [channels], new Float32Array(channels).fill(1));
  }

  override get fusesRelu(): boolean {
    return true;
  }

  forward(g: Graph, x: Tensor, activation: Activation = 'none'): Tensor {
    const st: ops.BatchNormState = {
      gamma: this.store.get(`${this.name}.weight`),
      beta: this.store.get(`${this.name}.bias`),
      runningMean: this.store.get(`${this.name}.running_mean`).data,
      runningVar: this.store.get(`${this.name}.running_var`).data,
      eps: this.eps,
      momentum: this.momentum,
    };
    return ops.batchNorm2d(g, x, st, this.training, activation);
  }
}

export class ReLU extends Module {
  forward(g: Graph, x: Tensor): Tensor {
    return ops.relu(g, x);
  }
}

export class MaxPool2d extends Module {
  constructor(
    readonly kernel: number,
    readonly stride = kernel,
  ) {
    super();
  }

  forward(g: Graph, x: Tensor): Tensor {
    return ops.maxPool2d(g, x, this.kernel, this.stride);
  }
}

export class GlobalAvgPool extends Module {
  forward(g: Graph, x: Tensor): Tensor {
    return ops.globalAvgPool(g, x);
  }
}

export class Flatten extends Module {
  forward(_g: Graph, x: Tensor): Tensor {
    return x.view([x.shape[0], x.size / x.shape[0]]);
  }
}

export class Sequential extends Module {
  readonly layers: Module[];

  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
  }

  override children(): Module[] {
    return this.layers;
  }

  forward(g: Graph, x: Tensor, activation: Activation = 'none'): Tensor {
    let h = x;
    for (let i = 0; i < this.layers.length; i++) {
      const layer = this.layers[i];
      const next = this.layers[i + 1];
      const last = i === this.layers.length - 1;
      const pool = this.layers[i + 2];
      if (layer instanceof Conv2d && next instanceof ReLU && pool instanceof MaxPool2d && pool.kernel === 2 && pool.stride === 2) {
        h = layer.forwardReluMaxPool(g, h);
        i += 2; // the ReLU and the pool ran inside the conv's kernel
      } else if (layer.fusesRelu && next instanceof ReLU) {
        h = layer.forward(g, h, 'relu');
        i++; // the ReLU ran inside the layer's kernel
      } else {
        h = layer.forward(g, h, last ? activation : 'none');
      }
    }
    return h;
  }
}
