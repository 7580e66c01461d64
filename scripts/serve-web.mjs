// `npm run web`: a static server for the browser demo, on localhost only (a secure context, so
// WebGPU is available). No framework: four mounts, read-only, GET/HEAD only.
//
//   /            web/                 the page (index.html, style.css)
//   /dist/       dist/                the bundles (`npm run build`: dist/web/app.js, dist/web/worker.js)
//   /data/       Debian's dataset-fashion-mnist files (/usr/share/datasets/fashion-mnist, or
//                $KDGPU_DATA_DIR / --data-dir), served gzip-compressed as they are on disk; the
//                page inflates them with DecompressionStream('gzip')
//   /models/     models/              checkpoints (the page loads models/teacher-cnn.safetensors)
//
// Usage: node scripts/serve-web.mjs [--port N] [--host H] [--data-dir DIR] [--teacher FILE]
// --teacher serves FILE at /models/teacher-cnn.safetensors instead of the committed one.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const DEFAULT_DATA_DIR = '/usr/share/datasets/fashion-mnist';

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
};

/**
 * Start the server. Returns the http.Server and its URL once it listens; port 0 picks a free one.
 * `files` maps exact URL paths to files (e.g. a teacher checkpoint made by a test).
 */
export async function serveWeb({ port = 8080, host = '127.0.0.1', dataDir = process.env.KDGPU_DATA_DIR || DEFAULT_DATA_DIR, files = {}, log = () => {} } = {}) {
  const mounts = [
    ['/dist/', join(ROOT, 'dist')],
    ['/data/', resolve(dataDir)],
    ['/models/', join(ROOT, 'models')],
    ['/', join(ROOT, 'web')],
  ];
  const server = createServer(async (req, res) => {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'only GET and HEAD');
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
      const file = files[path] ?? resolveFile(mounts, path);
      if (!file) return send(res, 404, `not found: ${path}`);
      let info = await stat(file).catch(() => null);
      let target = file;
      if (info?.isDirectory()) {
        target = join(file, 'index.html');
        info = await stat(target).catch(() => null);
      }
      if (!info?.isFile()) return send(res, 404, `not found: ${path}`);
      res.writeHead(200, {
        'content-type': TYPES[extname(target)] ?? 'application/octet-stream',
        'content-length': info.size,
        'cache-control': 'no-store',
      });
      log(`${req.method} ${path} -> ${target}`);
      if (req.method === 'HEAD') return res.end();
      createReadStream(target).pipe(res);
    } catch (e) {
      send(res, 400, String(e?.message ?? e));
    }
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, ok);
  });
  const address = server.address();
  return { server, url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}/` };
}

/** The file a URL path names under its mount, or null when it would step outside the mount. */
function resolveFile(mounts, path) {
  for (const [prefix, dir] of mounts) {
    if (!path.startsWith(prefix)) continue;
    const rel = normalize(path.slice(prefix.length));
    if (rel.startsWith('..') || rel.includes(`${sep}..${sep}`) || rel.includes('\0')) return null;
    const full = join(dir, rel);
    return full === dir || full.startsWith(dir + sep) ? full : null;
  }
  return null;
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
