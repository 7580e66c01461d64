// CSV reader, pure: text in, Dataset out, so the browser can use it on a file the user picked.
//
// One row per image: the label (an integer >= 0) in the first column (or the last: labelColumn),
// and the pixel values, one column each, in the image's row-major order ('hwc': a pixel's channels together, as numpy flattens an H x W x C array;
// 'chw': a whole channel after another). A header row is optional: the first row is one when any of
// its fields is not a number. The image shape is given (height, width[, channels]) or, without one,
// the row holds a square image of one channel (784 pixel columns: 28x28).
//
// Pixel values are either 0-255 integers or fractions in [0, 1], never both: without pixelRange the
// scale is decided from the values of every file of the set (train and test together): any value
// that is not a whole number makes it [0, 1], and then a value above 1 anywhere is refused as mixed
// (naming both places); only whole numbers make it 0-255. A file of only 0s and 1s is therefore read
// as 0-255: set pixelRange '0-1' for binary images. Errors name the file, the line (1-based, as an
// editor counts them, blank lines included) and the column.

import { FormatError } from '../util/format-error.js';
import { checkImageShape, classesBeyondLimits, DATA_LIMITS, DATA_LIMITS_WHY, requireTwoClasses, type Dataset, type PixelLayout } from './dataset.js';

/** '0-255': whole numbers in [0, 255], divided by 255; '0-1': numbers in [0, 1], kept. */
export type PixelRange = '0-255' | '0-1';

export const PIXEL_RANGES: readonly PixelRange[] = ['0-255', '0-1'];

/** Which column of a row holds the label: the first (the pixels follow) or the last (the pixels precede). */
export type LabelColumn = 'first' | 'last';

export const LABEL_COLUMNS: readonly LabelColumn[] = ['first', 'last'];

export interface CsvFile {
  /** Names the file in errors (a path in Node, a File's name in a browser). */
  fileName: string;
  text: string;
}

export interface CsvOptions {
  /** [height, width] or [height, width, channels]; absent: from the first row's column count, a square of one channel. */
  imageShape?: readonly [number, number, number?];
  /** Absent: decided from the values (see the file's comment). */
  pixelRange?: PixelRange;
  /** How a colour image's values are ordered in a row; default 'hwc'. */
  layout?: PixelLayout;
  /** Default 'first'. */
  labelColumn?: LabelColumn;
}

export interface CsvDatasetOptions extends CsvOptions {
  /** Labels must be below it; absent: the largest label of the (train) file + 1. */
  numClasses?: number;
  classNames?: readonly string[];
  /** Dataset names are `${name}/train` and `${name}/test` (csvDataset: `name` itself); default 'csv'. */
  name?: string;
}

interface Place {
  line: number;
  column: number;
  value: number;
}

/** A CSV file's rows, parsed and checked on their own (no class count or pixel scale applied yet). */
export interface CsvTable {
  fileName: string;
  /** The header row's fields, when the first row is one. */
  header?: string[];
  height: number;
  width: number;
  channels: number;
  layout: PixelLayout;
  /** The label's column, 1-based (1 or the last), for errors. */
  labelColumn: number;
  n: number;
  /** The labels as written (>= 0; not yet checked against a class count). */
  labels: Uint32Array;
  /** The 1-based line number of each row, for errors. */
  lines: Uint32Array;
  /** n * channels * height * width values as written, in the file's layout. */
  values: Float32Array;
  /** The first pixel value that is not a whole number. */
  fraction?: Place;
  /** The first pixel value above 1. */
  aboveOne?: Place;
}

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A field as a number (surrounding spaces and double quotes allowed), or NaN. */
function toNumber(field: string): number {
  let f = field.trim();
  if (f.length >= 2 && f.charCodeAt(0) === 34 && f.charCodeAt(f.length - 1) === 34) f = f.slice(1, -1).trim();
  return NUMBER.test(f) ? Number(f) : NaN;
}

function show(field: string): string {
  const f = field.trim();
  if (f === '') return 'an empty field';
  return JSON.stringify(f.length > 40 ? `${f.slice(0, 40)}…` : f);
}

function shapeText(h: number, w: number, c: number): string {
  return c === 1 ? `${h}x${w}` : `${h}x${w}x${c}`;
}

/** Parses one CSV file's rows and checks each on its own: column count, numbers, label >= 0 and integer, pixels in [0, 255]. */
export function parseCsvTable(file: CsvFile, options: CsvOptions = {}, shapeFrom = ''): CsvTable {
  const { fileName } = file;
  let text = file.text;
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.includes('\0')) throw new FormatError(fileName, 'encoding', 'found NUL characters: a binary file, not CSV text');
  const lines = text.split('\n');
  const isBlank = (l: string) => l.trim() === '';
  const first = lines.findIndex((l) => !isBlank(l));
  if (first < 0) throw new FormatError(fileName, 'rows', 'expected a row per image, found an empty file');
  const firstFields = lines[first].replace(/\r$/, '').split(',');
  const headerRow = !firstFields.every((f) => !Number.isNaN(toNumber(f)));
  const layout = options.layout ?? 'hwc';

  let height: number;
  let width: number;
  let channels: number;
  if (options.imageShape) {
    [height, width, channels] = checkImageShape(options.imageShape, fileName);
  } else {
    const pixels = firstFields.length - 1;
    const side = Math.round(Math.sqrt(pixels));
    if (pixels < 1 || side * side !== pixels) {
      const rgb = Math.round(Math.sqrt(pixels / 3));
      const hint = pixels > 0 && 3 * rgb * rgb === pixels ? ` (${rgb}x${rgb}x3 would fit: give that shape)` : '';
      throw new FormatError(
        fileName,
        `line ${first + 1}`,
        `${firstFields.length} columns: the ${pixels} after the label are not a square image of one channel, the shape read when none is given; give the image shape (height, width[, channels])${hint}`,
      );
    }
    [height, width, channels] = [side, side, 1];
  }
  const size = height * width * channels;
  const columns = 1 + size;
  const labelLast = options.labelColumn === 'last';
  const labelAt = labelLast ? size : 0; // the label's field index; the pixels are the other fields, in order
  const firstPixel = labelLast ? 0 : 1;
  const labelName = `column ${labelAt + 1} (the label)`;
  const expectColumns = `${columns} columns (${labelLast ? `${shapeText(height, width, channels)} = ${size} pixel values and a label` : `a label and ${shapeText(height, width, channels)} = ${size} pixel values`}${shapeFrom})`;
  if (headerRow && firstFields.length !== columns) {
    throw new FormatError(fileName, `line ${first + 1}`, `header row: expected ${expectColumns}, found ${firstFields.length}`);
  }

  const rows: number[] = [];
  for (let i = headerRow ? first + 1 : first; i < lines.length; i++) if (!isBlank(lines[i])) rows.push(i);
  if (rows.length === 0) throw new FormatError(fileName, 'rows', `expected a row per image after the header on line ${first + 1}, found none`);

  // Every row's field count first: n × size floats are allocated only for rows that hold them
  // (a short file with a large image shape would otherwise ask for gigabytes before its first row is read).
  for (const i of rows) {
    let fields = 1;
    for (let at = lines[i].indexOf(','); at >= 0; at = lines[i].indexOf(',', at + 1)) fields++;
    if (fields !== columns) throw new FormatError(fileName, `line ${i + 1}`, `expected ${expectColumns}, found ${fields}`);
  }
  const n = rows.length;
  const labels = new Uint32Array(n);
  const lineNumbers = new Uint32Array(n);
  const values = new Float32Array(n * size);
  const range = options.pixelRange;
  let fraction: Place | undefined;
  let aboveOne: Place | undefined;
  for (let r = 0; r < n; r++) {
    const line = rows[r] + 1;
    let row = lines[rows[r]];
    if (row.endsWith('\r')) row = row.slice(0, -1);
    const fields = row.split(',');
    lineNumbers[r] = line;
    const y = toNumber(fields[labelAt]);
    if (Number.isNaN(y)) throw new FormatError(fileName, `line ${line}`, `${labelName}: expected a number, found ${show(fields[labelAt])}`);
    if (!Number.isInteger(y) || y < 0) {
      throw new FormatError(fileName, `line ${line}`, `${labelName}: expected an integer >= 0, found ${fields[labelAt].trim()}`);
    }
    if (y >= DATA_LIMITS.classes) {
      throw new FormatError(fileName, `line ${line}`, `${labelName}: ${fields[labelAt].trim()} is not a class in [0, ${DATA_LIMITS.classes}): at most ${DATA_LIMITS.classes} classes, ${DATA_LIMITS_WHY}`);
    }
    labels[r] = y;
    const base = r * size;
    for (let j = firstPixel; j < firstPixel + size; j++) {
      const v = toNumber(fields[j]);
      if (Number.isNaN(v)) throw new FormatError(fileName, `line ${line}`, `column ${j + 1}: expected a pixel value (a number), found ${show(fields[j])}`);
      if (v < 0 || v > 255) {
        throw new FormatError(fileName, `line ${line}`, `column ${j + 1}: pixel value out of range: expected 0-255 integers or fractions in [0, 1], found ${fields[j].trim()}`);
      }
      if (!Number.isInteger(v)) {
        if (range === '0-255') throw new FormatError(fileName, `line ${line}`, `column ${j + 1}: expected an integer in [0, 255] (pixelRange 0-255), found ${fields[j].trim()}`);
        fraction ??= { line, column: j + 1, value: v };
      }
      if (v > 1) {
        if (range === '0-1') throw new FormatError(fileName, `line ${line}`, `column ${j + 1}: expected a value in [0, 1] (pixelRange 0-1), found ${fields[j].trim()}`);
        aboveOne ??= { line, column: j + 1, value: v };
      }
      values[base + j - firstPixel] = v;
    }
  }
  const table: CsvTable = { fileName, height, width, channels, layout, labelColumn: labelAt + 1, n, labels, lines: lineNumbers, values };
  if (headerRow) table.header = firstFields.map((f) => f.trim());
  if (fraction) table.fraction = fraction;
  if (aboveOne) table.aboveOne = aboveOne;
  return table;
}

/** The scale of a set of tables: given, or decided from their values; mixed scales refused naming both places. */
export function csvPixelRange(tables: readonly CsvTable[], given?: PixelRange): PixelRange {
  if (given) return given;
  const frac = tables.find((t) => t.fraction);
  if (!frac) return '0-255';
  const big = tables.find((t) => t.aboveOne);
  if (big) {
    const a = big.aboveOne!;
    const f = frac.fraction!;
    const there = frac === big ? '' : `${frac.fileName} `;
    throw new FormatError(
      big.fileName,
      `line ${a.line}`,
      `column ${a.column}: mixed pixel scales: ${a.value} is on the 0-255 scale, but ${there}line ${f.line} column ${f.column} holds ${f.value}, a fraction (the [0, 1] scale); ` +
        'write every pixel on one scale (or set pixelRange to say which)',
    );
  }
  return '0-1';
}

/** A table's rows as a Dataset: labels checked against numClasses, values scaled and ordered CHW. */
function tableDataset(t: CsvTable, range: PixelRange, numClasses: number, numClassesFrom: string, name: string, classNames?: readonly string[]): Dataset {
  for (let r = 0; r < t.n; r++) {
    const y = t.labels[r];
    if (y >= numClasses) throw new FormatError(t.fileName, `line ${t.lines[r]}`, `column ${t.labelColumn} (the label): expected a class in [0, ${numClasses})${numClassesFrom}, found ${y}`);
  }
  const { channels, height, width } = t;
  const plane = height * width;
  const size = plane * channels;
  const v = t.values;
  // 0-255 values are whole numbers (checked as read): bytes, as the 8-bit formats keep them.
  // Fractions stay float32.
  const images = range === '0-255' ? new Uint8Array(v.length) : channels === 1 || t.layout === 'chw' ? v : new Float32Array(v.length);
  if (channels === 1 || t.layout === 'chw') {
    if (images !== v) images.set(v);
  } else {
    for (let i = 0; i < t.n; i++) {
      const base = i * size;
      for (let p = 0; p < plane; p++) for (let c = 0; c < channels; c++) images[base + c * plane + p] = v[base + p * channels + c];
    }
  }
  const ds: Dataset = { images, labels: t.labels, n: t.n, channels, height, width, numClasses, name };
  if (classNames) ds.classNames = [...classNames];
  return ds;
}

function classCount(t: CsvTable, options: CsvDatasetOptions): { numClasses: number; from: string } {
  if (options.numClasses !== undefined) {
    if (!Number.isSafeInteger(options.numClasses) || options.numClasses < 1) {
      throw new FormatError(t.fileName, 'numClasses', `expected an integer >= 1, found ${options.numClasses}`);
    }
    const beyond = classesBeyondLimits(options.numClasses);
    if (beyond) throw new FormatError(t.fileName, 'numClasses', beyond);
    return { numClasses: options.numClasses, from: ' (numClasses)' };
  }
  let max = 0;
  for (const y of t.labels) max = Math.max(max, y);
  return { numClasses: max + 1, from: ` (the classes of ${t.fileName}: its largest label + 1; set numClasses for more)` };
}

/** Refuses a training table of one class, saying which column was read as the label (csvDatasets: a training set; csvDataset may be any split). */
function requireTwoCsvClasses(t: CsvTable): void {
  const last = t.labelColumn === 1;
  requireTwoClasses(t, t.fileName, (name) => `, read from column ${t.labelColumn}: is the label in the ${last ? 'last' : 'first'} column (${name('labelColumn')} ${last ? 'last' : 'first'})?`);
}

/** One CSV file as a dataset (pixel scale decided from it alone). */
export function csvDataset(file: CsvFile, options: CsvDatasetOptions = {}): Dataset {
  const t = parseCsvTable(file, options);
  const range = csvPixelRange([t], options.pixelRange);
  const k = classCount(t, options);
  return tableDataset(t, range, k.numClasses, k.from, options.name ?? 'csv', options.classNames);
}

/**
 * A train and a test CSV file as datasets: the test rows must have the train rows' shape and labels
 * below the train file's class count; the pixel scale is decided from both files together.
 */
export function csvDatasets(train: CsvFile, test: CsvFile, options: CsvDatasetOptions = {}): { train: Dataset; test: Dataset } {
  const a = parseCsvTable(train, options);
  const b = parseCsvTable(test, { ...options, imageShape: [a.height, a.width, a.channels] }, options.imageShape ? '' : `, the shape of ${train.fileName}`);
  const range = csvPixelRange([a, b], options.pixelRange);
  const k = classCount(a, options);
  const name = options.name ?? 'csv';
  const sets = {
    train: tableDataset(a, range, k.numClasses, k.from, `${name}/train`, options.classNames),
    test: tableDataset(b, range, k.numClasses, k.from, `${name}/test`, options.classNames),
  };
  requireTwoCsvClasses(a);
  return sets;
}
