// The safetensors format (huggingface/safetensors), pure: bytes in, tensors out, and back.
//
//     [u64 little-endian N] [N bytes of UTF-8 JSON header, space-padded to a multiple of 8] [data]
//
// The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets relative
// to the start of the data) and may hold "__metadata__": {string: string}. The data is the tensors'
// little-endian bytes, contiguous, without holes, covering the rest of the file. The writer lays
// tensors out as the reference implementation does (by descending dtype alignment, then by name),
// so a file we write is byte-identical to one written by the Rust/Python library.

import { FormatError } from '../util/format-error.js';

export type Dtype =
  | 'BOOL' | 'U8' | 'I8' | 'F8_E5M2' | 'F8_E4M3' | 'I16' | 'U16' | 'F16' | 'BF16'
  | 'I32' | 'U32' | 'F32' | 'F64' | 'I64' | 'U64';

/** Bytes per element; the key order is the reference implementation's alignment order (ascending). */
export const DTYPE_BYTES: Readonly<Record<Dtype, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};
const DTYPE_RANK = new Map(Object.keys(DTYPE_BYTES).map((d, i) => [d, i]));

/** Dtypes with a typed-array view; the others travel as raw little-endian bytes. */
export type SafeTensor =
  | { dtype: 'F32'; shape: number[]; data: Float32Array }
  | { dtype: 'F64'; shape: number[]; data: Float64Array }
  | { dtype: 'I32'; shape: number[]; data: Int32Array }
  | { dtype: 'U32'; shape: number[]; data: Uint32Array }
  | { dtype: Exclude<Dtype, 'F32' | 'F64' | 'I32' | 'U32'>; shape: number[]; data: Uint8Array };

export type TensorMap<T> = ReadonlyMap<string, T> | Readonly<Record<string, T>>;

export interface SafetensorsFile {
  /** In data order. */
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

/** The reference implementation refuses headers above 100 MB; so do we (it also catches garbage). */
export const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';
const utf8 = new TextEncoder();
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function entriesOf<T>(m: TensorMap<T>): [string, T][] {
  return m instanceof Map ? [...m.entries()] : Object.entries(m as Record<string, T>);
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Orders names by their UTF-8 bytes, as Rust's String ordering does. */
export function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  const ea = utf8.encode(a);
  const eb = utf8.encode(b);
  const n = Math.min(ea.length, eb.length);
  for (let i = 0; i < n; i++) if (ea[i] !== eb[i]) return ea[i] - eb[i];
  return ea.length - eb.length;
}

export function tensorBytes(t: SafeTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Serialises tensors and string metadata (omitted from the header when empty). */
export function encodeSafetensors(tensors: TensorMap<SafeTensor>, metadata: Record<string, string> = {}): Uint8Array {
  requireLittleEndianHost();
  const entries = entriesOf(tensors);
  for (const [name, t] of entries) {
    if (name === METADATA_KEY) throw new Error(`encodeSafetensors: '${METADATA_KEY}' is reserved and cannot name a tensor`);
    const bytes = DTYPE_BYTES[t.dtype];
    if (bytes === undefined) throw new Error(`encodeSafetensors: tensor '${name}' has unknown dtype ${String(t.dtype)}`);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new Error(`encodeSafetensors: tensor '${name}' shape [${t.shape}] must be non-negative integers`);
    }
    if (t.data.byteLength !== numel(t.shape) * bytes) {
      throw new Error(
        `encodeSafetensors: tensor '${name}': shape [${t.shape}] of ${t.dtype} needs ${numel(t.shape) * bytes} bytes, data has ${t.data.byteLength}`,
      );
    }
  }
  entries.sort(([na, a], [nb, b]) => DTYPE_RANK.get(b.dtype)! - DTYPE_RANK.get(a.dtype)! || compareNames(na, nb));

  // A null-prototype object, so a tensor named "__proto__" is an ordinary key.
  const header: Record<string, unknown> = Object.create(null);
  const metaEntries = Object.entries(metadata);
  if (metaEntries.length > 0) {
    for (const [k, v] of metaEntries) {
      if (typeof v !== 'string') throw new Error(`encodeSafetensors: metadata '${k}' must be a string, found ${typeof v}`);
    }
    header[METADATA_KEY] = metadata;
  }
  let offset = 0;
  for (const [name, t] of entries) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = utf8.encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength % 4294967296, true);
  view.setUint32(4, Math.floor(headerLength / 4294967296), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const [, t] of entries) {
    out.set(tensorBytes(t), at);
    at += t.data.byteLength;
  }
  return out;
}

export interface DecodeOptions {
  /** Dtypes the caller accepts; any other is refused with the tensor's name. Default ['F32']. */
  dtypes?: readonly Dtype[];
}

interface TensorEntry {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

/** Parses and validates a whole safetensors file; every error names `fileName` and the field. */
export function decodeSafetensors(bytes: Uint8Array, fileName: string, options: DecodeOptions = {}): SafetensorsFile {
  requireLittleEndianHost();
  const fail = (field: string, detail: string): never => {
    throw new FormatError(fileName, field, detail);
  };
  const accepted = options.dtypes ?? ['F32'];

  if (bytes.length < 8) {
    fail('header length', `truncated: the file is ${bytes.length} bytes; a safetensors file starts with an 8-byte little-endian header length`);
  }
  if (bytes.length > 8 && bytes[8] !== 0x7b) {
    fail('header', `not a safetensors file: expected '{' at byte 8 (the start of the JSON header), found 0x${hex8(bytes[8])}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(0, true) + view.getUint32(4, true) * 4294967296;
  if (headerLength > MAX_HEADER_BYTES) {
    fail('header length', `expected at most ${MAX_HEADER_BYTES} bytes (the format's limit), found ${headerLength}: not a safetensors file, or a corrupt one`);
  }
  if (8 + headerLength > bytes.length) {
    fail('header length', `the header is ${headerLength} bytes but only ${bytes.length - 8} bytes follow the length field: the file is truncated`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    return fail('header', 'expected UTF-8 JSON, found bytes that are not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail('header', `invalid JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    fail('header', `expected a JSON object, found ${describeJson(header)}`);
  }

  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: TensorEntry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (info === null || typeof info !== 'object' || Array.isArray(info)) {
        fail(METADATA_KEY, `expected an object of strings, found ${describeJson(info)}`);
      }
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`${METADATA_KEY}.${k}`, `expected a string, found ${describeJson(v)}`);
        metadata[k] = v as string;
      }
      continue;
    }
    entries.push(parseEntry(name, info, dataLength, fail));
  }

  // The data must be covered exactly: sorted by position, each tensor starts where the last ended.
  const byPosition = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: TensorEntry | undefined;
  for (const e of byPosition) {
    if (e.begin < cursor) {
      fail(`tensor '${e.name}' data_offsets`, `[${e.begin}, ${e.end}] overlaps tensor '${previous!.name}' [${previous!.begin}, ${previous!.end}]`);
    }
    if (e.begin > cursor) {
      const after = previous ? `after tensor '${previous.name}' [${previous.begin}, ${previous.end}]` : 'at the start of the data';
      fail(`tensor '${e.name}' data_offsets`, `[${e.begin}, ${e.end}] leaves a gap of ${e.begin - cursor} bytes ${after}; the data must be contiguous`);
    }
    cursor = e.end;
    previous = e;
  }
  if (cursor !== dataLength) {
    fail('data', `expected ${cursor} bytes of tensor data after the header (what the offsets cover), found ${dataLength} (${dataLength - cursor} bytes over)`);
  }

  const tensors = new Map<string, SafeTensor>();
  for (const e of byPosition) {
    if (!accepted.includes(e.dtype)) {
      fail(`tensor '${e.name}' dtype`, `expected ${accepted.length === 1 ? accepted[0] : `one of ${accepted.join(', ')}`}, found ${e.dtype}`);
    }
    // A copy: aligned for the typed array, and independent of the file's buffer. (Through
    // Uint8Array.prototype.slice: a Node Buffer's own slice() returns a view, not a copy.)
    const raw = Uint8Array.prototype.slice.call(bytes, dataStart + e.begin, dataStart + e.end);
    tensors.set(e.name, typedTensor(e.dtype, e.shape, raw));
  }
  return { tensors, metadata };
}

function parseEntry(name: string, info: unknown, dataLength: number, fail: (field: string, detail: string) => never): TensorEntry {
  const field = `tensor '${name}'`;
  if (info === null || typeof info !== 'object' || Array.isArray(info)) {
    fail(field, `expected {dtype, shape, data_offsets}, found ${describeJson(info)}`);
  }
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    fail(`${field} dtype`, `expected one of ${Object.keys(DTYPE_BYTES).join(', ')}, found ${describeJson(dtype)}`);
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`${field} shape`, `expected an array of non-negative integers, found ${describeJson(shape)}`);
  }
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]
  ) {
    fail(`${field} data_offsets`, `expected [begin, end] with 0 <= begin <= end, found ${describeJson(offsets)}`);
  }
  const d = dtype as Dtype;
  const s = shape as number[];
  const [begin, end] = offsets as number[];
  const need = numel(s) * DTYPE_BYTES[d];
  if (end - begin !== need) {
    fail(`${field} data_offsets`, `shape [${s}] of ${d} needs ${need} bytes, offsets [${begin}, ${end}] span ${end - begin}`);
  }
  if (end > dataLength) {
    fail(`${field} data_offsets`, `[${begin}, ${end}] runs past the end of the data (${dataLength} bytes after the header): the file is truncated`);
  }
  return { name, dtype: d, shape: s, begin, end };
}

function typedTensor(dtype: Dtype, shape: number[], raw: Uint8Array): SafeTensor {
  const buf = raw.buffer as ArrayBuffer;
  switch (dtype) {
    case 'F32':
      return { dtype, shape, data: new Float32Array(buf, 0, raw.length / 4) };
    case 'F64':
      return { dtype, shape, data: new Float64Array(buf, 0, raw.length / 8) };
    case 'I32':
      return { dtype, shape, data: new Int32Array(buf, 0, raw.length / 4) };
    case 'U32':
      return { dtype, shape, data: new Uint32Array(buf, 0, raw.length / 4) };
    default:
      return { dtype, shape, data: raw };
  }
}

/**
 * Refuses tensors whose names or shapes differ from what a model expects, naming every offending
 * tensor with both shapes.
 */
export function checkShapes(
  expected: TensorMap<readonly number[]>,
  got: TensorMap<{ readonly shape: readonly number[] }>,
  fileName: string,
): void {
  const want = new Map(entriesOf(expected));
  const have = new Map(entriesOf(got));
  const problems: [field: string, detail: string][] = [];
  for (const [name, shape] of want) {
    const t = have.get(name);
    if (!t) problems.push([`tensor '${name}'`, `expected shape [${shape}], missing from the file`]);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      problems.push([`tensor '${name}' shape`, `expected [${shape}], found [${t.shape}]`]);
    }
  }
  for (const [name, t] of have) {
    if (!want.has(name)) problems.push([`tensor '${name}'`, `found shape [${t.shape}], not a tensor of this model`]);
  }
  if (problems.length === 1) throw new FormatError(fileName, problems[0][0], problems[0][1]);
  if (problems.length > 1) {
    throw new FormatError(fileName, 'tensors', `${problems.length} do not match the model: ${problems.map(([f, d]) => `${f}: ${d}`).join('; ')}`);
  }
}


/** Refuses a big-endian host for a format whose bytes are little-endian (`what` names it). */
export function requireLittleEndianHost(what = 'safetensors', data = 'tensor data'): void {
  if (!HOST_LITTLE_ENDIAN) throw new Error(`${what}: big-endian hosts are not supported (${data} is little-endian)`);
}

function hex8(b: number): string {
  return b.toString(16).padStart(2, '0');
}

function describeJson(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
