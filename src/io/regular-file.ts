// Node-only: files read whole (checkpoints, datasets) must be regular files. Reading a directory
// fails with a bare EISDIR that does not name the path, and a device or a named pipe (/dev/zero,
// a FIFO) never ends; both are refused by name before the file is opened. A file that cannot be
// reached (missing, no permission) is a FileAccessError that names it in words, not an errno.

import { statSync, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
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

/** A file that cannot be reached: `reason` says why in words ("no such file"); the message is "<path>: <reason>". */
export class FileAccessError extends Error {
  override readonly name = 'FileAccessError';

  constructor(
    readonly path: string,
    readonly reason: string,
    /** The errno code behind it (ENOENT, EACCES, …). */
    readonly code: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

const ACCESS_REASONS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTDIR: 'a folder on its path is not a folder',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
};

/** stat(), with the errors of a file that cannot be reached as FileAccessErrors. */
function statOrRefuse(path: string, stat: (p: string) => Stats): Stats {
  try {
    return stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (code in ACCESS_REASONS) throw new FileAccessError(path, ACCESS_REASONS[code], code);
    throw e;
  }
}

function refuse(path: string, s: Stats, what: string): never {
  throw new FormatError(path, 'file', `expected ${what} (a regular file), found ${fileKind(s)}`);
}

/** Throws unless `path` is a regular file (symlinks followed): a FileAccessError when it cannot be reached. */
export async function requireRegularFile(path: string, what: string): Promise<Stats> {
  return requireRegularFileSync(path, what);
}

/** requireRegularFile, synchronously (option checks before a run starts). */
export function requireRegularFileSync(path: string, what: string): Stats {
  const s = statOrRefuse(path, statSync);
  if (!s.isFile()) refuse(path, s, what);
  return s;
}

/** Throws unless `path` is a folder: a FileAccessError ("no such folder") when it cannot be reached. */
export function requireFolderSync(path: string): Stats {
  let s: Stats;
  try {
    s = statOrRefuse(path, statSync);
  } catch (e) {
    if (e instanceof FileAccessError && e.code === 'ENOENT') throw new FileAccessError(path, 'no such folder', e.code);
    throw e;
  }
  if (!s.isDirectory()) throw new FileAccessError(path, `expected a folder, found ${fileKind(s)}`, 'ENOTDIR');
  return s;
}

/** A regular file's bytes; anything else is refused by name first. */
export async function readRegularFile(path: string, what: string): Promise<Buffer> {
  await requireRegularFile(path, what);
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (code in ACCESS_REASONS) throw new FileAccessError(path, ACCESS_REASONS[code], code);
    throw e;
  }
}
