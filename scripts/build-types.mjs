// Type declarations for the package's entry points (src/index.node.ts, src/index.browser.ts) into
// dist/types, as package.json's "exports" name them. Run by `npm run build:types` and by prepack.
//
// The sources are compiled against @webgpu/types, but the declarations must not depend on any
// global WebGPU types (src/gpu/webgpu-public.d.ts says why): every declaration file that names a
// GPU* type gets an import of it from dist/types/gpu/webgpu-public.d.ts, which resolves each to the
// consumer's own type where it has one. A GPU* name that file does not provide stops the build.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';

const OUT = 'dist/types';
const PUBLIC_TYPES = 'src/gpu/webgpu-public.d.ts';
const PUBLIC_TYPES_OUT = join(OUT, 'gpu', 'webgpu-public.d.ts');

rmSync(OUT, { recursive: true, force: true }); // no declarations of deleted modules
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
for (const entry of ['index.node.d.ts', 'index.browser.d.ts']) {
  if (!existsSync(join(OUT, entry))) throw new Error(`build-types: ${OUT}/${entry} was not emitted`);
}

const provided = new Set([...readFileSync(PUBLIC_TYPES, 'utf8').matchAll(/^export (?:interface|type) (GPU\w+)/gm)].map((m) => m[1]));
copyFileSync(PUBLIC_TYPES, PUBLIC_TYPES_OUT);

/** Every .d.ts under `dir`. */
function declarationFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? declarationFiles(join(dir, e.name)) : e.name.endsWith('.d.ts') ? [join(dir, e.name)] : []));
}

for (const file of declarationFiles(OUT)) {
  if (file === PUBLIC_TYPES_OUT) continue;
  const text = readFileSync(file, 'utf8');
  if (/^\/\/\/\s*<reference\s+types=/m.test(text)) throw new Error(`build-types: ${file} references a types package; the declarations must not pull in global types`);
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
  const names = [...new Set([...code.matchAll(/\bGPU[A-Z]\w*\b/g)].map((m) => m[0]))].sort();
  if (names.length === 0) continue;
  const missing = names.filter((n) => !provided.has(n));
  if (missing.length) throw new Error(`build-types: ${file} names ${missing.join(', ')}, which ${PUBLIC_TYPES} does not provide: add ${missing.length > 1 ? 'them' : 'it'} there`);
  let from = relative(dirname(file), PUBLIC_TYPES_OUT).replace(/\.d\.ts$/, '.js');
  if (!from.startsWith('.')) from = `./${from}`;
  writeFileSync(file, `import type { ${names.join(', ')} } from '${from}';\n${text}`);
}
