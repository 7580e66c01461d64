// Node: a model checkpoint on disk (its bytes: model-checkpoint.ts; atomic writes:
// src/io/checkpoint-file.ts), and the models the package ships.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Engine } from '../gpu/engine.js';
import { loadCheckpoint, saveCheckpointAtomic } from '../io/checkpoint-file.js';
import { encodeModel, restoreModel, type ModelConfig, type RestoredModel, type RestoreOptions, type TrainingState } from './model-checkpoint.js';
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

/** The models the package ships, weights only: the Fashion-MNIST teacher (test accuracy 91.17%). */
export const SHIPPED_MODELS = ['teacher-cnn'] as const;
export type ShippedModel = (typeof SHIPPED_MODELS)[number];

/**
 * The path of a model the package ships (dist/models/<name>.safetensors, written by the build),
 * for loadModel or loadWeights: `loadModel(engine, modelPath('teacher-cnn'))`.
 */
export function modelPath(name: ShippedModel): string {
  if (!(SHIPPED_MODELS as readonly string[]).includes(name)) throw new Error(`modelPath: no shipped model "${name}" (shipped: ${SHIPPED_MODELS.join(', ')})`);
  // From the bundle (dist/kdgpu.node.js) and from the sources (src/nn/, tests) alike.
  const candidates = [`./models/${name}.safetensors`, `../../dist/models/${name}.safetensors`].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`modelPath('${name}'): no such file: ${candidates.join(' or ')} (in a clone of the repository, \`npm run build\` writes it)`);
  return found;
}
