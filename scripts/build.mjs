// Builds the Node library, the CLI, the benchmarks and the browser bundle from src/ with esbuild.
// Shaders are imported as text, so the same .wgsl files reach every bundle. Then the models the
// package ships (modelPath), weights only, into dist/models.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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

// The committed teacher without its training state (the optimizer's moments, which only --resume
// reads): 3.3 MB in the package instead of 9.9. Written with the library's own checkpoint code.
const SHIPPED = { 'teacher-cnn': 'models/teacher-cnn.safetensors' };
const helper = await build({
  ...nodeCommon,
  stdin: { contents: "export { decodeCheckpoint } from './src/io/checkpoint-bytes.ts'; export { weightsOnly } from './src/nn/model-checkpoint.ts';", resolveDir: '.', loader: 'ts' },
  write: false,
  sourcemap: false,
});
const { decodeCheckpoint, weightsOnly } = await import(`data:text/javascript;base64,${Buffer.from(helper.outputFiles[0].text).toString('base64')}`);
mkdirSync('dist/models', { recursive: true });
for (const [name, source] of Object.entries(SHIPPED)) {
  writeFileSync(`dist/models/${name}.safetensors`, weightsOnly(decodeCheckpoint(new Uint8Array(readFileSync(source)), source)));
}
