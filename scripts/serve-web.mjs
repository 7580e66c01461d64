// `npm run web`: a static server for the browser demo, on localhost only (a secure context, so
// WebGPU is available). No framework: four mounts, read-only, GET/HEAD only.
//
//   /            web/                 the page (index.html, style.css)
//   /dist/       dist/                the bundles (`npm run build`: dist/web/app.js, dist/web/worker.js)
//   /data/       the four Fashion-MNIST files the page fetches (DATA_FILES; nothing else there) from
//                Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist, or
//                $KDGPU_DATA_DIR / --data-dir), served gzip-compressed as they are on disk; the
//                page inflates them with DecompressionStream('gzip')
//   /models/     models/              checkpoints (the page loads models/teacher-cnn.safetensors)
//   /ort/        onnxruntime-web's wasm binary (ORT_FILES; nothing else there), for an ONNX teacher on the
//                page: from node_modules/onnxruntime-web/dist, so the page never fetches it from a CDN
//
// A file is served only when its real path (symbolic links resolved) stays inside its mount's real
// path, and a request only when its Host header names the server with its port: the --host value,
// and 127.0.0.1, localhost or [::1] when bound to loopback (or to every interface, which adds the
// interfaces' addresses). A page of another site whose name is made to resolve to 127.0.0.1 (DNS
// rebinding) gets 403.
//
// Usage: node scripts/serve-web.mjs [--port N] [--host H] [--data-dir DIR] [--teacher FILE]
// --teacher serves FILE at /models/teacher-cnn.safetensors instead of the committed one.

import { constants } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { networkInterfaces } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const DEFAULT_DATA_DIR = '/usr/share/datasets/fashion-mnist';
/** The files the page fetches under /data/ (web/runner.ts, loadData): the only ones served there. */
export const DATA_FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
/** The files onnxruntime-web's wasm build fetches (web/teacher-input.ts, loadOrtWeb): the only ones served under /ort/. */
export const ORT_FILES = ['ort-wasm-simd-threaded.wasm'];

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  // Gzip files go out as bytes with no Content-Encoding: the browser must not inflate them itself.
  '.gz': 'application/octet-stream',
  '.safetensors': 'application/octet-stream',
  '.onnx': 'application/octet-stream',
  '.wasm': 'application/wasm',
};

/**
 * Start the server. Returns the http.Server and its URL once it listens; port 0 picks a free one.
 * `files` maps exact URL paths to files (e.g. a teacher checkpoint made by a test), served as named.
 */
export async function serveWeb({ port = 8080, host = '127.0.0.1', dataDir = process.env.KDGPU_DATA_DIR || DEFAULT_DATA_DIR, files = {}, log = () => {} } = {}) {
  const mounts = [
    ['/dist/', join(ROOT, 'dist')],
    ['/data/', resolve(dataDir), DATA_FILES],
    ['/models/', join(ROOT, 'models')],
    ['/ort/', join(ROOT, 'node_modules', 'onnxruntime-web', 'dist'), ORT_FILES],
    ['/', join(ROOT, 'web')],
  ];
  let hosts = new Set(); // the Host values accepted, once the port is known
  const server = createServer(async (req, res) => {
    try {
      if (!hosts.has(req.headers.host?.toLowerCase())) return send(res, 403, 'Host not allowed');
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'only GET and HEAD');
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
      const file = files[path] ?? (await resolveFile(mounts, path));
      if (!file) return send(res, 404, `not found: ${path}`);
      await sendFile(req, res, file, path, log);
    } catch (e) {
      if (!res.headersSent) send(res, 400, String(e?.message ?? e));
      else res.destroy();
    }
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, ok);
  });
  const address = server.address();
  hosts = allowedHosts(host, address.port);
  return { server, url: `http://${hostPort(WILDCARD.includes(host) ? '127.0.0.1' : host, address.port)}/` };
}

/**
 * The real path of the file a URL path names under its mount (a folder's index.html), or null when
 * it is missing, not listed for its mount, or would step outside the mount, by `..` or by a link.
 */
async function resolveFile(mounts, path) {
  for (const [prefix, dir, only] of mounts) {
    if (!path.startsWith(prefix)) continue;
    const rel = normalize(path.slice(prefix.length));
    if (rel.startsWith('..') || rel.includes(`${sep}..${sep}`) || rel.includes('\0')) return null;
    if (only && !only.includes(rel)) return null;
    let full = join(dir, rel);
    if (full !== dir && !full.startsWith(dir + sep)) return null;
    if ((await stat(full).catch(() => null))?.isDirectory()) full = join(full, 'index.html');
    const [real, realDir] = await Promise.all([realpath(full), realpath(dir)]).catch(() => []);
    return real?.startsWith(realDir + sep) ? real : null;
  }
  return null;
}

/**
 * Stream a regular file: 403 when it cannot be opened (permissions), 500 for other failures, 404
 * when it is not a regular file. A read error after the headers went out, or a client that goes
 * away mid-download, destroys both ends, which closes the file.
 */
async function sendFile(req, res, file, path, log) {
  let handle;
  try {
    // O_NONBLOCK: a FIFO put in the file's place must not hang the open (it is refused below).
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const status = e.code === 'ENOENT' ? 404 : e.code === 'EACCES' || e.code === 'EPERM' ? 403 : 500;
    log(`${req.method} ${path} -> ${file}: ${e.code ?? e.message}`);
    return send(res, status, `${status === 404 ? 'not found' : 'cannot read'}: ${path}`);
  }
  const info = await handle.stat().catch(() => null);
  if (!info?.isFile()) {
    await handle.close();
    return send(res, 404, `not found: ${path}`);
  }
  res.writeHead(200, {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    'content-length': info.size,
    'cache-control': 'no-store',
  });
  log(`${req.method} ${path} -> ${file}`);
  if (req.method === 'HEAD') {
    await handle.close();
    return res.end();
  }
  pipeline(handle.createReadStream(), res, (e) => {
    if (e && e.code !== 'ERR_STREAM_PREMATURE_CLOSE') log(`${req.method} ${path} -> ${file}: ${e.code ?? e.message}`);
  });
}

const LOOPBACK = ['127.0.0.1', 'localhost', '::1'];
const WILDCARD = ['0.0.0.0', '::'];

/**
 * The Host header values accepted (lower case, with the port): the bound host; the loopback names
 * when bound to loopback or to every interface; and, bound to every interface, the addresses of
 * the machine's interfaces. A name that merely resolves here (DNS rebinding) is not among them.
 */
function allowedHosts(host, port) {
  const names = [host];
  if (LOOPBACK.includes(host) || WILDCARD.includes(host)) names.push(...LOOPBACK);
  if (WILDCARD.includes(host)) names.push(...Object.values(networkInterfaces()).flatMap((list) => list.map((i) => i.address)));
  // A browser leaves the port out of Host when it is the scheme's default.
  return new Set(names.flatMap((h) => (port === 80 ? [hostPort(h, port), hostPort(h)] : [hostPort(h, port)])));
}

/** host:port as a URL or a Host header has it: an IPv6 address in brackets, lower case. */
function hostPort(host, port) {
  const name = (host.includes(':') ? `[${host}]` : host).toLowerCase();
  return port === undefined ? name : `${name}:${port}`;
}

function send(res, status, text) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text + '\n');
}

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (flag === '--port') o.port = Number(value);
    else if (flag === '--host') o.host = value;
    else if (flag === '--data-dir') o.dataDir = value;
    else if (flag === '--teacher') o.files = { '/models/teacher-cnn.safetensors': resolve(value) };
    else if (flag === '--verbose') {
      o.log = (s) => console.log(s);
      continue;
    } else throw new Error(`serve-web: unknown option ${flag} (known: --port N, --host H, --data-dir DIR, --teacher FILE, --verbose)`);
    if (value === undefined) throw new Error(`serve-web: ${flag} needs a value`);
    i++;
  }
  if (o.port !== undefined && !(Number.isInteger(o.port) && o.port >= 0 && o.port < 65536)) throw new Error(`serve-web: --port must be an integer in [0, 65535]`);
  return o;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const opts = parseArgs(process.argv.slice(2));
    const { url } = await serveWeb({ port: Number(process.env.PORT) || 8080, ...opts });
    console.log(`kdgpu web demo: ${url}  (Chrome/Edge with WebGPU; Ctrl-C stops)`);
  } catch (e) {
    console.error(e.message ?? e);
    process.exit(1);
  }
}
