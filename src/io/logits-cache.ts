// Node-only: a teacher's logits kept on disk between runs, so that distilling from the same
// teacher on the same data a second time skips the teacher's forward. An entry is a safetensors
// file holding the tensor `logits` [rows, classes] (F32) with two metadata keys: `key`, the full
// text of what it was computed for, and `content_sha256`, the hash of its data. An entry is used
// only when both match: a truncated, corrupt or foreign file is deleted and recomputed, never read
// as logits. Writes are atomic (a temporary file, fsynced, renamed; see checkpoint-file.ts). The
// directory is bounded in bytes: after a write the least recently used entries (by mtime, which a
// read refreshes) go first.

import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { contentHash } from './checkpoint-bytes.js';
import { saveCheckpointAtomic } from './checkpoint-file.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';
import { sha256Hex } from '../util/sha256.js';

/** What the logits were computed for: every field changes the entry. */
export interface LogitsKey {
  /** The teacher's content hash (a checkpoint's content_sha256). */
  teacher: string;
  /** The training set's hash (its images as normalised for the teacher, its labels, its shape). */
  trainingSet: string;
  /** The rows computed (positions in the training set); the others hold zeros. */
  rows: Uint32Array;
  /** The images' augmentation ('none', or the augmentation's options, seed and epoch). */
  augmentation: string;
  /**
   * The engine that computed them: kdgpu's forward and onnxruntime's agree to about 1e-5, not bit
   * for bit, so a run that asks for one backend never reads the other's.
   */
  backend: 'kdgpu' | 'onnxruntime';
}

/** $XDG_CACHE_HOME/kdgpu, else ~/.cache/kdgpu. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.cache'), 'kdgpu');
}

/** The default bound: about 100 Fashion-MNIST training sets' logits (2.4 MB each). */
export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;

const SUFFIX = '.logits.safetensors';

/** What a lookup found: the logits, nothing, or an entry that failed its checks (deleted). */
export type CacheLookup = { logits: Float32Array; path: string } | { logits: null; discarded?: string };

export class LogitsCache {
  constructor(
    readonly dir: string,
    readonly maxBytes = DEFAULT_CACHE_BYTES,
  ) {}

  /** The key as text (stored in the entry) and the entry's file. */
  private entry(key: LogitsKey): { text: string; path: string } {
    const rowsHash = sha256Hex(new Uint8Array(key.rows.buffer, key.rows.byteOffset, key.rows.byteLength));
    const text = JSON.stringify({ teacher: key.teacher, trainingSet: key.trainingSet, rows: `${key.rows.length}:${rowsHash}`, augmentation: key.augmentation, backend: key.backend });
    return { text, path: join(this.dir, sha256Hex(new TextEncoder().encode(text)) + SUFFIX) };
  }

  /** The entry for `key` if it holds `length` logits that pass their checks. */
  read(key: LogitsKey, length: number): CacheLookup {
    const { text, path } = this.entry(key);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      return { logits: null };
    }
    const problem = entryProblem(bytes, path, text, length);
    if (typeof problem === 'string') {
      rmSync(path, { force: true });
      return { logits: null, discarded: `${path}: ${problem}` };
    }
    const now = new Date();
    try {
      utimesSync(path, now, now); // recently used: evicted last
    } catch {
      // evicted by another process since it was read: the logits read are still whole
    }
    return { logits: problem, path };
  }

  /** Stores `logits` ([length / classes, classes]) under `key`, then evicts down to maxBytes. */
  async write(key: LogitsKey, logits: Float32Array, classes: number): Promise<string> {
    const { text, path } = this.entry(key);
    mkdirSync(this.dir, { recursive: true });
    const tensors = { logits: { dtype: 'F32' as const, shape: [logits.length / classes, classes], data: logits } };
    await saveCheckpointAtomic(path, encodeSafetensors(tensors, { key: text, content_sha256: contentHash(tensors) }));
    this.evict(path);
    return path;
  }

  /** Deletes the least recently used entries until the total is within maxBytes (`keep` stays). */
  private evict(keep: string): void {
    const entries = readdirSync(this.dir)
      .filter((name) => name.endsWith(SUFFIX))
      .flatMap((name) => {
        const path = join(this.dir, name);
        const s = statSync(path, { throwIfNoEntry: false }); // another process may evict too
        return s ? [{ path, bytes: s.size, used: s.mtimeMs }] : [];
      })
      .sort((a, b) => a.used - b.used);
    let total = entries.reduce((sum, e) => sum + e.bytes, 0);
    for (const e of entries) {
      if (total <= this.maxBytes) break;
      if (e.path === keep) continue;
      rmSync(e.path, { force: true });
      total -= e.bytes;
    }
  }
}

/** The entry's logits, or why it cannot be used. */
function entryProblem(bytes: Buffer, path: string, key: string, length: number): Float32Array | string {
  let file;
  try {
    file = decodeSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
  } catch (e) {
    return (e as Error).message;
  }
  const t = file.tensors.get('logits');
  if (file.metadata.key !== key) return 'written for another key';
  if (!t || t.data.length !== length) return `expected ${length} logits, found ${t ? t.data.length : 'none'}`;
  if (contentHash({ logits: t }) !== file.metadata.content_sha256) return 'its data does not match its content_sha256';
  return t.data as Float32Array;
}
