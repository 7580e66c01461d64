// Node-only checkpoint files. Saving is atomic: the bytes go to a temporary file in the same
// directory (rename is only atomic within one filesystem), which is fsynced before it is renamed
// over the destination, and the directory is fsynced after, so a crash at any moment leaves either
// the previous checkpoint or the new one, never a partial file. A crash can leave a stray
// `.<name>.<random>.tmp` beside it, which nothing reads.

import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { decodeCheckpoint, type Checkpoint } from './checkpoint.js';
import type { TensorMap } from './safetensors.js';

/** The temporary file saveCheckpointAtomic writes first: hidden, in the destination's directory. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

export async function saveCheckpointAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    const file = await open(tmp, 'wx', 0o644);
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDirectory(dirname(path));
}

/** Reads, decodes and verifies a checkpoint (see decodeCheckpoint); errors name the path. */
export async function loadCheckpoint(path: string, expectedShapes?: TensorMap<readonly number[]>): Promise<Checkpoint> {
  const raw = await readFile(path);
  return decodeCheckpoint(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), path, expectedShapes);
}

/** Makes the rename durable. Best effort: some platforms cannot open or fsync a directory. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Windows and some network filesystems refuse; the rename is still atomic there.
  } finally {
    await handle?.close();
  }
}
