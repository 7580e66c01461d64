// Checks made before a command writes anything or spends an epoch, under four rules:
// - no output touches an input: every file a command reads (teachers, checkpoints, the run it
//   resumes, logits, modules, and every data file, named or recorded in a checkpoint it loads) is
//   compared with every file it writes (--out, --metrics, --json, ablate's --out-dir files), as the
//   filesystem resolves them (symlinks, hard links), whatever --overwrite says;
// - nothing existing is replaced without --overwrite (--resume continues --out and its --metrics);
// - one run per output: each output is locked for the run (src/io/output-lock.ts);
// - outputs can be written: a folder that exists and is writable, a regular file if it exists.
// runFiles() is the one place that knows which option of which command reads or writes what.

import { accessSync, constants, existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { FileAccessError, fileKind, requireFolderSync, requireRegularFileSync } from '../io/regular-file.js';
import { readCheckpointConfigSync } from '../io/checkpoint-file.js';
import { lockOutput } from '../io/output-lock.js';
import type { ModelConfig } from '../nn/model-checkpoint.js';
import { datasetFiles } from '../data/load-dataset.js';
import type { DatasetSpec } from '../data/spec.js';
import { DATA_FILE_OPTIONS, namesData, specFromOptions, specOfCheckpoint, type DataOptions } from './data-options.js';

/** A path given on the command line, with the option (or role) that gave it. */
export interface NamedPath {
  option: string;
  path: string;
  /** An input that must exist as a regular file: what it is, for the error when it is not. */
  what?: string;
  /** Said after the path in errors: where it came from (e.g. the checkpoint that records it). */
  source?: string;
}

/** A file a command writes. */
export interface OutputPath extends NamedPath {
  /** --resume continues what the file holds (appends, or replaces the run it holds): an existing file is expected. */
  continues?: boolean;
  /** Written into a folder the command creates (ablate's --out-dir). */
  inFolder?: boolean;
  /** Said when the file exists and --overwrite was not given (default: pass --overwrite to replace it). */
  exists?: string;
}

/** What a command reads and writes. */
export interface RunFiles {
  /** Files read: those with `what` must exist; the rest (every spelling a data loader accepts) are compared only. */
  inputs: NamedPath[];
  outputs: OutputPath[];
}

/** The files ablate writes into --out-dir (rewritten after every run). */
export const ABLATION_FILES = ['ablation.md', 'ablation.json', 'ablation.svg'] as const;

export type CommandName = 'train' | 'distill' | 'ablate' | 'eval' | 'export' | 'verify' | 'bench';

/** The options that name files, across the commands (each has some of them). */
export interface FileOptions extends DataOptions {
  /** One teacher, or several (an ensemble). */
  teacher?: string | readonly string[];
  /** The further teachers of an ensemble, when `teacher` holds the first. */
  moreTeachers?: readonly string[];
  teacherLogits?: string;
  teacherTestLogits?: string;
  checkpoint?: string;
  checks?: readonly string[];
  out?: string;
  metrics?: string;
  json?: string | boolean;
  outDir?: string;
  resume?: boolean;
  overwrite?: boolean;
}

const isOnnx = (path: string) => /\.onnx$/i.test(path);

/** The data a checkpoint records, if it is one that records any (an ONNX file, a broken file: none; loading reports the latter). */
function recordedData(path: string): DatasetSpec | undefined {
  const config = readCheckpointConfigSync(path);
  if (typeof config !== 'object' || config === null) return undefined;
  try {
    return specOfCheckpoint(config as ModelConfig, path);
  } catch {
    return undefined;
  }
}

/** A dataset's files, named for the errors ("the csv file"), with where the dataset came from if not from the options. */
export function dataInputs(spec: DatasetSpec, source?: string): NamedPath[] {
  return datasetFiles(spec).map((path) => ({ option: `the ${spec.kind} file`, path, ...(source ? { source } : {}) }));
}

/**
 * Every file `command` reads and writes with options `o`: the one list the checks below and the
 * locks work from. The data: the options' (or the command's default), and the data recorded by
 * every checkpoint it loads (teachers, --checkpoint, the run --resume continues).
 */
export function runFiles(command: CommandName, o: FileOptions): RunFiles {
  const inputs: NamedPath[] = [];
  const outputs: OutputPath[] = [];
  // Checkpoints that may record data; a teacher's or --checkpoint's is the command's data unless the options name other.
  const loaded: Array<NamedPath & { dataByDefault: boolean }> = [];
  const teachers = [...(o.teacher === undefined ? [] : typeof o.teacher === 'string' ? [o.teacher] : o.teacher), ...(o.moreTeachers ?? [])];
  for (const t of teachers) {
    inputs.push({ option: '--teacher', path: t, what: isOnnx(t) ? 'the --teacher ONNX model' : 'the --teacher checkpoint' });
    if (!isOnnx(t)) loaded.push({ option: '--teacher', path: t, dataByDefault: true });
  }
  if (o.teacherLogits !== undefined) inputs.push({ option: '--teacher-logits', path: o.teacherLogits, what: 'the --teacher-logits file' });
  if (o.teacherTestLogits !== undefined) inputs.push({ option: '--teacher-test-logits', path: o.teacherTestLogits, what: 'the --teacher-test-logits file' });
  if (o.checkpoint !== undefined) {
    inputs.push({ option: '--checkpoint', path: o.checkpoint, what: 'a checkpoint' });
    loaded.push({ option: '--checkpoint', path: o.checkpoint, dataByDefault: true });
  }
  for (const c of o.checks ?? []) inputs.push({ option: '--checks', path: c });

  const training = command === 'train' || command === 'distill';
  if (o.out !== undefined) {
    const out: OutputPath = { option: '--out', path: o.out };
    if (training) {
      out.continues = o.resume;
      out.exists = 'pass --resume to continue the run it holds, or --overwrite to replace it with this new run (at the end of its first epoch)';
      // The run --resume continues is read as well: the data it records is an input.
      if (o.resume && o.out !== '' && existsSync(o.out)) loaded.push({ option: '--out (the run --resume continues)', path: o.out, dataByDefault: false });
    }
    outputs.push(out);
  }
  if (o.metrics !== undefined) {
    // A resumed run appends to its metrics; a run that starts (nothing at --out yet) empties them.
    const continues = !!o.resume && !!o.out && existsSync(o.out);
    outputs.push({ option: '--metrics', path: o.metrics, continues, ...(o.resume && !continues ? { exists: '--resume found no run at --out to continue, so this run starts afresh and would empty it: remove it or choose another --metrics' } : {}) });
  }
  if (typeof o.json === 'string' && (command === 'export' || command === 'verify' || command === 'bench')) outputs.push({ option: '--json', path: o.json });
  if (o.outDir !== undefined && command === 'ablate') {
    // --resume continues the ablation the folder holds (its runs with the same options are kept).
    for (const f of ABLATION_FILES) outputs.push({ option: `--out-dir's ${f}`, path: join(o.outDir, f), inFolder: true, continues: o.resume, exists: 'pass --resume to continue the ablation it holds, or --overwrite to start a new one' });
  }

  const recorded = loaded.flatMap(({ option, path, dataByDefault }) => {
    const spec = path === '' ? undefined : recordedData(path);
    return spec ? [{ spec, source: ` (data recorded by ${option} ${path})`, dataByDefault }] : [];
  });
  // The data the options name, or what the command reads when they name none: as the commands
  // decide it, a teacher's or --checkpoint's data by default, else fashion-mnist.
  const fallback = recorded.find((r) => r.dataByDefault)?.spec;
  let named: DatasetSpec | undefined;
  if (command !== 'verify' && command !== 'export' && namesData(o)) named = specFromOptions(o, fallback ?? { kind: 'fashion-mnist' });
  else if (!fallback && training) named = { kind: 'fashion-mnist' };
  if (named) inputs.push(...dataInputs(named));
  for (const r of recorded) inputs.push(...dataInputs(r.spec, r.source));
  return { inputs, outputs };
}

/** `check`, with a file that cannot be reached reported by its option: "--teacher t.safetensors: no such file". */
function byOption(option: string, check: () => void): void {
  try {
    check();
  } catch (e) {
    if (e instanceof FileAccessError) throw new Error(`${option} ${e.path}: ${e.reason}`);
    throw e;
  }
}

/** An input file given by an option: there, a regular file, readable; errors name the option and the path. */
export function requireInputFile({ option, path, what }: NamedPath): void {
  byOption(option, () => {
    requireRegularFileSync(path, what ?? `the ${option} checkpoint`);
    try {
      accessSync(path, constants.R_OK);
    } catch (e) {
      throw new FileAccessError(path, 'permission denied', (e as NodeJS.ErrnoException).code ?? 'EACCES');
    }
  });
}

/** The data files and the folder the options name (--train-images …, --train-csv …, --data-dir): there and readable. */
export function checkDataInputs(o: DataOptions): void {
  for (const [key, option] of DATA_FILE_OPTIONS) {
    const path = o[key];
    if (path !== undefined) requireInputFile({ option, path, what: 'a data file' });
  }
  const dir = o.dataDir;
  if (dir !== undefined) byOption('--data-dir', () => requireFolderSync(dir));
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

/** The same file: the same resolved path, or (both existing) the same device and inode, so hard links count too. */
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
        throw new Error(`${o.option} ${o.path} is the same file as ${input.option} ${input.path}${input.source ?? ''}: writing ${o.option} would destroy that input; choose another ${o.option}`);
      }
    }
    for (const other of outputs.slice(i + 1)) {
      if (sameFile(o.path, other.path)) throw new Error(`${o.option} ${o.path} and ${other.option} ${other.path} are the same file: each output needs its own`);
    }
  }
}

/** An output file can be written: its folder exists (or, `makesFolder`, its nearest existing ancestor), is a folder and is writable; if it exists, it is a regular file. */
export function checkOutputFile({ option, path }: NamedPath, makesFolder = false): void {
  let folder = dirname(resolve(path));
  if (makesFolder) while (!existsSync(folder) && dirname(folder) !== folder) folder = dirname(folder);
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

/**
 * Everything checked before a command reads data or writes a file, in this order: no empty paths;
 * inputs that must exist do; no output is an input or another output; outputs can be written; an
 * existing output is replaced only with --overwrite (or continued with --resume).
 */
export function checkRunFiles({ inputs, outputs }: RunFiles, o: { resume?: boolean; overwrite?: boolean } & DataOptions): void {
  for (const p of [...inputs, ...outputs]) if (p.path === '') throw new Error(`${p.option} "": expected a file name`);
  if (o.resume && o.overwrite) throw new Error('--resume and --overwrite cannot be used together: --resume continues the run saved at --out, --overwrite starts a new one over it');
  if (o.resume && !outputs.some((p) => p.option === '--out' || p.inFolder)) throw new Error('--resume needs --out: the checkpoint to continue from and to keep writing');
  if (o.overwrite && outputs.length === 0) throw new Error('--overwrite needs an output to replace (--out, --metrics, --json or --out-dir)');
  for (const i of inputs) if (i.what) requireInputFile(i);
  checkDataInputs(o);
  refuseOverlaps(outputs, inputs);
  const outDir = outputs.find((p) => p.inFolder);
  if (outDir) checkOutputFolder({ option: '--out-dir', path: dirname(outDir.path) });
  for (const p of outputs) checkOutputFile(p, p.inFolder);
  for (const p of outputs) {
    if (!o.overwrite && !p.continues && existsSync(p.path)) throw new Error(`${p.option} ${p.path} already exists: ${p.exists ?? 'pass --overwrite to replace it'}`);
  }
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

/**
 * Locks every output of a run (one run per output, see src/io/output-lock.ts), after the checks;
 * the returned function releases them (exit and SIGINT/SIGTERM release them too). Output folders
 * must exist by now.
 */
export function lockOutputs({ outputs }: RunFiles): () => void {
  const releases: Array<() => void> = [];
  try {
    for (const p of outputs) releases.push(lockOutput(p.path, `${p.option} ${p.path}`));
  } catch (e) {
    releases.forEach((r) => r());
    throw e;
  }
  return () => releases.forEach((r) => r());
}

/**
 * A run's claim on its files: the checks, the locks, then the checks again (another run may have
 * created an output between the first checks and the lock). Returns the release function.
 */
export function claimRunFiles(files: RunFiles, o: { resume?: boolean; overwrite?: boolean } & DataOptions): () => void {
  checkRunFiles(files, o);
  const release = lockOutputs(files);
  try {
    checkRunFiles(files, o);
  } catch (e) {
    release();
    throw e;
  }
  return release;
}
