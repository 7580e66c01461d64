// Copies the runtime closure of the given packages from node_modules/ into DEST/node_modules/, for
// the GPU machine's kit (scripts/device-pack.sh): @tensorflow/* packages keep only their
// package.json, their Node bundle ("main") and their .wasm files (the rest is 300 MB of browser
// bundles and sources); other packages are copied whole. Types-only packages are skipped.
//   node scripts/device-kit-modules.mjs DEST pkg...
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

const [dest, ...roots] = process.argv.slice(2);
if (!dest || !roots.length) throw new Error('usage: device-kit-modules.mjs DEST pkg...');
const seen = new Set();
const queue = [...roots];
while (queue.length) {
  const name = queue.shift();
  if (seen.has(name) || name.startsWith('@types/') || name === '@webgpu/types') continue;
  seen.add(name);
  const src = join('node_modules', name);
  if (!existsSync(join(src, 'package.json'))) throw new Error(`${name} is not in node_modules (npm ci first)`);
  const pkg = JSON.parse(readFileSync(join(src, 'package.json'), 'utf8'));
  const out = join(dest, 'node_modules', name);
  if (name.startsWith('@tensorflow/')) {
    mkdirSync(join(out, dirname(pkg.main)), { recursive: true });
    cpSync(join(src, 'package.json'), join(out, 'package.json'));
    cpSync(join(src, pkg.main), join(out, pkg.main));
    const dist = join(src, 'dist');
    for (const f of readdirSync(dist)) if (f.endsWith('.wasm')) cpSync(join(dist, f), join(out, 'dist', f));
  } else cpSync(src, out, { recursive: true });
  queue.push(...Object.keys(pkg.dependencies ?? {}));
}
process.stdout.write(`kit modules: ${[...seen].filter((n) => !n.startsWith('@types/')).join(', ')}\n`);
