// Builds the Node library, the CLI, the benchmarks and the browser bundle from src/ with esbuild.
// Shaders are imported as text, so the same .wgsl files reach every bundle.
import { build } from 'esbuild';

const common = { bundle: true, format: 'esm', loader: { '.wgsl': 'text' }, sourcemap: true, logLevel: 'warning', target: 'es2022' };
const nodeCommon = { ...common, platform: 'node', packages: 'external' };

await Promise.all([
  build({ ...nodeCommon, entryPoints: { 'kdgpu.node': 'src/index.node.ts', cli: 'src/cli/main.ts' }, outdir: 'dist' }),
  build({ ...common, platform: 'browser', entryPoints: { 'kdgpu.browser': 'src/index.browser.ts' }, outdir: 'dist' }),
]);
