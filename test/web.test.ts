// The browser demo's pieces that run without a browser: the static server (mounts, refusals,
// robustness: unreadable files, aborted downloads, links, Host checks) and
// the IDX prefix reader the page uses to load a slice of Fashion-MNIST (gzip or raw).

import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, realpathSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { request, type ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fashionMnistDataset } from '../src/index.js';
import { idxPrefix } from '../web/data-files.js';
import { DATA_FILES, ORT_FILES, serveWeb } from '../scripts/serve-web.mjs';
import { childPrints } from './helpers.js';

/** The folders above `path` (itself included) that users other than their owner cannot enter. */
function ancestorsClosedToOthers(path: string): string[] {
  const closed: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    if ((statSync(p).mode & 0o001) === 0) closed.push(p);
    if (dirname(p) === p) return closed;
  }
}

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
      expect(ds.images).toBeInstanceOf(Uint8Array); // the file's bytes, kept as bytes (b means b/255)
      expect(ds.images[119 * 784 + 5]).toBe((119 + 5) % 256);
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

/** A GET by node:http, with headers of the test's choosing (fetch sets Host itself). */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    request(url, { headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => (body += s));
      res.on('end', () => ok({ status: res.statusCode!, body }));
      res.on('error', fail);
    })
      .on('error', fail)
      .end();
  });
}

/** How many descriptors process `pid` holds open on `file` (a real path). */
function openFdsOn(file: string, pid = process.pid): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) === file) n++;
    } catch {
      // closed while we looked
    }
  }
  return n;
}

describe('scripts/serve-web.mjs', () => {
  let url: string;
  let port: number;
  let close: () => void;
  let work: string;
  const imagesGz = gzipSync(idxImages(3));
  const linux = process.platform === 'linux';

  beforeAll(async () => {
    // The data folder, reached through a link: one dataset file, one link to it (inside, served),
    // one link to a file outside (refused) and a file the page does not fetch (refused).
    work = realpathSync(mkdtempSync(join(tmpdir(), 'kdgpu-web-')));
    const data = join(work, 'data');
    mkdirSync(data);
    writeFileSync(join(data, 'train-images-idx3-ubyte.gz'), imagesGz);
    symlinkSync('train-images-idx3-ubyte.gz', join(data, 't10k-images-idx3-ubyte.gz'));
    writeFileSync(join(work, 'secret.txt'), 'outside the data folder\n');
    symlinkSync(join(work, 'secret.txt'), join(data, 'train-labels-idx1-ubyte.gz'));
    writeFileSync(join(data, 'notes.txt'), 'not a dataset file\n');
    symlinkSync(data, join(work, 'data-link'));
    // A large file (sparse: nothing written) for downloads aborted midway.
    writeFileSync(join(work, 'big.bin'), '');
    truncateSync(join(work, 'big.bin'), 16 << 20);
    const s = await serveWeb({
      port: 0,
      dataDir: join(work, 'data-link'),
      files: {
        '/extra/file.txt': new URL('./web.test.ts', import.meta.url).pathname,
        '/big.bin': join(work, 'big.bin'),
        // Opens (as any user) but every read fails with EIO: an error after the headers are out.
        '/broken.bin': '/proc/self/mem',
      },
    });
    url = s.url;
    port = Number(new URL(url).port);
    close = () => s.server.close();
  });
  afterAll(() => {
    close?.();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('serves the page, the bundles folder, data and extra files, and refuses the rest', async () => {
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('/dist/web/app.js');
    const images = await fetch(url + 'data/train-images-idx3-ubyte.gz');
    expect(images.status).toBe(200);
    expect(images.headers.get('content-type')).toBe('application/octet-stream');
    expect(new Uint8Array(await images.arrayBuffer())).toEqual(new Uint8Array(imagesGz));
    expect((await fetch(url + 'extra/file.txt')).status).toBe(200);
    expect((await fetch(url + 'nothing-here.js')).status).toBe(404);
    expect((await fetch(url + 'models/none.safetensors')).status).toBe(404);
    expect((await fetch(url + '%2e%2e/package.json')).status).toBe(404);
    expect((await fetch(url + 'data/..%2f..%2fpackage.json')).status).toBe(404);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
  });

  it('serves only the dataset files the page fetches under /data/, and follows no link out of a mount', async () => {
    expect(DATA_FILES).toEqual(['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz']);
    // A link that stays inside the (linked) data folder is served.
    const linked = await fetch(url + 'data/t10k-images-idx3-ubyte.gz');
    expect(linked.status).toBe(200);
    expect(new Uint8Array(await linked.arrayBuffer())).toEqual(new Uint8Array(imagesGz));
    // A dataset name that links outside, a file the page does not fetch, the folder itself.
    const outside = await fetch(url + 'data/train-labels-idx1-ubyte.gz');
    expect(outside.status).toBe(404);
    expect(await outside.text()).not.toContain('outside the data folder');
    expect((await fetch(url + 'data/notes.txt')).status).toBe(404);
    expect((await fetch(url + 'data/')).status).toBe(404);
    expect((await fetch(url + 'data/t10k-labels-idx1-ubyte.gz')).status).toBe(404); // listed, absent
  });

  it('serves onnxruntime-web\'s wasm binary under /ort/ (an ONNX teacher on the page), and nothing else of its package', async () => {
    expect(ORT_FILES).toEqual(['ort-wasm-simd-threaded.wasm']);
    const wasm = await fetch(url + 'ort/ort-wasm-simd-threaded.wasm', { method: 'HEAD' });
    expect(wasm.status).toBe(200);
    expect(wasm.headers.get('content-type')).toBe('application/wasm');
    for (const other of ['ort/ort.min.mjs', 'ort/ort-wasm-simd-threaded.jsep.wasm', 'ort/', 'ort/../package.json']) expect((await fetch(url + other)).status, other).toBe(404);
  });

  it('answers only requests whose Host names the server (DNS rebinding)', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LocalHost:${port}`, `[::1]:${port}`]) {
      expect((await get(url, { host })).status, host).toBe(200);
    }
    for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${port + 1}`, `localhost.evil.example:${port}`, '127.0.0.1']) {
      expect(await get(url, { host }), host).toEqual({ status: 403, body: 'Host not allowed\n' });
    }
    // Bound to an explicit address: that name, not the loopback names.
    const other = await serveWeb({ port: 0, host: '127.0.0.2', dataDir: work });
    try {
      const otherPort = new URL(other.url).port;
      expect(other.url).toBe(`http://127.0.0.2:${otherPort}/`);
      expect((await get(other.url)).status).toBe(200);
      expect((await get(other.url, { host: `localhost:${otherPort}` })).status).toBe(403);
    } finally {
      other.server.close();
    }
  });

  it.skipIf(!linux)('destroys the response when a read fails after the headers went out, and keeps serving', async () => {
    const outcome = await fetch(url + 'broken.bin').then(
      (r) => r.arrayBuffer().then(() => `complete ${r.status}`),
      () => 'failed',
    );
    expect(outcome).toBe('failed');
    expect((await fetch(url)).status).toBe(200);
  }, 30_000); // a bound for a hang (a response never ended), not a speed verdict

  it.skipIf(!linux)('answers 403 for a file it may not open and keeps serving (a separate process, not root)', async (ctx) => {
    // Root reads a mode-000 file anyway: run the CLI as nobody, in a folder of its own.
    const locked = join(work, 'locked');
    mkdirSync(locked);
    writeFileSync(join(locked, 'train-images-idx3-ubyte.gz'), imagesGz);
    chmodSync(join(locked, 'train-images-idx3-ubyte.gz'), 0o000);
    writeFileSync(join(locked, 'train-labels-idx1-ubyte.gz'), gzipSync(idxLabels(3)));
    chmodSync(work, 0o755);
    chmodSync(locked, 0o755);
    // The checkout may be private (a 0700 home or mktemp folder): nobody runs a copy of the server
    // (node builtins only) from the test's folder, which every user can reach.
    const server = join(work, 'server');
    mkdirSync(server);
    copyFileSync(fileURLToPath(new URL('../scripts/serve-web.mjs', import.meta.url)), join(server, 'serve-web.mjs'));
    chmodSync(server, 0o755);
    chmodSync(join(server, 'serve-web.mjs'), 0o644);
    const unreachable = ancestorsClosedToOthers(work);
    ctx.skip(unreachable.length > 0, `another user cannot reach ${work}: ${unreachable.join(', ')} closed to others (set TMPDIR to a folder others can enter)`);
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const child = spawn(process.execPath, [join(server, 'serve-web.mjs'), '--port', '0', '--data-dir', locked], {
      ...asNobody,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const printed = await childPrints(child, /http:\/\/\S+\//);
      const childUrl = /http:\/\/\S+\//.exec(printed)![0];
      const refused = await get(childUrl + 'data/train-images-idx3-ubyte.gz');
      expect(refused.status).toBe(403);
      expect(refused.body).toBe('cannot read: /data/train-images-idx3-ubyte.gz\n');
      expect((await get(childUrl + 'data/train-labels-idx1-ubyte.gz')).status).toBe(200);
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill();
    }
  });

  it('a child that exits before printing what a test waits for fails it at once, with its stderr', async () => {
    const child = spawn(process.execPath, ['-e', 'console.error("cannot start: no such script"); process.exit(3)'], { stdio: ['ignore', 'pipe', 'pipe'] });
    await expect(childPrints(child, /http:/)).rejects.toThrow(/exited \(3\) before printing \/http:\/; its stderr:\ncannot start: no such script/);
  });

  it.skipIf(!linux)('closes the file of every download the client aborts', async () => {
    const big = join(work, 'big.bin');
    const baseline = openFdsOn(big);
    // Start the downloads, take one chunk of each and stop reading: the server holds the file open.
    const n = 50;
    const started = await Promise.all(
      Array.from({ length: n }, () => {
        const req = request(url + 'big.bin', { agent: false });
        req.end();
        return new Promise<ClientRequest>((ok, fail) => {
          req.on('error', fail);
          req.on('response', (res) => {
            res.once('data', () => {
              res.pause();
              ok(req);
            });
          });
        });
      }),
    );
    expect(openFdsOn(big)).toBe(baseline + n);
    for (const req of started) {
      req.on('error', () => {}); // the abort's own "socket hang up"
      req.destroy();
    }
    // The server closes each file after its response's 'close': wait for the count to settle.
    let count = openFdsOn(big);
    for (let tries = 0; tries < 500 && count !== baseline; tries++) {
      await new Promise((r) => setTimeout(r, 20));
      count = openFdsOn(big);
    }
    expect(count).toBe(baseline);
    expect((await fetch(url)).status).toBe(200);
  });
});
