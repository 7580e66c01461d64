// A model (and, for --resume, its training state) as a safetensors checkpoint, in bytes: usable
// from Node and from a browser. Model tensors keep their names ("conv1.weight"); training state
// goes under "train_state/", which loading a model for inference ignores.

import type { Engine } from '../gpu/engine.js';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint, type F32Tensor } from '../io/checkpoint.js';
import { createModel, type InputSpec, type Model } from './models.js';

/** What a checkpoint's `config` records: enough to rebuild the model and its input pipeline. */
export interface ModelConfig {
  model: string;
  input: InputSpec;
  dataset: string;
  normalisation: { mean: number[]; std: number[] };
  seed: number;
  epoch?: number;
  testAccuracy?: number;
  /** The command's options, for --resume to check it continues the same run. */
  command?: Record<string, unknown>;
}

/** Everything beyond the weights that a resumed run needs to end bit-identical to an uninterrupted one. */
export interface TrainingState {
  /** Epochs completed. */
  epoch: number;
  best: number;
  last: number;
  optimizer: { m: Float32Array; v: Float32Array; step: number };
  /** The data-selection mask over the dataset, when one was made. */
  mask?: Float32Array;
  /** Anything else a loop keeps (e.g. |Dt|), JSON. */
  extra?: Record<string, number>;
}

const STATE = 'train_state/';

export async function encodeModel(model: Model, config: ModelConfig, state?: TrainingState): Promise<Uint8Array> {
  const tensors = new Map<string, F32Tensor>();
  for (const [k, v] of await model.store.read()) tensors.set(k, v);
  const extraMetadata: Record<string, string> = { format: 'kdgpu-1' };
  if (state) {
    tensors.set(`${STATE}optimizer.m`, { shape: [state.optimizer.m.length], data: state.optimizer.m });
    if (state.optimizer.v.length > 0) tensors.set(`${STATE}optimizer.v`, { shape: [state.optimizer.v.length], data: state.optimizer.v });
    if (state.mask) tensors.set(`${STATE}ds.mask`, { shape: [state.mask.length], data: state.mask });
    extraMetadata.train_state = JSON.stringify({ epoch: state.epoch, best: state.best, last: state.last, step: state.optimizer.step, extra: state.extra ?? {} });
  }
  return encodeCheckpoint({ model: model.name, config, tensors, extraMetadata });
}

export interface RestoredModel {
  model: Model;
  config: ModelConfig;
  /** The checkpoint's content hash (the teacher-target cache key). */
  hash: string;
  state?: TrainingState;
}

/** Build the recorded model and load its weights; refuses a checkpoint whose tensors do not fit it. */
export function restoreModel(engine: Engine, ck: Checkpoint, fileName: string, expectName?: string): RestoredModel {
  const config = ck.config as ModelConfig;
  if (!config || typeof config !== 'object' || !config.input || !config.model) {
    throw new Error(`${fileName}: config: expected a kdgpu model config with "model" and "input", found ${JSON.stringify(ck.config).slice(0, 120)}`);
  }
  if (expectName && config.model !== expectName) throw new Error(`${fileName}: holds a "${config.model}" model, expected "${expectName}"`);
  const model = createModel(engine, config.model, config.input, config.seed ?? 0);
  try {
    const expected = new Map(model.store.entries.map((e) => [e.name, e.shape]));
    for (const [name, shape] of expected) {
      const t = ck.tensors.get(name);
      if (!t) throw new Error(`${fileName}: tensor "${name}" of model "${config.model}" is missing from the checkpoint`);
      if (t.shape.join(',') !== shape.join(',')) {
        throw new Error(`${fileName}: tensor "${name}" has shape [${t.shape.join(', ')}], model "${config.model}" expects [${shape.join(', ')}]`);
      }
    }
    for (const name of ck.tensors.keys()) {
      if (!expected.has(name) && !name.startsWith(STATE)) throw new Error(`${fileName}: tensor "${name}" is not part of model "${config.model}"`);
    }
    model.store.write(new Map([...ck.tensors].filter(([k]) => !k.startsWith(STATE)).map(([k, v]) => [k, v.data])));
  } catch (e) {
    model.store.destroy();
    throw e;
  }
  let state: TrainingState | undefined;
  if (ck.metadata.train_state) {
    const s = JSON.parse(ck.metadata.train_state) as { epoch: number; best: number; last: number; step: number; extra: Record<string, number> };
    state = {
      epoch: s.epoch,
      best: s.best,
      last: s.last,
      optimizer: { m: ck.tensors.get(`${STATE}optimizer.m`)!.data, v: ck.tensors.get(`${STATE}optimizer.v`)?.data ?? new Float32Array(0), step: s.step },
      mask: ck.tensors.get(`${STATE}ds.mask`)?.data,
      extra: s.extra,
    };
  }
  return { model, config, hash: ck.metadata.content_sha256, state };
}

/** Decode bytes and restore (browser: bytes from fetch or a file input). */
export function modelFromBytes(engine: Engine, bytes: Uint8Array, fileName: string, expectName?: string): RestoredModel {
  return restoreModel(engine, decodeCheckpoint(bytes, fileName), fileName, expectName);
}
