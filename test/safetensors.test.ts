// safetensors encode/decode, kdgpu checkpoints (metadata + content hash), atomic checkpoint files.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentHash, decodeCheckpoint, encodeCheckpoint, type F32Tensor } from '../src/io/checkpoint-bytes.js';
import { loadCheckpoint, saveCheckpointAtomic, tempPathFor } from '../src/io/checkpoint-file.js';
import { checkShapes, decodeSafetensors, encodeSafetensors, MAX_HEADER_BYTES, type SafeTensor } from '../src/io/safetensors.js';
import { Rng } from '../src/util/rng.js';
import { Sha256, sha256Hex } from '../src/util/sha256.js';
import { expectFormatError } from './format-error.js';
import { childPrints } from './helpers.js';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'kdgpu-ckpt-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

// ---- helpers ---------------------------------------------------------------------------------

const ascii = (s: string) => new TextEncoder().encode(s);

/** A safetensors file from a literal header text (padded as given) and data bytes. */
function rawFile(header: string, data: ArrayLike<number> = [], lengthField?: number): Uint8Array {
  const h = ascii(header);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, lengthField ?? h.length, true);
  out.set(h, 8);
  out.set(Array.from(data), 8 + h.length);
  return out;
}

function f32(values: number[], shape: number[] = [values.length]): SafeTensor {
  return { dtype: 'F32', shape, data: Float32Array.from(values) };
}


function bitsOf(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

// ---- SHA-256 ---------------------------------------------------------------------------------

describe('sha256 (pure TypeScript)', () => {
  it('matches node:crypto at every length around the block boundaries and when fed in pieces', () => {
    const rng = new Rng(1);
    const bytes = Uint8Array.from({ length: 300 }, () => rng.int(256));
    for (let n = 0; n <= 300; n++) {
      const part = bytes.subarray(0, n);
      expect(sha256Hex(part), `length ${n}`).toBe(createHash('sha256').update(part).digest('hex'));
    }
    const h = new Sha256();
    for (let at = 0; at < 300; at += 37) h.update(bytes.subarray(at, Math.min(300, at + 37)));
    expect(Buffer.from(h.digest()).toString('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
    expect(sha256Hex(ascii('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

// ---- format: reference layouts ---------------------------------------------------------------

describe('safetensors layout', () => {
  // Byte layouts from huggingface/safetensors' own tests (safetensors/src/tensor.rs).
  it('encodes exactly the bytes the reference implementation writes', () => {
    const data = [0, 1, 2, 3, 4, 5];
    const dataBytes = [0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64];
    const headerA = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    expect(Array.from(encodeSafetensors({ 'attn.0': f32(data, [1, 2, 3]) }))).toEqual([64, 0, 0, 0, 0, 0, 0, 0, ...ascii(headerA), ...dataBytes]);
    const headerB = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ';
    expect(Array.from(encodeSafetensors(new Map([['attn0', f32(data, [1, 1, 2, 3])]])))).toEqual([72, 0, 0, 0, 0, 0, 0, 0, ...ascii(headerB), ...dataBytes]);
    expect(Array.from(encodeSafetensors({}))).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    expect(Array.from(encodeSafetensors({}, { framework: 'pt' }))).toEqual([40, 0, 0, 0, 0, 0, 0, 0, ...ascii('{"__metadata__":{"framework":"pt"}}     ')]);
  });

  it('decodes a file from the Python library (unpadded header, I32, metadata)', () => {
    // bindings/python/tests/test_simple.py: an older writer that did not pad the header.
    const file = rawFile('{"__metadata__":{"framework":"pt"},"test1":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}       ', [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0]);
    expect(file[0]).toBe(0x66);
    const decoded = decodeSafetensors(file, 'test.safetensors', { dtypes: ['I32'] });
    expect(decoded.metadata).toEqual({ framework: 'pt' });
    const t = decoded.tensors.get('test1')!;
    expect(t.dtype).toBe('I32');
    expect(t.shape).toEqual([2, 2]);
    expect(t.data).toBeInstanceOf(Int32Array);
    expect(Array.from(t.data)).toEqual([1, 2, 3, 4]);
    const unpadded = rawFile('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}', new Array(16).fill(0));
    expect(unpadded[0]).toBe(0x3c);
    expect(Array.from(decodeSafetensors(unpadded, 'x', { dtypes: ['I32'] }).tensors.get('test')!.data)).toEqual([0, 0, 0, 0]);
  });

  it('lays out mixed dtypes by descending alignment, then name, as the reference does', () => {
    const bytes = encodeSafetensors({
      b: f32([1]),
      a: f32([2]),
      c: { dtype: 'F64', shape: [1], data: Float64Array.from([3]) },
      d: { dtype: 'I32', shape: [1], data: Int32Array.from([4]) },
      e: { dtype: 'U8', shape: [2], data: Uint8Array.from([5, 6]) },
    });
    const n = new DataView(bytes.buffer).getUint32(0, true);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + n)).trimEnd();
    expect(Object.keys(JSON.parse(header))).toEqual(['c', 'a', 'b', 'd', 'e']);
    expect(header).toContain('"c":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}');
    const all = decodeSafetensors(bytes, 'mixed', { dtypes: ['F32', 'F64', 'I32', 'U8'] });
    expect([...all.tensors.keys()]).toEqual(['c', 'a', 'b', 'd', 'e']);
    expect(Array.from(all.tensors.get('e')!.data)).toEqual([5, 6]);
  });

  it('reads tensors stored in any order of offsets', () => {
    const file = rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', [0, 0, 128, 63, 0, 0, 0, 64]);
    const d = decodeSafetensors(file, 'x');
    expect(Array.from(d.tensors.get('a')!.data)).toEqual([2]);
    expect(Array.from(d.tensors.get('b')!.data)).toEqual([1]);
  });
});

// ---- round trip ------------------------------------------------------------------------------

describe('safetensors round trip', () => {
  it('is bit-exact (NaN payloads, -0, infinities, subnormals) and keeps shapes and metadata', () => {
    const rng = new Rng(3);
    const special = new Float32Array(new Uint32Array([0x7fc00001, 0xffc12345, 0x80000000, 0x7f800000, 0xff800000, 0x00000001, 0x807fffff]).buffer);
    const tensors = new Map<string, SafeTensor>([
      ['conv1.weight', { dtype: 'F32', shape: [8, 1, 3, 3], data: rng.fillUniform(72) }],
      ['conv1.bias', { dtype: 'F32', shape: [8], data: rng.fillUniform(8) }],
      ['special', { dtype: 'F32', shape: [7], data: special }],
      ['scalar', f32([Math.PI], [])],
      ['empty', { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) }],
      ['ünïcödé名', f32([1, 2])],
      ['__proto__', f32([9])],
    ]);
    const metadata = { model: 'cnn-small', config: '{"width":8,"nested":{"a":[1,2]}}', note: 'ünïcödé' };
    const decoded = decodeSafetensors(encodeSafetensors(tensors, metadata), 'rt.safetensors');
    expect(decoded.metadata).toEqual(metadata);
    expect(new Set(decoded.tensors.keys())).toEqual(new Set(tensors.keys()));
    for (const [name, t] of tensors) {
      const got = decoded.tensors.get(name)!;
      expect(got.dtype, name).toBe('F32');
      expect(got.shape, name).toEqual(t.shape);
      expect(bitsOf(got.data as Float32Array), name).toEqual(bitsOf(t.data as Float32Array));
    }
  });

  it('encodes views into larger buffers correctly (byteOffset respected)', () => {
    const backing = Float32Array.from([9, 9, 1, 2, 3, 9]);
    const d = decodeSafetensors(encodeSafetensors({ v: { dtype: 'F32', shape: [3], data: backing.subarray(2, 5) } }), 'v');
    expect(Array.from(d.tensors.get('v')!.data)).toEqual([1, 2, 3]);
  });

  it('refuses to encode inconsistent tensors', () => {
    expect(() => encodeSafetensors({ w: f32([1, 2, 3], [2, 2]) })).toThrow(/tensor 'w': shape \[2,2\] of F32 needs 16 bytes, data has 12/);
    expect(() => encodeSafetensors({ __metadata__: f32([1]) })).toThrow(/reserved/);
  });
});

// ---- decode errors ---------------------------------------------------------------------------

describe('decodeSafetensors errors name the file and the field', () => {
  const good = encodeSafetensors({ a: f32([1, 2, 3, 4], [2, 2]), b: f32([5, 6]) }, { model: 'm' });

  it('truncated before the header length ends', () => {
    expectFormatError(() => decodeSafetensors(good.subarray(0, 5), 'm.safetensors'), 'm.safetensors: header length: truncated: the file is 5 bytes');
    expectFormatError(() => decodeSafetensors(new Uint8Array(0), 'm.safetensors'), 'file is 0 bytes');
  });

  it('header length larger than the file (truncated inside the header)', () => {
    expectFormatError(() => decodeSafetensors(good.subarray(0, 40), 'm.safetensors'), 'm.safetensors: header length: the header is', 'only 32 bytes follow', 'truncated');
  });

  it('truncated data', () => {
    expectFormatError(
      () => decodeSafetensors(good.subarray(0, good.length - 3), 'm.safetensors'),
      "m.safetensors: tensor 'b' data_offsets: [16, 24] runs past the end of the data (21 bytes after the header): the file is truncated",
    );
  });

  it('not a safetensors file at all', () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52]);
    expectFormatError(() => decodeSafetensors(png, 'cat.png'), "cat.png: header: not a safetensors file: expected '{' at byte 8", 'found 0x00');
    expectFormatError(() => decodeSafetensors(ascii('hello world, this is text'), 'notes.txt'), 'notes.txt: header: not a safetensors file');
    expectFormatError(() => decodeSafetensors(rawFile('{}', [], MAX_HEADER_BYTES + 1), 'big'), 'big: header length: expected at most 100000000 bytes');
  });

  it('invalid JSON header, invalid UTF-8, wrong JSON shape', () => {
    expectFormatError(() => decodeSafetensors(rawFile('{"a":{"dtype":"F32",   '), 'bad.safetensors'), 'bad.safetensors: header: invalid JSON');
    const badUtf8 = rawFile('{"a"}');
    badUtf8[10] = 0xff;
    expectFormatError(() => decodeSafetensors(badUtf8, 'u'), 'u: header: expected UTF-8 JSON');
    expectFormatError(() => decodeSafetensors(rawFile('{"a":5}'), 'x'), "x: tensor 'a': expected {dtype, shape, data_offsets}, found 5");
    expectFormatError(() => decodeSafetensors(rawFile('{"__metadata__":{"epoch":3}}'), 'x'), 'x: __metadata__.epoch: expected a string, found 3');
    expectFormatError(() => decodeSafetensors(rawFile('{"__metadata__":[]}'), 'x'), 'x: __metadata__: expected an object of strings');
  });

  it('unknown dtype, bad shape, malformed offsets', () => {
    expectFormatError(() => decodeSafetensors(rawFile('{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}', [0, 0, 0, 0]), 'x'), "x: tensor 'a' dtype: expected one of BOOL, U8", 'found "F33"');
    expectFormatError(() => decodeSafetensors(rawFile('{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', [0, 0, 0, 0]), 'x'), "x: tensor 'a' shape: expected an array of non-negative integers, found [-1]");
    expectFormatError(() => decodeSafetensors(rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', [0, 0, 0, 0]), 'x'), "x: tensor 'a' data_offsets: expected [begin, end] with 0 <= begin <= end, found [4,0]");
    expectFormatError(() => decodeSafetensors(rawFile('{"a":{"dtype":"F32","shape":[1]}}'), 'x'), "x: tensor 'a' data_offsets: expected [begin, end]", 'found nothing');
    expectFormatError(() => decodeSafetensors(rawFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', [0, 0, 0, 0]), 'x'), "x: tensor 'a' data_offsets: shape [2] of F32 needs 8 bytes, offsets [0, 4] span 4");
  });

  it('data_offsets out of range, overlapping, leaving gaps, or not covering the data', () => {
    expectFormatError(() => decodeSafetensors(rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', [0, 0, 0, 0]), 'x'), "x: tensor 'a' data_offsets: [4, 8] runs past the end of the data (4 bytes after the header)");
    expectFormatError(
      () => decodeSafetensors(rawFile('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Array(8).fill(0)), 'x'),
      "x: tensor 'b' data_offsets: [4, 8] overlaps tensor 'a' [0, 8]",
    );
    expectFormatError(
      () => decodeSafetensors(rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', new Array(12).fill(0)), 'x'),
      "x: tensor 'b' data_offsets: [8, 12] leaves a gap of 4 bytes after tensor 'a' [0, 4]",
    );
    expectFormatError(() => decodeSafetensors(rawFile('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Array(8).fill(0)), 'x'), 'gap of 4 bytes at the start of the data');
    expectFormatError(() => decodeSafetensors(new Uint8Array([...good, 1, 2, 3]), 'x'), 'x: data: expected 24 bytes of tensor data after the header', 'found 27 (3 bytes over)');
  });

  it('wrong dtype: expected F32', () => {
    const f64 = encodeSafetensors({ 'fc.weight': { dtype: 'F64', shape: [2], data: Float64Array.from([1, 2]) } });
    expectFormatError(() => decodeSafetensors(f64, 'teacher.safetensors'), "teacher.safetensors: tensor 'fc.weight' dtype: expected F32, found F64");
    const u32 = encodeSafetensors({ steps: { dtype: 'U32', shape: [1], data: Uint32Array.from([7]) } });
    expectFormatError(() => decodeSafetensors(u32, 'x'), "tensor 'steps' dtype: expected F32, found U32");
    expect(Array.from(decodeSafetensors(u32, 'x', { dtypes: ['F32', 'U32'] }).tensors.get('steps')!.data)).toEqual([7]);
    const i32 = encodeSafetensors({ k: { dtype: 'I32', shape: [1], data: Int32Array.from([-7]) } });
    expectFormatError(() => decodeSafetensors(i32, 'x', { dtypes: ['F32', 'F64'] }), "tensor 'k' dtype: expected one of F32, F64, found I32");
  });
});

// ---- shapes ---------------------------------------------------------------------------------

describe('checkShapes', () => {
  const got = new Map([
    ['conv.w', { shape: [16, 1, 3, 3] }],
    ['fc.b', { shape: [10] }],
  ]);

  it('accepts matching names and shapes', () => {
    expect(() => checkShapes({ 'conv.w': [16, 1, 3, 3], 'fc.b': [10] }, got, 'ck')).not.toThrow();
  });

  it('names the tensor and both shapes', () => {
    expectFormatError(() => checkShapes({ 'conv.w': [16, 3, 3, 3], 'fc.b': [10] }, got, 'student.safetensors'), "student.safetensors: tensor 'conv.w' shape: expected [16,3,3,3], found [16,1,3,3]");
    expectFormatError(() => checkShapes({ 'conv.w': [16, 1, 3, 3], 'fc.b': [10, 1] }, got, 'ck'), "tensor 'fc.b' shape: expected [10,1], found [10]");
  });

  it('refuses missing and unexpected tensors, listing every problem', () => {
    expectFormatError(() => checkShapes({ 'conv.w': [16, 1, 3, 3], 'fc.b': [10], 'fc.w': [10, 64] }, got, 'ck'), "ck: tensor 'fc.w': expected shape [10,64], missing from the file");
    expectFormatError(() => checkShapes({ 'conv.w': [16, 1, 3, 3] }, got, 'ck'), "ck: tensor 'fc.b': found shape [10], not a tensor of this model");
    expectFormatError(() => checkShapes({ 'conv.w': [8, 1, 3, 3], 'fc.w': [10] }, got, 'ck'), 'ck: tensors: 3 do not match the model', "tensor 'conv.w' shape: expected [8,1,3,3], found [16,1,3,3]", "tensor 'fc.w': expected shape [10], missing", "tensor 'fc.b': found shape [10], not a tensor");
  });
});

// ---- checkpoints ----------------------------------------------------------------------------

function modelTensors(seed: number, scale = 1): Map<string, F32Tensor> {
  const rng = new Rng(seed);
  return new Map([
    ['conv1.weight', { shape: [16, 1, 3, 3], data: rng.fillUniform(144 * scale) }],
    ['conv1.bias', { shape: [16], data: rng.fillUniform(16) }],
    ['fc.weight', { shape: [10, 16 * scale], data: rng.fillUniform(160 * scale) }],
  ].map(([n, t]) => [n as string, t as F32Tensor]));
}

describe('checkpoints', () => {
  const tensors = modelTensors(1);
  const config = { arch: 'cnn', widths: [16], dropout: 0.1 };

  it('round-trips model, config, tensors and extra metadata; the hash is sha256 of the data in name order', () => {
    const bytes = encodeCheckpoint({ model: 'student-s', config, tensors, extraMetadata: { epoch: '3' } });
    const ck = decodeCheckpoint(bytes, 'ck.safetensors', { 'conv1.weight': [16, 1, 3, 3], 'conv1.bias': [16], 'fc.weight': [10, 16] });
    expect(ck.model).toBe('student-s');
    expect(ck.config).toEqual(config);
    expect(ck.metadata.epoch).toBe('3');
    for (const [name, t] of tensors) expect(bitsOf(ck.tensors.get(name)!.data)).toEqual(bitsOf(t.data));
    // Independently: node:crypto over the raw bytes in sorted-name order.
    const h = createHash('sha256');
    for (const name of ['conv1.bias', 'conv1.weight', 'fc.weight']) h.update(new Uint8Array(tensors.get(name)!.data.buffer));
    expect(ck.metadata.content_sha256).toBe(h.digest('hex'));
    expect(contentHash(tensors)).toBe(ck.metadata.content_sha256);
  });

  it('refuses corrupt data, missing kdgpu metadata, and shapes that do not fit the model', () => {
    const bytes = encodeCheckpoint({ model: 'm', config, tensors });
    const flipped = bytes.slice();
    flipped[flipped.length - 5] ^= 0x10;
    expectFormatError(() => decodeCheckpoint(flipped, 'ck.safetensors'), 'ck.safetensors: __metadata__.content_sha256: expected the tensor data to hash to', 'the tensor data is corrupt');
    const foreign = encodeSafetensors({ a: f32([1]) }, { framework: 'pt' });
    expectFormatError(() => decodeCheckpoint(foreign, 'torch.safetensors'), 'torch.safetensors: __metadata__.model: expected a kdgpu checkpoint');
    expectFormatError(() => decodeCheckpoint(bytes, 'ck', { 'conv1.weight': [16, 3, 3, 3], 'conv1.bias': [16], 'fc.weight': [10, 16] }), "ck: tensor 'conv1.weight' shape: expected [16,3,3,3], found [16,1,3,3]");
    expect(() => encodeCheckpoint({ model: 'm', config, tensors, extraMetadata: { content_sha256: 'x' } })).toThrow(/reserved key 'content_sha256'/);
  });
});

// ---- atomic files ---------------------------------------------------------------------------

describe('checkpoint files', () => {
  it('saves and loads; the temporary file is in the same directory and does not survive', async () => {
    const dir = join(scratch, 'save');
    await mkdir(dir);
    const path = join(dir, 'model.safetensors');
    expect(dirname(tempPathFor(path))).toBe(dir);
    expect(tempPathFor(path)).not.toBe(tempPathFor(path));
    await saveCheckpointAtomic(path, encodeCheckpoint({ model: 'a', config: {}, tensors: modelTensors(1) }));
    await saveCheckpointAtomic(path, encodeCheckpoint({ model: 'b', config: {}, tensors: modelTensors(2) }));
    expect((await loadCheckpoint(path)).model).toBe('b');
    expect(await readdir(dir)).toEqual(['model.safetensors']);
    await expect(loadCheckpoint(join(dir, 'missing.safetensors'))).rejects.toThrow(/missing\.safetensors: no such file$/);
    await writeFile(join(dir, 'junk.safetensors'), 'not a checkpoint at all');
    await expect(loadCheckpoint(join(dir, 'junk.safetensors'))).rejects.toThrow(/junk\.safetensors: header: not a safetensors file/);
  });

  it('a failed save leaves the previous file intact and no temporary file', async () => {
    const dir = join(scratch, 'fail');
    await mkdir(dir);
    const path = join(dir, 'model.safetensors');
    const old = encodeCheckpoint({ model: 'old', config: {}, tensors: modelTensors(1) });
    await saveCheckpointAtomic(path, old);
    // The rename cannot replace a non-empty directory: the save fails after the temp file was written.
    const blocked = join(dir, 'blocked');
    await mkdir(join(blocked, 'x'), { recursive: true });
    await expect(saveCheckpointAtomic(blocked, old)).rejects.toThrow();
    await expect(saveCheckpointAtomic(join(dir, 'no-such-dir', 'm.safetensors'), old)).rejects.toThrow(/ENOENT/);
    expect((await readdir(dir)).sort()).toEqual(['blocked', 'model.safetensors']);
    expect(Buffer.from(await readFile(path)).equals(Buffer.from(old))).toBe(true);
  });

  it('a process killed at any moment while saving leaves the old or the new checkpoint, always decodable', async () => {
    // A child saves two large checkpoints alternately, forever; we SIGKILL it at varied moments.
    const dir = join(scratch, 'crash');
    await mkdir(dir);
    const path = join(dir, 'model.safetensors');
    const child = join(scratch, 'crash-child.mjs');
    await build({
      stdin: {
        contents: `
          import { encodeCheckpoint } from './src/io/checkpoint-bytes.ts';
          import { saveCheckpointAtomic } from './src/io/checkpoint-file.ts';
          const make = (v) => encodeCheckpoint({ model: 'v' + v, config: {}, tensors: { w: { shape: [4_000_000], data: new Float32Array(4_000_000).fill(v) } } });
          const versions = [make(1), make(2)];
          await saveCheckpointAtomic(process.argv[2], versions[0]);
          process.stdout.write('ready\\n');
          for (let i = 1; ; i++) await saveCheckpointAtomic(process.argv[2], versions[i % 2]);
        `,
        resolveDir: resolve('.'),
        sourcefile: 'crash-child.ts',
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: child,
      logLevel: 'error',
    });
    const models = new Set<string>();
    for (const delayMs of [0, 3, 7, 15, 25, 40, 60, 90]) {
      const proc = spawn(process.execPath, [child, path], { stdio: ['ignore', 'pipe', 'pipe'] });
      await childPrints(proc, /^ready$/m);
      await new Promise((r) => setTimeout(r, delayMs));
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
      const ck = await loadCheckpoint(path, { w: [4_000_000] });
      expect(['v1', 'v2']).toContain(ck.model);
      expect(ck.tensors.get('w')!.data[123_456]).toBe(ck.model === 'v1' ? 1 : 2);
      models.add(ck.model);
    }
    // Strays from killed writes are hidden temp files in the same directory, never the checkpoint,
    // and each child's first save removed the earlier children's: at most the last one's is left.
    const files = await readdir(dir);
    for (const f of files) expect(f === 'model.safetensors' || /^\.model\.safetensors\.\d+-[0-9a-f]{12}\.tmp$/.test(f)).toBe(true);
    expect(files.length).toBeLessThanOrEqual(2);
    console.log(`crash test: versions seen after kills: ${[...models].join(', ')}; files: ${(await readdir(dir)).length}`);
  });
});
