// Builds the Node library, the CLI, the benchmarks and the browser bundle from src/ with esbuild.
// Shaders are imported as text, so the same .wgsl files reach every bundle.
import { build } from 'esbuild';

const common = { bundle: true, format: 'esm', loader: { '.wgsl': 'text' }, sourcemap: true, logLevel: 'warning', target: 'es2022' };
const nodeCommon = { ...common, platform: 'node', packages: 'external' };

await Promise.all([
  build({ ...nodeCommon, entryPoints: { 'kdgpu.node': 'src/index.node.ts', cli: 'src/cli/main.ts' }, outdir: 'dist' }),
  // `kdgpu bench steps` (bench/steps.ts) and its per-backend child processes; their peers
  // (@tensorflow/*) are dev dependencies, loaded from node_modules at run time.
  build({
    ...nodeCommon,
    packages: 'external',
    entryPoints: { 'bench-soak': 'bench/soak.ts', 'bench-steps': 'bench/steps.ts', 'bench-peer-kdgpu': 'bench/peers/kdgpu.ts', 'bench-peer-tfjs': 'bench/peers/tfjs.ts' },
    outdir: 'dist',
  }),
  build({ ...common, platform: 'browser', entryPoints: { 'kdgpu.browser': 'src/index.browser.ts' }, outdir: 'dist' }),
  // The browser demo (web/, served by `npm run web`): the page's script (with uPlot and its CSS,
  // emitted as dist/web/app.css) and the worker that owns the GPU, each a separate ESM bundle.
  build({ ...common, platform: 'browser', entryPoints: { app: 'web/app.ts', worker: 'web/worker.ts' }, outdir: 'dist/web', splitting: true, chunkNames: 'chunks/[name]-[hash]' }),
]);
