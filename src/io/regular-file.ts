// Node-only: files read whole (checkpoints, datasets) must be regular files. Reading a directory
// fails with a bare EISDIR that does not name the path, and a device or a named pipe (/dev/zero,
// a FIFO) never ends; both are refused by name before the file is opened.

import { statSync, type Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { FormatError } from '../util/format-error.js';

/** What a non-regular file is, in words. */
export function fileKind(s: Stats): string {
  if (s.isFile()) return 'a regular file';
  if (s.isDirectory()) return 'a directory';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isFIFO()) return 'a named pipe (FIFO)';
  if (s.isSocket()) return 'a socket';
  return 'not a regular file';
}

function refuse(path: string, s: Stats, what: string): never {
  throw new FormatError(path, 'file', `expected ${what} (a regular file), found ${fileKind(s)}`);
}

/** Throws unless `path` is a regular file (symlinks followed); a missing file keeps stat's ENOENT, which names it. */
export async function requireRegularFile(path: string, what: string): Promise<Stats> {
  const s = await stat(path);
  if (!s.isFile()) refuse(path, s, what);
  return s;
}

/** requireRegularFile, synchronously (option checks before a run starts). */
export function requireRegularFileSync(path: string, what: string): Stats {
  const s = statSync(path);
  if (!s.isFile()) refuse(path, s, what);
  return s;
}

/** A regular file's bytes; anything else is refused by name first. */
export async function readRegularFile(path: string, what: string): Promise<Buffer> {
  await requireRegularFile(path, what);
  return readFile(path);
}
