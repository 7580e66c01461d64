// The browser demo's pieces that run without a browser: the static server (mounts, refusals) and
// the IDX prefix reader the page uses to load a slice of Fashion-MNIST (gzip or raw).

import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fashionMnistDataset } from '../src/index.js';
import { idxPrefix } from '../web/runner.js';
import { serveWeb } from '../scripts/serve-web.mjs';

/** An IDX images file of n 28×28 images whose pixels are (image index + pixel index) mod 256. */
function idxImages(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(16 + n * 784);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0x00000803);
  v.setUint32(4, n);
  v.setUint32(8, 28);
  v.setUint32(12, 28);
  for (let i = 0; i < n * 784; i++) out[16 + i] = (Math.floor(i / 784) + (i % 784)) % 256;
  return out;
}

function idxLabels(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(8 + n);
  const v = new DataView(out.buffer);
  v.setUint32(0, 0x00000801);
  v.setUint32(4, n);
  for (let i = 0; i < n; i++) out[8 + i] = i % 10;
  return out;
}

describe('idxPrefix', () => {
  it('reads the first items of a gzip or raw IDX file and says how many in the header', async () => {
    const images = idxImages(300);
    const labels = idxLabels(300);
    for (const gz of [false, true]) {
      const wrap = (b: Uint8Array<ArrayBuffer>) => new Blob([gz ? gzipSync(b) : b]);
      const img = await idxPrefix(wrap(images), 120, 'images');
      const lab = await idxPrefix(wrap(labels), 120, 'labels');
      expect(img.length).toBe(16 + 120 * 784);
      expect(lab.length).toBe(8 + 120);
      const ds = fashionMnistDataset('train', img, lab);
      expect(ds.n).toBe(120);
      expect(ds.labels[119]).toBe(9);
      expect(ds.images[119 * 784 + 5]).toBeCloseTo(((119 + 5) % 256) / 255, 6);
    }
  });

  it('keeps the whole file when fewer items than asked are there', async () => {
    const img = await idxPrefix(new Blob([gzipSync(idxImages(7))]), 100, 'images');
    expect(new DataView(img.buffer).getUint32(4)).toBe(7);
    expect(img.length).toBe(16 + 7 * 784);
  });

  it('passes a file that is not IDX through, for the parser to name the problem', async () => {
    const junk = new TextEncoder().encode('<html>not found</html>');
    const out = await idxPrefix(new Blob([junk]), 10, 'train-images-idx3-ubyte.gz');
    expect(() => fashionMnistDataset('train', out, idxLabels(10))).toThrow(/train-images-idx3-ubyte.*magic number/);
  });
});

describe('scripts/serve-web.mjs', () => {
  let url: string;
  let close: () => void;

  beforeAll(async () => {
    const s = await serveWeb({ port: 0, dataDir: new URL('.', import.meta.url).pathname, files: { '/extra/file.txt': new URL('./web.test.ts', import.meta.url).pathname } });
    url = s.url;
    close = () => s.server.close();
  });
  afterAll(() => close());

  it('serves the page, the bundles folder, data and extra files, and refuses the rest', async () => {
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('/dist/web/app.js');
    expect((await fetch(url + 'data/web.test.ts')).status).toBe(200);
    expect((await fetch(url + 'extra/file.txt')).status).toBe(200);
    expect((await fetch(url + 'nothing-here.js')).status).toBe(404);
    expect((await fetch(url + 'models/none.safetensors')).status).toBe(404);
    expect((await fetch(url + '%2e%2e/package.json')).status).toBe(404);
    expect((await fetch(url + 'data/..%2f..%2fpackage.json')).status).toBe(404);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
  });
});
