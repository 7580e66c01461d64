// A kdgpu checkpoint in bytes (browser and Node; the file on disk is checkpoint-file.ts): a
// safetensors file of F32 tensors whose metadata says which model it is, with which configuration,
// and a hash of the tensor data, so a corrupt or mismatched file is refused with a message instead
// of training on garbage.
//
// Metadata keys: `model` (the model's name), `config` (its configuration as a JSON string),
// `content_sha256` (hex SHA-256 of the tensors' raw little-endian bytes, concatenated in ascending
// order of name by UTF-8 bytes; names, shapes and metadata are not hashed). Python reproduces it
// with hashlib.sha256(b''.join(t[k].numpy().tobytes() for k in sorted(t))). The hash is computed in
// pure TypeScript (util/sha256.ts) so the browser demo can write and check checkpoints with the
// same code, synchronously.

import { FormatError } from '../util/format-error.js';
import { Sha256, toHex } from '../util/sha256.js';
import {
  checkShapes,
  compareNames,
  decodeSafetensors,
  encodeSafetensors,
  entriesOf,
  type SafeTensor,
  type TensorMap,
} from './safetensors.js';

export interface F32Tensor {
  shape: number[];
  data: Float32Array;
}

export interface Checkpoint {
  model: string;
  /** The parsed `config` JSON. */
  config: unknown;
  tensors: Map<string, F32Tensor>;
  /** All metadata, including the three keys above. */
  metadata: Record<string, string>;
}

export const CHECKPOINT_KEYS = { model: 'model', config: 'config', hash: 'content_sha256' } as const;

/** Hex SHA-256 of the tensors' bytes in name order (see the header comment). */
export function contentHash(tensors: TensorMap<{ data: ArrayBufferView }>): string {
  const entries = entriesOf(tensors).sort(([a], [b]) => compareNames(a, b));
  const h = new Sha256();
  for (const [, t] of entries) h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return toHex(h.digest());
}

export interface CheckpointInput {
  model: string;
  /** Any JSON-serialisable value; stored as a JSON string. */
  config: unknown;
  tensors: TensorMap<F32Tensor>;
  /** More string metadata (e.g. epoch, accuracy); cannot override the three reserved keys. */
  extraMetadata?: Record<string, string>;
}

export function encodeCheckpoint(input: CheckpointInput): Uint8Array {
  const tensors = new Map<string, SafeTensor>();
  for (const [name, t] of entriesOf(input.tensors)) tensors.set(name, { dtype: 'F32', shape: t.shape, data: t.data });
  const reserved = Object.values(CHECKPOINT_KEYS) as string[];
  for (const k of Object.keys(input.extraMetadata ?? {})) {
    if (reserved.includes(k)) throw new Error(`encodeCheckpoint: extraMetadata cannot set the reserved key '${k}'`);
  }
  const config = JSON.stringify(input.config);
  if (config === undefined) throw new Error('encodeCheckpoint: config is not JSON-serialisable');
  return encodeSafetensors(tensors, {
    ...input.extraMetadata,
    [CHECKPOINT_KEYS.model]: input.model,
    [CHECKPOINT_KEYS.config]: config,
    [CHECKPOINT_KEYS.hash]: contentHash(tensors),
  });
}

/**
 * Decodes a checkpoint, verifies its content hash, and, given the model's expected shapes, refuses
 * any tensor whose name or shape differs.
 */
export function decodeCheckpoint(bytes: Uint8Array, fileName: string, expectedShapes?: TensorMap<readonly number[]>): Checkpoint {
  const file = decodeSafetensors(bytes, fileName, { dtypes: ['F32'] });
  const meta = file.metadata;
  for (const key of Object.values(CHECKPOINT_KEYS)) {
    if (meta[key] === undefined) {
      throw new FormatError(fileName, `__metadata__.${key}`, 'expected a kdgpu checkpoint, which records model, config and content_sha256; this key is missing');
    }
  }
  const tensors = new Map<string, F32Tensor>();
  for (const [name, t] of file.tensors) tensors.set(name, { shape: t.shape, data: t.data as Float32Array });
  const actual = contentHash(tensors);
  if (actual !== meta[CHECKPOINT_KEYS.hash]) {
    throw new FormatError(
      fileName,
      `__metadata__.${CHECKPOINT_KEYS.hash}`,
      `expected the tensor data to hash to ${meta[CHECKPOINT_KEYS.hash]}, found ${actual}: the tensor data is corrupt`,
    );
  }
  let config: unknown;
  try {
    config = JSON.parse(meta[CHECKPOINT_KEYS.config]);
  } catch (e) {
    throw new FormatError(fileName, `__metadata__.${CHECKPOINT_KEYS.config}`, `expected a JSON string: ${(e as Error).message}`);
  }
  if (expectedShapes) checkShapes(expectedShapes, tensors, fileName);
  return { model: meta[CHECKPOINT_KEYS.model], config, tensors, metadata: meta };
}
