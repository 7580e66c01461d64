// What data a run used, as a plain JSON object: the command line builds one, a checkpoint stores
// it, and loadDatasetSpec (src/cli/datasets.ts, Node) reads the data it names. Pure (no file
// access), so a browser can read and check one from a checkpoint too.

import { FormatError } from '../util/format-error.js';
import { checkImageShape, classesBeyondLimits, imageShapeBeyondLimits, type PixelLayout } from './dataset.js';
import { LABEL_COLUMNS, PIXEL_RANGES, type LabelColumn, type PixelRange } from './csv.js';

export const DATASET_KINDS = ['fashion-mnist', 'cifar10', 'cifar100', 'idx', 'csv', 'folder'] as const;
export type DatasetKind = (typeof DATASET_KINDS)[number];

export interface DatasetFiles {
  /** idx: an images file ([n, h, w] or [n, h, w, c], gzip or not) and its labels file, per split. */
  trainImages?: string;
  trainLabels?: string;
  testImages?: string;
  testLabels?: string;
  /** csv: the train and test files (gzip or not). */
  train?: string;
  test?: string;
}

/**
 * Which data, and how to read it:
 * - 'fashion-mnist': dir (default FASHION_MNIST_DIR) with the four IDX files;
 * - 'cifar10', 'cifar100': dir with the binary version's files;
 * - 'idx': dir with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
 *   t10k-labels-idx1-ubyte (each may end in .gz; images may be spelt idx4 for 4-D files), or files
 *   naming each (a file given wins over dir's);
 * - 'csv': files.train and files.test, or dir with train.csv and test.csv (or .csv.gz);
 * - 'folder': dir with train/<class>/<images> and test/<class>/<images>.
 * imageShape [height, width, channels?] (without channels: 1): idx, folder: the shape every image
 * must have (folder, with 3 channels: grey images read as colour); csv: the shape of a row (absent: a
 * square of one channel); fashion-mnist, cifar: checked. numClasses: idx, csv: labels must be below it (absent: the largest
 * train label + 1); folder: at least the class folders' count; fashion-mnist, cifar: checked.
 * layout: idx (4-D files) and csv, how a colour image's values are ordered (default 'hwc').
 * pixelRange: csv only (absent: decided from the values, see csv.ts).
 * labelColumn: csv only, the label's column, 'first' (default) or 'last'.
 * Relative paths are relative to the working folder: resolveDatasetSpec makes them absolute before storing.
 */
export interface DatasetSpec {
  kind: DatasetKind;
  dir?: string;
  files?: DatasetFiles;
  imageShape?: [number, number, number?];
  numClasses?: number;
  layout?: PixelLayout;
  pixelRange?: PixelRange;
  labelColumn?: LabelColumn;
}

const FILE_KEYS = ['trainImages', 'trainLabels', 'testImages', 'testLabels', 'train', 'test'] as const;
const IDX_FILE_KEYS = ['trainImages', 'trainLabels', 'testImages', 'testLabels'] as const;
const SPEC_KEYS = ['kind', 'dir', 'files', 'imageShape', 'numClasses', 'layout', 'pixelRange', 'labelColumn'] as const;

function show(v: unknown): string {
  return v === undefined ? 'nothing' : JSON.stringify(v);
}

/**
 * Checks a spec (from JSON: a checkpoint, an option) field by field and returns it typed; errors
 * are FormatErrors naming `where` and the field (e.g. 'dataset.files.train').
 */
export function checkDatasetSpec(raw: unknown, where: string, prefix = 'dataset'): DatasetSpec {
  const fail = (field: string, detail: string): never => {
    throw new FormatError(where, field === '' ? prefix : `${prefix}.${field}`, detail);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('', `expected an object, found ${show(raw)}`);
  const o = raw as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(SPEC_KEYS as readonly string[]).includes(k)) fail(k, `unknown field (known: ${SPEC_KEYS.join(', ')})`);
  const kind = o.kind;
  if (!(DATASET_KINDS as readonly unknown[]).includes(kind)) fail('kind', `expected one of ${DATASET_KINDS.join(', ')}, found ${show(kind)}`);
  const spec: DatasetSpec = { kind: kind as DatasetKind };
  if (o.dir !== undefined) {
    if (typeof o.dir !== 'string' || o.dir === '') fail('dir', `expected a folder path, found ${show(o.dir)}`);
    spec.dir = o.dir as string;
  }
  if (o.files !== undefined) {
    if (typeof o.files !== 'object' || o.files === null || Array.isArray(o.files)) fail('files', `expected an object of paths, found ${show(o.files)}`);
    const files: DatasetFiles = {};
    for (const [k, v] of Object.entries(o.files as object)) {
      if (!(FILE_KEYS as readonly string[]).includes(k)) fail(`files.${k}`, `unknown file (known: ${FILE_KEYS.join(', ')})`);
      if (typeof v !== 'string' || v === '') fail(`files.${k}`, `expected a file path, found ${show(v)}`);
      files[k as keyof DatasetFiles] = v as string;
    }
    spec.files = files;
  }
  if (o.imageShape !== undefined) {
    if (!Array.isArray(o.imageShape)) fail('imageShape', `expected [height, width] or [height, width, channels], found ${show(o.imageShape)}`);
    const [h, w, c] = checkImageShape(o.imageShape as unknown[], where, `${prefix}.imageShape`);
    spec.imageShape = (o.imageShape as unknown[]).length === 3 && (o.imageShape as unknown[])[2] !== undefined ? [h, w, c] : [h, w];
  }
  if (o.numClasses !== undefined) {
    if (!Number.isSafeInteger(o.numClasses) || (o.numClasses as number) < 1) fail('numClasses', `expected an integer >= 1, found ${show(o.numClasses)}`);
    const beyond = classesBeyondLimits(o.numClasses as number);
    if (beyond) fail('numClasses', beyond);
    spec.numClasses = o.numClasses as number;
  }
  if (o.layout !== undefined) {
    if (o.layout !== 'hwc' && o.layout !== 'chw') fail('layout', `expected "hwc" or "chw", found ${show(o.layout)}`);
    spec.layout = o.layout as PixelLayout;
  }
  if (o.pixelRange !== undefined) {
    if (!(PIXEL_RANGES as readonly unknown[]).includes(o.pixelRange)) fail('pixelRange', `expected ${PIXEL_RANGES.map((r) => `"${r}"`).join(' or ')}, found ${show(o.pixelRange)}`);
    spec.pixelRange = o.pixelRange as PixelRange;
  }
  if (o.labelColumn !== undefined) {
    if (!(LABEL_COLUMNS as readonly unknown[]).includes(o.labelColumn)) fail('labelColumn', `expected ${LABEL_COLUMNS.map((r) => `"${r}"`).join(' or ')}, found ${show(o.labelColumn)}`);
    spec.labelColumn = o.labelColumn as LabelColumn;
  }

  // What each kind takes.
  const k = spec.kind;
  const builtin = k === 'fashion-mnist' || k === 'cifar10' || k === 'cifar100';
  if (spec.files && (builtin || k === 'folder')) fail('files', `${k} reads a folder (dir), not files`);
  if (spec.layout && !(k === 'idx' || k === 'csv')) fail('layout', `applies to idx and csv data only, not ${k}`);
  if (spec.pixelRange && k !== 'csv') fail('pixelRange', `applies to csv data only, not ${k}`);
  if (spec.labelColumn && k !== 'csv') fail('labelColumn', `applies to csv data only, not ${k}`);
  if ((k === 'cifar10' || k === 'cifar100' || k === 'folder') && !spec.dir) fail('dir', `${k} needs the folder that holds the data, found nothing`);
  if (k === 'idx') {
    for (const f of Object.keys(spec.files ?? {})) if (!(IDX_FILE_KEYS as readonly string[]).includes(f)) fail(`files.${f}`, `idx data takes files.${IDX_FILE_KEYS.join(', files.')}`);
    if (!spec.dir) for (const f of IDX_FILE_KEYS) if (!spec.files?.[f]) fail(`files.${f}`, `idx data needs dir (a folder with the four conventional files) or all four files, found no dir and no ${f}`);
  }
  if (k === 'csv') {
    for (const f of Object.keys(spec.files ?? {})) if (f !== 'train' && f !== 'test') fail(`files.${f}`, 'csv data takes files.train and files.test');
    if (!spec.dir) for (const f of ['train', 'test'] as const) if (!spec.files?.[f]) fail(`files.${f}`, `csv data needs dir (a folder with train.csv and test.csv) or files.train and files.test, found no dir and no ${f}`);
  }
  return spec;
}

/** An image shape written on a command line: "28,28", "32,32,3" or "32x32x3" (height, width[, channels]). */
export function parseImageShape(text: string, option = 'imageShape'): [number, number, number?] {
  const parts = text.split(/[,x×]/).map((p) => p.trim());
  const nums = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  if ((nums.length !== 2 && nums.length !== 3) || nums.some((v) => !(v >= 1) || !Number.isSafeInteger(v))) {
    throw new Error(`${option} ${text}: expected height,width or height,width,channels (integers >= 1), e.g. 28,28 or 32,32,3`);
  }
  const beyond = imageShapeBeyondLimits(nums[0], nums[1], nums[2] ?? 1);
  if (beyond) throw new Error(`${option} ${text}: ${beyond}`);
  return nums.length === 3 ? [nums[0], nums[1], nums[2]] : [nums[0], nums[1]];
}
