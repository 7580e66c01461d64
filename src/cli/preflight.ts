// Checks made before a command writes anything or spends an epoch: outputs that are also inputs
// (`--metrics` pointed at the teacher once emptied it), output folders that do not exist or cannot
// be written (found only when the first checkpoint was saved), and a new run about to replace the
// checkpoint of another. Each error names the options and paths involved and what to do instead.

import { accessSync, constants, existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileKind, requireRegularFileSync } from '../io/regular-file.js';
import { datasetFiles } from '../data/load-dataset.js';
import type { DatasetSpec } from '../data/spec.js';

/** A path given on the command line, with the option (or role) that gave it. */
export interface NamedPath {
  option: string;
  path: string;
  /** What an input must be, for the error when it is not a regular file (default: "the <option> checkpoint"). */
  what?: string;
}

/** A path as the filesystem resolves it, symlinks followed; for one that does not exist yet, through its folder. */
export function canonicalPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(resolve(path))), basename(path));
    } catch {
      return resolve(path);
    }
  }
}

/** The same file: the same resolved path, or (both existing) the same inode, so hard links count too. */
function sameFile(a: string, b: string): boolean {
  if (canonicalPath(a) === canonicalPath(b)) return true;
  try {
    const [sa, sb] = [statSync(a), statSync(b)];
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

/** Refuses an output that is also an input, or two outputs that are one file, naming both options. */
export function refuseOverlaps(outputs: NamedPath[], inputs: NamedPath[]): void {
  for (const [i, o] of outputs.entries()) {
    for (const input of inputs) {
      if (sameFile(o.path, input.path)) {
        throw new Error(`${o.option} ${o.path} is the same file as ${input.option} ${input.path}: writing ${o.option} would destroy that input; choose another ${o.option}`);
      }
    }
    for (const other of outputs.slice(i + 1)) {
      if (sameFile(o.path, other.path)) throw new Error(`${o.option} ${o.path} and ${other.option} ${other.path} are the same file: each output needs its own`);
    }
  }
}

/** An output file can be written: its folder exists, is a folder and is writable; if it exists, it is a regular file. */
export function checkOutputFile({ option, path }: NamedPath): void {
  const folder = dirname(resolve(path));
  let s;
  try {
    s = statSync(folder);
  } catch {
    throw new Error(`${option} ${path}: the folder ${folder} does not exist; create it first`);
  }
  if (!s.isDirectory()) throw new Error(`${option} ${path}: ${folder} is ${fileKind(s)}, not a folder`);
  try {
    accessSync(folder, constants.W_OK);
  } catch {
    throw new Error(`${option} ${path}: the folder ${folder} is not writable`);
  }
  if (existsSync(path) && !statSync(path).isFile()) throw new Error(`${option} ${path}: is ${fileKind(statSync(path))}, expected a file to write`);
}

/** An output folder (ablate's --out-dir): a folder if it exists; its nearest existing ancestor must be a writable folder. */
export function checkOutputFolder({ option, path }: NamedPath): void {
  let at = resolve(path);
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  const s = statSync(at);
  if (!s.isDirectory()) throw new Error(`${option} ${path}: ${at} is ${fileKind(s)}, not a folder`);
  try {
    accessSync(at, constants.W_OK);
  } catch {
    throw new Error(`${option} ${path}: the folder ${at} is not writable`);
  }
}

/** A new run does not replace an existing checkpoint unless told to: --resume continues it, --overwrite replaces it. */
export function checkFreshOut(o: { out?: string; resume?: boolean; overwrite?: boolean }): void {
  if (o.resume && o.overwrite) throw new Error('--resume and --overwrite cannot be used together: --resume continues the run saved at --out, --overwrite starts a new one over it');
  if (o.overwrite && !o.out) throw new Error('--overwrite needs --out: it allows a new run to replace the checkpoint there');
  if (o.out && !o.resume && !o.overwrite && existsSync(o.out)) {
    throw new Error(`--out ${o.out} already exists: pass --resume to continue the run it holds, or --overwrite to replace it with this new run (at the end of its first epoch)`);
  }
}

/** The dataset's files, named for the errors above: by spec when one is given (any kind), else by --dataset and --data-dir. */
export function datasetInputs(o: { dataset?: string; dataDir?: string; datasetSpec?: DatasetSpec }): NamedPath[] {
  const named = o.datasetSpec ?? o.dataset;
  if (named === undefined) return [];
  const label = o.datasetSpec?.kind ?? o.dataset;
  return datasetFiles(named, o.dataDir).map((path) => ({ option: `the ${label} file`, path }));
}

/** Everything train and distill check before they start: their outputs (--out, --metrics) against inputs and folders, and --out's run. */
export function checkRunPaths(o: { out?: string; metrics?: string; resume?: boolean; overwrite?: boolean; dataset?: string; dataDir?: string; datasetSpec?: DatasetSpec }, inputs: NamedPath[] = []): void {
  const outputs: NamedPath[] = [];
  if (o.out) outputs.push({ option: '--out', path: o.out });
  if (o.metrics) outputs.push({ option: '--metrics', path: o.metrics });
  for (const i of inputs) requireRegularFileSync(i.path, i.what ?? `the ${i.option} checkpoint`);
  refuseOverlaps(outputs, [...inputs, ...datasetInputs(o)]);
  for (const p of outputs) checkOutputFile(p);
  checkFreshOut(o);
}
