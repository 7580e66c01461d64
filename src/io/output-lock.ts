// Node-only: one run per output file. Two runs writing the same checkpoint both printed "saved"
// while the file held one of them; now each output is locked for the run's duration by a file
// beside it, `<output>.lock`, holding the writer's PID. It is created atomically (written under a
// temporary name, then hard-linked into place, which fails if the lock exists), removed when the
// run ends, when the process exits, and on SIGINT/SIGTERM/SIGHUP; a lock left by a process that
// no longer exists (SIGKILL, a crash) is taken over.

import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { processAlive, tempPathFor } from './checkpoint-file.js';

/** The lock file of an output. */
export const lockPathFor = (path: string): string => `${path}.lock`;

/** Locks this process holds: lock path → how many holders (one process may lock an output again, e.g. a check then the run). */
const held = new Map<string, number>();

/** Another process holds an output's lock. */
export class OutputLocked extends Error {
  constructor(
    readonly output: string,
    readonly pid: number,
    what: string,
  ) {
    super(`${what}: another kdgpu run (PID ${pid}) is writing it (its lock: ${lockPathFor(output)}); wait for that run to end, or choose another file`);
    this.name = 'OutputLocked';
  }
}

function readPid(lock: string): number | null {
  try {
    const pid = Number(readFileSync(lock, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Create `lock` holding our PID, atomically; false if it exists. */
function tryCreate(lock: string): boolean {
  const tmp = tempPathFor(lock);
  writeFileSync(tmp, `${process.pid}\n`, { flag: 'wx' });
  try {
    linkSync(tmp, lock);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    unlinkSync(tmp);
  }
}

/**
 * Moves a dead process's lock aside (a rename: of two processes taking over the same stale lock,
 * one succeeds) and removes it; a live one moved by mistake (it replaced the stale lock between
 * our read and our rename) is put back.
 */
function takeOver(lock: string, deadPid: number | null): void {
  const aside = `${lock}.${process.pid}.stale`;
  try {
    renameSync(lock, aside);
  } catch {
    return; // gone already: someone else took it over, or its holder ended
  }
  const pid = readPid(aside);
  if (pid !== deadPid && pid !== null && processAlive(pid)) {
    try {
      linkSync(aside, lock);
    } catch {
      // a third process holds the lock now: it stays theirs
    }
  }
  unlinkSync(aside);
}

/**
 * Lock `path` (an output) for this process; `what` names it in the error when another live
 * process holds it. Returns the release function (idempotent per call).
 */
export function lockOutput(path: string, what: string): () => void {
  const lock = lockPathFor(path);
  const mine = held.get(lock);
  if (mine !== undefined) {
    held.set(lock, mine + 1);
  } else {
    for (let attempt = 0; ; attempt++) {
      if (tryCreate(lock)) break;
      const pid = readPid(lock);
      if (pid !== null && pid !== process.pid && processAlive(pid)) throw new OutputLocked(path, pid, what);
      if (attempt === 3) throw new Error(`${what}: could not take over its lock ${lock} (held by ${pid === null ? 'no readable PID' : `PID ${pid}, which has ended`}): remove that file if no kdgpu run is writing ${path}`);
      takeOver(lock, pid); // a dead process's lock, or one with no PID in it
    }
    held.set(lock, 1);
    releaseOnExit();
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const n = held.get(lock) ?? 0;
    if (n > 1) held.set(lock, n - 1);
    else unlock(lock);
  };
}

/** Remove a lock of ours (only if it still holds our PID). */
function unlock(lock: string): void {
  held.delete(lock);
  if (readPid(lock) !== process.pid) return;
  try {
    unlinkSync(lock);
  } catch {
    // removed already
  }
}

let hooked = false;

/** Locks go with the process: at exit, and on the signals that end it (re-raised after, so it still ends by that signal). */
function releaseOnExit(): void {
  if (hooked) return;
  hooked = true;
  const releaseAll = () => [...held.keys()].forEach(unlock);
  process.on('exit', releaseAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      releaseAll();
      process.kill(process.pid, signal);
    });
  }
}
