// A teacher's logits computed anywhere (PyTorch, JAX, a model zoo), read from a file: one row of
// C logits per training sample, in the training set's order. Two formats, both pure (bytes in):
//
//   safetensors  a tensor `logits` [N, C], F32 or F16; optionally `test_logits` [M, C], the
//                teacher's logits on the test set (other tensors are ignored)
//   .npy         one array [N, C], dtype '<f4' or '<f2', C order (numpy.save's default)
//
// The file's sha256 keys the teacher cache. Everything about what the rows must match (the
// dataset's sample count and classes, and whether they look like they are in its order) is
// checked against the data by checkLogits, and every error names the file and what was expected.

import { FormatError } from '../util/format-error.js';
import { Sha256, toHex } from '../util/sha256.js';
import { decodeSafetensors, DTYPE_BYTES, type Dtype } from '../io/safetensors.js';

export interface LogitsMatrix {
  rows: number;
  classes: number;
  /** rows × classes, row-major, as float32. */
  data: Float32Array;
  /** The file's element type ('F32' or 'F16'). */
  dtype: 'F32' | 'F16';
  /** Where it came from: 'FILE tensor "logits"', 'FILE (npy)'. */
  source: string;
}

export interface LogitsFile {
  fileName: string;
  /** Hex sha256 of the file's bytes. */
  hash: string;
  logits: LogitsMatrix;
  /** The safetensors tensor `test_logits`, when the file has one. */
  testLogits?: LogitsMatrix;
}

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

function isNpy(bytes: Uint8Array): boolean {
  return NPY_MAGIC.every((b, i) => bytes[i] === b);
}

/** Reads a logits file (.npy by its magic, else safetensors). */
export function readLogitsFile(input: Uint8Array, fileName: string): LogitsFile {
  // A plain view: a Node Buffer's slice() does not copy.
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const hash = toHex(new Sha256().update(bytes).digest());
  if (isNpy(bytes)) return { fileName, hash, logits: readNpy(bytes, fileName) };
  let file;
  try {
    file = decodeSafetensors(bytes, fileName, { dtypes: Object.keys(DTYPE_BYTES) as Dtype[] });
  } catch (e) {
    if (e instanceof FormatError && e.field === 'header') {
      throw new FormatError(fileName, 'file', `expected teacher logits: a safetensors file with a tensor "logits" [N, C], or a .npy file [N, C] (float32 or float16); ${e.detail}`);
    }
    throw e;
  }
  const matrix = (name: string): LogitsMatrix | undefined => {
    const t = file.tensors.get(name);
    if (!t) return undefined;
    const field = `tensor "${name}"`;
    if (t.dtype !== 'F32' && t.dtype !== 'F16') throw new FormatError(fileName, `${field} dtype`, `expected F32 or F16 (float32 or float16 logits), found ${t.dtype}`);
    if (t.shape.length !== 2) throw new FormatError(fileName, `${field} shape`, `expected [N, C] (a row of C logits per sample), found [${t.shape.join(', ')}]`);
    const data = t.dtype === 'F32' ? (t.data as Float32Array) : halfToFloat(t.data as Uint8Array); // decodeSafetensors' arrays are fresh copies
    return { rows: t.shape[0], classes: t.shape[1], data, dtype: t.dtype, source: `${fileName} ${field}` };
  };
  const logits = matrix('logits');
  if (!logits) {
    const found = [...file.tensors.keys()];
    throw new FormatError(fileName, 'tensor "logits"', `missing: teacher logits are a tensor "logits" [N, C] (and optionally "test_logits" [M, C]); the file holds ${found.length ? found.map((n) => `"${n}"`).join(', ') : 'no tensors'}`);
  }
  const testLogits = matrix('test_logits');
  return { fileName, hash, logits, ...(testLogits ? { testLogits } : {}) };
}

/** numpy's .npy format, versions 1 to 3: magic, version, header length, a Python dict literal, the data. */
function readNpy(bytes: Uint8Array, fileName: string): LogitsMatrix {
  const fail = (field: string, detail: string): never => {
    throw new FormatError(fileName, field, detail);
  };
  const major = bytes[6];
  if (major < 1 || major > 3 || bytes.length < 10) fail('npy version', `expected 1, 2 or 3, found ${major}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + headerLength > bytes.length) fail('npy header', `the header is ${headerLength} bytes, the file ends before it does: truncated`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) fail('npy header', `expected a dict with 'descr', 'fortran_order' and 'shape', found ${header.trim().slice(0, 120)}`);
  const NAMES: Record<string, string> = { f8: 'float64', f4: 'float32', f2: 'float16', i8: 'int64', i4: 'int32', i2: 'int16', i1: 'int8', u1: 'uint8', b1: 'bool' };
  const kind = descr!.replace(/^[<>|=]/, '');
  const little = !descr!.startsWith('>'); // '<', '|' or '=' (native: every host kdgpu runs on is little-endian)
  if ((kind !== 'f4' && kind !== 'f2') || !little) {
    fail('npy dtype', `expected float32 or float16 logits, little-endian ('<f4' or '<f2'), found '${descr}'${NAMES[kind] ? ` (${descr!.startsWith('>') ? 'big-endian ' : ''}${NAMES[kind]})` : ''}: convert with x.astype('<f4')`);
  }
  if (fortran === 'True') fail('npy fortran_order', "expected False (C order, one sample's logits after another), found True: save np.ascontiguousarray(x)");
  const shape = shapeText!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (shape.length !== 2 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail('npy shape', `expected [N, C] (a row of C logits per sample), found (${shapeText})`);
  const [rows, classes] = shape;
  const width = kind === 'f4' ? 4 : 2;
  const dataStart = start + headerLength;
  const need = rows * classes * width;
  if (bytes.length - dataStart !== need) fail('npy data', `shape (${rows}, ${classes}) of ${descr} needs ${need} bytes, the file has ${bytes.length - dataStart} after the header`);
  const raw = new Uint8Array(need); // an aligned copy (bytes may be a view into a larger buffer)
  raw.set(bytes.subarray(dataStart, dataStart + need));
  const data = width === 4 ? new Float32Array(raw.buffer, 0, rows * classes) : halfToFloat(raw);
  return { rows, classes, data, dtype: width === 4 ? 'F32' : 'F16', source: `${fileName} (npy)` };
}

/** IEEE 754 half-precision (little-endian bytes) to float32. */
export function halfToFloat(bytes: Uint8Array): Float32Array {
  const n = bytes.length >> 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const h = bytes[2 * i] | (bytes[2 * i + 1] << 8);
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    out[i] = exp === 0 ? sign * frac * 2 ** -24 : exp === 31 ? (frac ? NaN : sign * Infinity) : sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return out;
}

/** float32 to IEEE 754 half-precision bytes (round to nearest even): for tests and writers. */
export function floatToHalf(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < values.length; i++) {
    f[0] = values[i];
    const x = u[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = ((x >>> 23) & 0xff) - 127 + 15;
    let mant = x & 0x7fffff;
    let h: number;
    if (((x >>> 23) & 0xff) === 0xff) h = sign | 0x7c00 | (mant ? 0x200 : 0);
    else if (exp >= 31) h = sign | 0x7c00;
    else if (exp <= 0) {
      if (exp < -10) h = sign;
      else {
        mant |= 0x800000;
        const shift = 14 - exp;
        const half = 1 << (shift - 1);
        let m = mant >> shift;
        const rest = mant & ((1 << shift) - 1);
        if (rest > half || (rest === half && m & 1)) m++;
        h = sign | m;
      }
    } else {
      let m = mant >> 13;
      const rest = mant & 0x1fff;
      let e = exp;
      if (rest > 0x1000 || (rest === 0x1000 && m & 1)) {
        m++;
        if (m === 0x400) {
          m = 0;
          e++;
        }
      }
      h = e >= 31 ? sign | 0x7c00 : sign | (e << 10) | m;
    }
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >> 8;
  }
  return out;
}

/** How well logits agree with labels, and what a file in the wrong order would score. */
export interface LogitsAgreement {
  /** Top-1 accuracy of the rows against the labels. */
  accuracy: number;
  /** Expected accuracy of these predictions against these labels in a random order: Σ_c P(label c)·P(predicted c). */
  chance: number;
  /** The least accuracy accepted as "in the data's order": chance + max(10% of (1 − chance), 4 standard deviations of a shuffled file's accuracy). */
  threshold: number;
  rows: number;
}

/** Compares the argmax of `logits` (rows × classes) with `labels`, over `rows` (default: all). */
export function logitsAgreement(logits: Float32Array, classes: number, labels: ArrayLike<number>, rows?: ArrayLike<number>): LogitsAgreement {
  const n = rows ? rows.length : labels.length;
  const labelCount = new Float64Array(classes);
  const predCount = new Float64Array(classes);
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const k = rows ? rows[i] : i;
    let best = 0;
    const base = k * classes;
    for (let c = 1; c < classes; c++) if (logits[base + c] > logits[base + best]) best = c;
    predCount[best]++;
    labelCount[labels[k]]++;
    if (best === labels[k]) correct++;
  }
  let chance = 0;
  for (let c = 0; c < classes; c++) chance += (labelCount[c] / n) * (predCount[c] / n);
  const sd = Math.sqrt((chance * (1 - chance)) / Math.max(1, n));
  return { accuracy: n ? correct / n : 0, chance, threshold: chance + Math.max(0.1 * (1 - chance), 4 * sd), rows: n };
}

const percent = (x: number) => `${(100 * x).toFixed(2)}%`;

/** A teacher's agreement with the training labels, in words, beside what chance and a teacher would give. */
export function describeAgreement(a: LogitsAgreement): string {
  return `${percent(a.accuracy)} of the ${a.rows} training rows, where the same predictions in a random order would agree on ${percent(a.chance)} (at least ${percent(a.threshold)} is expected of a teacher)`;
}

/**
 * The one check of a teacher given as logits or run elsewhere: its predictions (`what`) must agree
 * with the training labels above chance, or they are in another order or the model was fed wrongly;
 * `hint` says what to check.
 */
export function refuseChanceTeacher(a: LogitsAgreement, what: string, hint: string): void {
  if (a.accuracy < a.threshold) throw new Error(`${what} agree with the training labels on ${describeAgreement(a)}: ${hint}`);
}

/** The first non-finite logit, named by row and class, or nothing. */
function refuseNonFiniteLogits(m: LogitsMatrix): void {
  for (let i = 0; i < m.data.length; i++) {
    if (!Number.isFinite(m.data[i])) {
      throw new Error(`${m.source}: row ${Math.floor(i / m.classes)}, class ${i % m.classes}: expected a finite logit, found ${m.data[i]}`);
    }
  }
}

/**
 * The checks a logits matrix must pass for a dataset split: finite, C = the dataset's classes, and
 * the right number of rows (`exactRows`: N must equal it; otherwise at least `rows`, of which the
 * first are used: a test set cut by --test-subset).
 */
export function checkLogitsShape(m: LogitsMatrix, expected: { rows: number; classes: number; exactRows: boolean; what: string; rowsHint: string }): void {
  if (m.classes !== expected.classes) {
    throw new Error(`${m.source}: [${m.rows}, ${m.classes}] has ${m.classes} logits per row, ${expected.what} has ${expected.classes} classes: expected [${expected.rows}, ${expected.classes}]`);
  }
  const ok = expected.exactRows ? m.rows === expected.rows : m.rows >= expected.rows;
  if (!ok) {
    throw new Error(`${m.source}: [${m.rows}, ${m.classes}] has ${m.rows} rows, ${expected.what} has ${expected.rows} samples: expected [${expected.rows}, ${m.classes}], ${expected.rowsHint}`);
  }
  refuseNonFiniteLogits(m);
}
