// Node-only checkpoint files (the bytes they hold: checkpoint-bytes.ts). Saving is atomic: the
// bytes go to a temporary file in the same directory (rename is only atomic within one filesystem),
// which is fsynced before it is renamed over the destination, and the directory is fsynced after,
// so a crash at any moment leaves either the previous checkpoint or the new one, never a partial
// file. A crash can leave a stray `.<name>.<pid>-<random>.tmp` beside it, which nothing reads; the
// next save of the same name removes those whose writing process is gone.

import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CHECKPOINT_KEYS, decodeCheckpoint, type Checkpoint } from './checkpoint-bytes.js';
import { readRegularFile } from './regular-file.js';
import { MAX_HEADER_BYTES, type TensorMap } from './safetensors.js';

/** The temporary file saveCheckpointAtomic writes first: hidden, in the destination's directory. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
}

/** Whether a process with this id exists (ours or another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

/** Remove temporary files of `path` left by writers that died mid-save (a live writer's stay). */
async function removeStrayTemps(path: string): Promise<void> {
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pid = Number(/^(\d+)-[0-9a-f]+$/.exec(name.slice(prefix.length, -4))?.[1]);
    if (Number.isInteger(pid) && pid !== process.pid && !processAlive(pid)) await rm(join(dirname(path), name), { force: true });
  }
}

export async function saveCheckpointAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await removeStrayTemps(path);
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

/**
 * Reads, decodes and verifies a checkpoint (see decodeCheckpoint); errors name the path. A
 * directory, device or pipe is refused before it is opened (see regular-file.ts).
 */
export async function loadCheckpoint(path: string, expectedShapes?: TensorMap<readonly number[]>): Promise<Checkpoint> {
  const raw = await readRegularFile(path, 'a checkpoint');
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

/**
 * A checkpoint's parsed `config`, from its header alone (the command line's checks: the data a
 * teacher records, before anything is loaded); undefined for a file that is not a readable
 * checkpoint, which loading it reports properly.
 */
export function readCheckpointConfigSync(path: string): unknown {
  let fd: number | undefined;
  try {
    if (!statSync(path).isFile()) return undefined; // a FIFO would block the open
    fd = openSync(path, 'r');
    const length = Buffer.alloc(8);
    if (readSync(fd, length, 0, 8, 0) !== 8) return undefined;
    const n = Number(length.readBigUInt64LE(0));
    if (n > MAX_HEADER_BYTES) return undefined;
    const header = Buffer.alloc(n);
    if (readSync(fd, header, 0, n, 8) !== n) return undefined;
    const config = (JSON.parse(header.toString('utf8')) as { __metadata__?: Record<string, string> }).__metadata__?.[CHECKPOINT_KEYS.config];
    return config === undefined ? undefined : JSON.parse(config);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
