// The worker's data as the page reads it: the user's files (gzip or raw, folder paths), a prefix
// of the server's IDX files, seeded samples, and the messages that describe the data loaded.

import { isGzip, Rng, type Dataset, type DatasetSpec } from '../src/index.browser.js';
import type { DataSource, FromWorker, InputShape } from './protocol.js';

export function shapeOf(ds: Dataset): InputShape {
  return { channels: ds.channels, height: ds.height, width: ds.width, classes: ds.numClasses };
}

/** The data's class names (an image folder's folders, Fashion-MNIST's), or the labels as numbers. */
export function classNamesOf(ds: Dataset): string[] {
  return ds.classNames && ds.classNames.length === ds.numClasses ? [...ds.classNames] : Array.from({ length: ds.numClasses }, (_, i) => String(i));
}

export function dataMessage(kind: DataSource['kind'], train: Dataset, test: Dataset, trainTotal: number, testTotal: number, source: string, started: number): FromWorker {
  return {
    type: 'data',
    kind,
    trainCount: train.n,
    testCount: test.n,
    trainTotal,
    testTotal,
    channels: train.channels,
    height: train.height,
    width: train.width,
    numClasses: train.numClasses,
    classNames: train.classNames ? [...train.classNames] : null,
    source,
    seconds: (performance.now() - started) / 1000,
  };
}

/** "fashion-mnist", "folder (/data/pets)", "csv (/d/train.csv, /d/test.csv)": where a checkpoint's model was trained. */
export function describeTrainedOn(dataset: string, spec?: DatasetSpec): string {
  if (!spec) return dataset;
  const where = spec.dir ?? Object.values(spec.files ?? {}).filter(Boolean).join(', ');
  return where ? `${spec.kind} (${where})` : spec.kind;
}

/** min(count, n) distinct indices of [0, n), a seeded random sample in random order. */
export function shuffledSample(n: number, count: number, seed: number): Uint32Array {
  return new Rng(seed).permutation(n).slice(0, Math.max(0, Math.min(n, Math.floor(count))));
}

export function joinPath(root: string, rel: string): string {
  return root === '' ? rel : root.endsWith('/') ? root + rel : `${root}/${rel}`;
}

/** A file's bytes, inflated when it is gzip (1f 8b); errors name the file. */
export async function readFileBytes(file: Blob & { name: string }): Promise<Uint8Array> {
  const head = new Uint8Array(await file.slice(0, 2).arrayBuffer());
  if (!isGzip(head)) return new Uint8Array(await file.arrayBuffer());
  try {
    const stream = file.stream().pipeThrough(new DecompressionStream('gzip') as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new Error(`${file.name}: could not read the gzip data: ${(e as Error).message}`);
  }
}

/**
 * The first `count` items of an IDX file (gzip or raw), as raw IDX bytes whose first dimension
 * says `count`. Only the prefix is inflated: the page needs a slice, not 60,000 images.
 * Malformed input is passed through for fashionMnistDataset to name the problem.
 */
export async function idxPrefix(blob: Blob, count: number, name: string): Promise<Uint8Array> {
  const magic = new Uint8Array(await blob.slice(0, 2).arrayBuffer());
  let stream = blob.stream() as ReadableStream<Uint8Array>;
  if (magic[0] === 0x1f && magic[1] === 0x8b) stream = stream.pipeThrough(new DecompressionStream('gzip') as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
  const reader = stream.getReader();
  let buf = new Uint8Array(1 << 16);
  let have = 0;
  let need = Infinity;
  let header = 0;
  let available = 0;
  try {
    while (have < need) {
      const { done, value } = await reader.read();
      if (done) break;
      if (have + value.length > buf.length) {
        const grown = new Uint8Array(Math.max(buf.length * 2, have + value.length));
        grown.set(buf.subarray(0, have));
        buf = grown;
      }
      buf.set(value, have);
      have += value.length;
      if (need === Infinity && have >= 4) {
        const view = new DataView(buf.buffer);
        const ndims = view.getUint32(0) & 0xff;
        const type = (view.getUint32(0) >>> 8) & 0xff;
        header = 4 + 4 * ndims;
        if (type !== 0x08 || ndims < 1 || ndims > 3) break; // not IDX u8: let the parser say so
        if (have < header) continue;
        let item = 1;
        for (let d = 1; d < ndims; d++) item *= view.getUint32(4 + 4 * d);
        available = view.getUint32(4);
        need = header + Math.min(count, available) * item;
      }
    }
  } catch (e) {
    throw new Error(`${name}: could not read the ${magic[0] === 0x1f ? 'gzip ' : ''}data: ${(e as Error).message}`);
  } finally {
    reader.cancel().catch(() => {});
  }
  const out = buf.slice(0, Math.min(have, need));
  if (need !== Infinity && have >= need && available > count) new DataView(out.buffer).setUint32(4, count);
  return out;
}
