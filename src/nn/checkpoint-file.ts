// Node: a model checkpoint on disk (atomic writes; see src/io/checkpoint-file.ts).

import type { Engine } from '../gpu/engine.js';
import { loadCheckpoint, saveCheckpointAtomic } from '../io/checkpoint-file.js';
import { encodeModel, restoreModel, type ModelConfig, type RestoredModel, type RestoreOptions, type TrainingState } from './checkpoint.js';
import type { Model } from './models.js';

export async function saveModel(path: string, model: Model, config: ModelConfig, state?: TrainingState): Promise<void> {
  await saveCheckpointAtomic(path, await encodeModel(model, config, state));
}

/**
 * Load a checkpoint into a freshly built model of the recorded name; refuses mismatched shapes and
 * non-finite weights. With the training state (for --resume) unless opts.state is false.
 */
export async function loadModel(engine: Engine, path: string, expectName?: string, opts?: RestoreOptions): Promise<RestoredModel> {
  return restoreModel(engine, await loadCheckpoint(path), path, expectName, opts);
}

/** The weights only (eval, teachers): the training state, which only --resume needs, is not read. */
export function loadWeights(engine: Engine, path: string, expectName?: string): Promise<RestoredModel> {
  return loadModel(engine, path, expectName, { state: false });
}
