// Node: a model checkpoint on disk (atomic writes; see src/io/checkpoint-file.ts).

import type { Engine } from '../gpu/engine.js';
import { loadCheckpoint, saveCheckpointAtomic } from '../io/checkpoint-file.js';
import { encodeModel, restoreModel, type ModelConfig, type RestoredModel, type TrainingState } from './checkpoint.js';
import type { Model } from './models.js';

export async function saveModel(path: string, model: Model, config: ModelConfig, state?: TrainingState): Promise<void> {
  await saveCheckpointAtomic(path, await encodeModel(model, config, state));
}

/** Load a checkpoint into a freshly built model of the recorded name; refuses mismatched shapes. */
export async function loadModel(engine: Engine, path: string, expectName?: string): Promise<RestoredModel> {
  return restoreModel(engine, await loadCheckpoint(path), path, expectName);
}
