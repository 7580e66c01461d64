// What the `steps` runner (bench/steps.ts) and its child processes (bench/peers/*) say to each
// other over Node's IPC channel, and the loop every child runs. One backend per process: the
// runner keeps one child per backend alive and asks them in turn for a few steps each.
//
// A step, timed by the child with performance.now() around all of it, is the same on every side:
//   1. build the batch on the host: Batcher.fill writes its plan (rows, augmentation draws) and
//      labels (src/data/batches.ts), as `kdgpu train` does; kdgpu gathers the pixels on the GPU
//      from the resident bytes, as `kdgpu train` does; the other backends take the model's input
//      as host floats (Batcher.fillImages: 128 normalised float32 examples into a reused buffer);
//   2. upload it, record forward + loss + backward + SGD-momentum update (backend-specific);
//   3. one host sync that reads the step's mean loss back.
// Every backend starts from the same weights (kdgpu's seeded init, written by the kdgpu child) and
// sees the same batches in the same order (epoch 0 of a Batcher with the same seed), so step k's
// loss should agree across backends up to float32 rounding.

import { Batcher, type Batch } from '../../src/data/batches.js';
import { channelStats, normalize, type Dataset } from '../../src/data/dataset.js';
import { loadFashionMnist } from '../../src/data/node-files.js';

export const MODELS = ['student-cnn', 'teacher-cnn'] as const;
export type BenchModel = (typeof MODELS)[number];
export const BACKENDS = ['kdgpu', 'tfjs-webgpu', 'tfjs-wasm'] as const;
export type BenchBackend = (typeof BACKENDS)[number];

/** Fashion-MNIST shapes. */
export const INPUT = { channels: 1, height: 28, width: 28, classes: 10 } as const;
/** The training recipe every backend uses (kdgpu's `train` defaults, lr as in peers.md). */
export const RECIPE = { lr: 0.01, momentum: 0.9, nesterov: false, weightDecay: 5e-4 } as const;

export interface InitMessage {
  type: 'init';
  model: BenchModel;
  batch: number;
  seed: number;
  /** kdgpu writes its initial weights here (safetensors); the tfjs children read them. */
  weightsPath?: string;
  /** kdgpu: the engine's --adapter choice. */
  adapter?: string;
  /** kdgpu: NodeGpuOptions.throttlePolls (default: the Node entry point's choice). */
  throttlePolls?: boolean;
  /** tfjs-webgpu: point the Vulkan loader at SwiftShader before creating the Dawn instance. */
  swiftshader?: boolean;
  dataDir?: string;
}
export interface RunMessage {
  type: 'run';
  steps: number;
}
export type ToChild = InitMessage | RunMessage | { type: 'exit' };

export interface StepResult {
  /** 0-based step index since the start (warm-up included); step k trains on batch k. */
  step: number;
  ms: number;
  loss: number;
}
export interface ReadyMessage {
  type: 'ready';
  backend: BenchBackend;
  /** The device or runtime, in words (adapter, wasm SIMD/threads...). */
  device: string;
  /** Versions and settings worth recording. */
  details: Record<string, string | number | boolean>;
  /** Dawn adapter facts, for the webgpu sides (to check kdgpu and tfjs-webgpu share one). */
  software?: boolean;
  initMs: number;
}
export type FromChild = ReadyMessage | { type: 'steps'; results: StepResult[] } | { type: 'error'; message: string };

/** One backend's training step on the host batch (steps 2 and 3 above); returns the mean loss. */
export interface StepPeer {
  /** `images()`: the batch's model input as host floats, computed when called (a reused buffer). */
  step(batch: Batch, images: () => Float32Array): Promise<number>;
  destroy?(): void;
}

export interface PeerSetup {
  peer: StepPeer;
  device: string;
  details?: Record<string, string | number | boolean>;
  software?: boolean;
}

/** Fashion-MNIST train split, normalised with its own mean and std (as `kdgpu train` does). */
export async function loadTrainSet(dataDir?: string): Promise<Dataset> {
  const train = await loadFashionMnist('train', dataDir);
  const stats = channelStats(train);
  return normalize(train, stats.mean, stats.std);
}

function send(msg: FromChild): void {
  process.send!(msg);
}

/**
 * The child's side: wait for `init`, build the backend, then answer `run` with timed steps until
 * `exit`. Errors go back to the runner as messages (and end the child).
 */
export function serveSteps(backend: BenchBackend, setup: (init: InitMessage, data: Dataset) => Promise<PeerSetup>): void {
  if (!process.send) {
    process.stderr.write(`${backend}: this is a child of bench/steps.ts (kdgpu bench steps); run that instead.\n`);
    process.exit(2);
  }
  let peer: StepPeer | null = null;
  let batcher: Batcher | null = null;
  let hostImages = new Float32Array(0);
  let next = 0;
  let queue = Promise.resolve();

  const fail = (err: unknown) => {
    send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    setTimeout(() => process.exit(1), 100);
  };

  const handle = async (msg: ToChild) => {
    if (msg.type === 'init') {
      const t0 = performance.now();
      const data = await loadTrainSet(msg.dataDir);
      batcher = new Batcher(data, { batchSize: msg.batch, seed: msg.seed, dropLast: true });
      hostImages = new Float32Array(msg.batch * INPUT.channels * INPUT.height * INPUT.width);
      const s = await setup(msg, data);
      peer = s.peer;
      send({ type: 'ready', backend, device: s.device, details: s.details ?? {}, software: s.software, initMs: performance.now() - t0 });
    } else if (msg.type === 'run') {
      if (!peer || !batcher) throw new Error('run before init');
      const results: StepResult[] = [];
      for (let i = 0; i < msg.steps; i++) {
        const b = next % batcher.batchesPerEpoch;
        // The epoch's shuffle (once per 468 steps) is not part of a step.
        if (b === 0) batcher.startEpoch(Math.floor(next / batcher.batchesPerEpoch));
        const t0 = performance.now();
        const batch = batcher.fill(b);
        const loss = await peer.step(batch, () => batcher!.fillImages(batch, hostImages));
        results.push({ step: next, ms: performance.now() - t0, loss });
        next++;
      }
      send({ type: 'steps', results });
    } else if (msg.type === 'exit') {
      peer?.destroy?.();
      // Dawn keeps the process alive while a device exists; leave explicitly.
      process.exit(0);
    }
  };

  process.on('message', (msg: ToChild) => {
    queue = queue.then(() => handle(msg)).catch(fail);
  });
  process.on('disconnect', () => process.exit(0));
}
