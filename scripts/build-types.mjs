// Type declarations for the package's entry points (src/index.node.ts, src/index.browser.ts) into
// dist/types, as package.json's "exports" name them. Run by `npm run build:types` and by prepack.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';

rmSync('dist/types', { recursive: true, force: true }); // no declarations of deleted modules
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
for (const entry of ['index.node.d.ts', 'index.browser.d.ts']) {
  if (!existsSync(`dist/types/${entry}`)) throw new Error(`build-types: dist/types/${entry} was not emitted`);
}
