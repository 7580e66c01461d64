// The package as a user gets it: `npm pack` (its prepack builds the bundles and the type
// declarations), installed into a fresh project from the tarball (dependencies from the registry),
// then used three ways: TypeScript consumers compiled strict, without skipLibCheck, by TypeScript
// 5, 6 and 7 (installed beside the package from the registry) with module/moduleResolution nodenext,
// with and without the DOM lib, and run (and browser ones with moduleResolution bundler), a Node ESM consumer that makes an engine,
// tensors, an op and a filtered verifyKernels run, and a browser consumer bundled with esbuild.
//
// The pack runs in a copy of the project (node_modules linked), so the working tree's dist/ is
// never rebuilt under whatever else is using it. Slow (a build, an npm install of ~130 MB of Dawn,
// kernels on SwiftShader), so the timeout is generous; nothing here depends on how fast it runs.

import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
/** TypeScript versions a consumer may use, installed beside the package under these aliases. */
const TYPESCRIPTS = { '5': 'typescript5', '6': 'typescript6', '7': 'typescript7' };
const TYPESCRIPT_INSTALLS = ['typescript5@npm:typescript@5.9.3', 'typescript6@npm:typescript@6.0.3', 'typescript7@npm:typescript@7.0.2', '@types/node@20'];
/** Top-level entries of the project not copied: installed, built, large or local state. */
const NOT_COPIED = new Set(['node_modules', '.git', 'dist', 'models', 'test-artifacts', '.runs', '.teacher-run', '.device', '.gl']);

let work: string;
let packed: { filename: string; files: string[] };
let consumer: string;

/** Run a command; resolve with its output, reject with both streams on a non-zero exit. */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    execFile(cmd, args, { cwd, env, maxBuffer: 64 * 2 ** 20 }, (err, stdout, stderr) => {
      if (err) fail(new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${err.message}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
      else done({ stdout, stderr });
    });
  });
}

/** The environment without what an enclosing `npm run`/`npx` set for this project. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_(package_|lifecycle_|config_(prefix|global|local_prefix)$)|^INIT_CWD$/i.test(k)));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kdgpu-package-'));
  const source = join(work, 'source');
  mkdirSync(source);
  for (const entry of readdirSync(ROOT)) {
    if (NOT_COPIED.has(entry)) continue;
    cpSync(join(ROOT, entry), join(source, entry), { recursive: true, filter: (p) => !p.includes(`${join(ROOT, 'bench', 'out')}`) });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(source, 'node_modules'), 'dir');
  symlinkSync(join(ROOT, 'models'), join(source, 'models'), 'dir'); // the build writes the shipped teacher from it

  // prepack builds dist/ (bundles and declarations) in the copy.
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], source, cleanEnv());
  // Lifecycle scripts may print before the JSON report: it is the last top-level array.
  const json = stdout.slice(stdout.lastIndexOf('\n[') + 1);
  const [report] = JSON.parse(json.startsWith('[') ? json : stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  packed = { filename: join(work, report.filename), files: report.files.map((f) => f.path) };

  consumer = join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'kdgpu-consumer', private: true, type: 'module' }, null, 2));
  await run('npm', ['install', packed.filename, ...TYPESCRIPT_INSTALLS, '--no-audit', '--no-fund', '--prefer-offline'], consumer, cleanEnv());
}, 1_200_000);

afterAll(() => {
  if (work && !process.env.KDGPU_KEEP_PACKAGE_TEST) rmSync(work, { recursive: true, force: true });
});

describe('npm package', () => {
  it('packs the bundles, the CLI and the declarations, and nothing for development', () => {
    const files = packed.files;
    for (const f of ['package.json', 'README.md', 'bin/kdgpu.js', 'dist/cli.js', 'dist/kdgpu.node.js', 'dist/kdgpu.browser.js', 'dist/types/index.node.d.ts', 'dist/types/index.browser.d.ts', 'dist/types/gpu/engine.d.ts', 'dist/models/teacher-cnn.safetensors']) {
      expect(files, f).toContain(f);
    }
    // Shaders are bundled as text; the benchmarks' bundles need the dev dependencies (@tensorflow/*).
    const unwanted = files.filter((f) => /^(src|test|models|shaders|bench|web|scripts|docs|ablation|examples)\/|^dist\/(web\/|bench-)|^tsconfig|^vitest/.test(f));
    expect(unwanted).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(consumer, 'node_modules', 'kdgpu', 'package.json'), 'utf8'));
    expect(pkg.scripts.prepare).toBeUndefined();
    // The chart's 15 MB are an optional peer: not installed with the package.
    expect(existsSync(join(consumer, 'node_modules', 'vega'))).toBe(false);
    expect(existsSync(join(consumer, 'node_modules', 'vega-lite'))).toBe(false);
    // The shipped teacher holds its weights only: a third of the committed checkpoint.
    const teacher = readFileSync(join(consumer, 'node_modules', 'kdgpu', 'dist', 'models', 'teacher-cnn.safetensors')).length;
    expect(teacher).toBeLessThan(readFileSync(join(ROOT, 'models', 'teacher-cnn.safetensors')).length / 2);
  });

  it("runs the README's library example as written, and names a missing file in words", async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const example = /```js\n([\s\S]*?)```/.exec(readme)![1];
    expect(example).toMatch(/from 'kdgpu'/);
    writeFileSync(join(consumer, 'readme-example.mjs'), example);
    const { stdout } = await run(process.execPath, ['readme-example.mjs'], consumer);
    // console.log(t.epoch, t.testAccuracy, t.selection?.perClass) per epoch (the selection spans
    // lines), then console.log(r.last, r.testAtBestVal).
    const lines = stdout.trim().split('\n');
    expect(lines.map((l) => /^(\d+) (0\.\d+|1) /.exec(l)?.[1]).filter(Boolean)).toEqual(['1', '2']);
    const [last, atBest] = /^(0\.\d+|1) (0\.\d+|1)$/.exec(lines[lines.length - 1])!.slice(1).map(Number);
    expect(last).toBeGreaterThan(0.5);
    expect(atBest).toBeGreaterThan(0.5);

    writeFileSync(
      join(consumer, 'missing.mjs'),
      `import { createNodeEngine, loadModel } from 'kdgpu';
const engine = await createNodeEngine({ log: () => {} });
const message = await loadModel(engine, 'teacher.safetensors').then(() => 'loaded', (e) => e.message);
engine.destroy();
process.stdout.write(message);
`,
    );
    expect((await run(process.execPath, ['missing.mjs'], consumer)).stdout).toBe('teacher.safetensors: no such file');
  }, 900_000);

  it('compiles strict TypeScript consumers on TypeScript 5, 6 and 7, with and without the DOM lib, and runs them', async () => {
    writeFileSync(
      join(consumer, 'node-consumer.ts'),
      `import { createNodeEngine, verifyKernels, elementwise, defineKernel, DEFAULT_DISTILL, EngineTensor,
  type DistillOptions, type KernelDef, type KernelCheck, type VerifyCase, type VerifyRow, type NodeGpuOptions, type MemoryInfo, type Dataset } from 'kdgpu';

const options: NodeGpuOptions = { adapter: 'auto', log: () => {} };
const def: KernelDef = defineKernel({
  name: 'consumer_copy',
  source: '@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) { if (id.x < params.n) { y[id.x] = x[id.x]; } }',
  bindings: [{ name: 'x', type: 'f32', access: 'read' }, { name: 'y', type: 'f32', access: 'read_write' }],
  uniforms: [['n', 'u32']],
  workgroupSize: () => [64, 1, 1],
});
const check: KernelCheck = {
  name: 'consumer_copy',
  kernels: [def],
  cases: (): VerifyCase[] => [{
    shape: 'n=3',
    inputs: { x: new Float32Array([1, 2, 3]) },
    outputs: { y: 3 },
    run: (engine, bufs) => engine.dispatch(def, { bind: { x: bufs.x, y: bufs.y }, uniforms: { n: 3 }, workgroups: 1 }),
    reference: () => ({ y: Float64Array.from([1, 2, 3]) }),
    tolerance: { abs: 0, rel: 0 },
  }],
};
export async function main(): Promise<string> {
  const engine = await createNodeEngine(options);
  const t: EngineTensor = engine.tensor(new Float32Array([-1, 2, -3, 4]), [2, 2]);
  const kept = engine.tidy(() => [t, engine.tensor(new Float32Array(4))] as const);
  elementwise(engine, 'relu', t.data, t.data, kept[1].data, 4);
  const values: Float32Array = await kept[1].read();
  const memory: MemoryInfo = engine.memory();
  const maxBuffer: number = engine.limits.maxBufferSize;
  const rows: VerifyRow[] = await verifyKernels(engine, { checks: [check], filter: 'consumer' });
  const distill: Partial<DistillOptions> = { ...DEFAULT_DISTILL, method: 'kd+lr+ds', epochs: 1 };
  const data: Dataset | undefined = undefined;
  engine.destroy();
  return JSON.stringify({ relu: Array.from(values), tensors: memory.tensors, buffer: maxBuffer > 0, verified: rows.every((r) => r.pass) && rows.length, epochs: distill.epochs, data: data ?? null });
}
`,
    );
    writeFileSync(
      join(consumer, 'node-wrong.ts'),
      `import { type Engine } from 'kdgpu';
// @ts-expect-error the browser entry's function is not in the node typings
import { createBrowserEngine } from 'kdgpu';
export function wrong(engine: Engine): void {
  // @ts-expect-error data must be a Float32Array
  engine.tensor([1, 2, 3], [3]);
  void createBrowserEngine;
}
`,
    );
    writeFileSync(
      join(consumer, 'browser-consumer.ts'),
      `import { createBrowserEngine, verifyKernels, type Engine, type VerifyRow } from 'kdgpu';
// @ts-expect-error the node entry's function is not in the browser typings
import { createNodeEngine } from 'kdgpu';

export async function main(): Promise<VerifyRow[]> {
  const engine: Engine = await createBrowserEngine();
  return verifyKernels(engine, { filter: 'elementwise' });
}
void createNodeEngine;
`,
    );
    // With WebGPU's types at hand (lib.dom from TypeScript 6 on), the engine's objects are theirs.
    writeFileSync(
      join(consumer, 'browser-webgpu.ts'),
      `import { createBrowserEngine } from 'kdgpu';
export async function device(): Promise<GPUDevice> {
  const engine = await createBrowserEngine();
  const buffer: GPUBuffer = engine.tensor(new Float32Array(4), [4]).data.buffer;
  buffer.unmap();
  return engine.device;
}
`,
    );
    const strict = { strict: true, target: 'ES2022', skipLibCheck: false, forceConsistentCasingInFileNames: true };
    const nodeProject = { ...strict, module: 'nodenext', moduleResolution: 'nodenext', types: ['node'] };
    const browserProject = { ...strict, noEmit: true, module: 'esnext', moduleResolution: 'bundler', lib: ['ES2022', 'DOM'], types: [] };
    for (const [version, tsc] of Object.entries(TYPESCRIPTS)) {
      const configs: Record<string, object> = {
        // Node projects, declarations checked too, with the DOM lib and without (the usual Node setup).
        [`tsconfig.node-dom.${version}.json`]: { compilerOptions: { ...nodeProject, lib: ['ES2022', 'DOM'], outDir: `out-dom-${version}` }, files: ['node-consumer.ts', 'node-wrong.ts'] },
        [`tsconfig.node.${version}.json`]: { compilerOptions: { ...nodeProject, lib: ['ES2022'], outDir: `out-${version}` }, files: ['node-consumer.ts', 'node-wrong.ts'] },
        // A browser project resolved the way bundlers do: the "default" condition, the browser typings.
        [`tsconfig.browser.${version}.json`]: { compilerOptions: browserProject, files: version === '5' ? ['browser-consumer.ts'] : ['browser-consumer.ts', 'browser-webgpu.ts'] },
      };
      for (const [name, config] of Object.entries(configs)) {
        writeFileSync(join(consumer, name), JSON.stringify(config, null, 2));
        const { stdout, stderr } = await run(process.execPath, [join(consumer, 'node_modules', tsc, 'bin', 'tsc'), '-p', name], consumer).catch((e: Error) => ({ stdout: e.message, stderr: 'failed' }));
        expect(`${stdout}${stderr}`, name).toBe('');
      }
      // What each TypeScript emitted runs.
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `import { main } from './out-${version}/node-consumer.js'; process.stdout.write(await main());`], consumer);
      expect(JSON.parse(stdout), `TypeScript ${version}`).toEqual({ relu: [0, 2, 0, 4], tensors: 2, buffer: true, verified: 1, epochs: 1, data: null });
    }
  }, 900_000);

  it('runs a Node ESM consumer: an engine, tensors, tidy(), an op, and verifyKernels on one kernel', async () => {
    writeFileSync(
      join(consumer, 'main.mjs'),
      `import { createNodeEngine, verifyKernels, elementwise, ops, Graph, EngineTensor } from 'kdgpu';
const before = globalThis.setImmediate;
const log = [];
const engine = await createNodeEngine({ log: (line) => log.push(line) });
const r = { adapter: engine.adapterName, software: engine.software, patched: globalThis.setImmediate !== before, log };
const a = engine.tensor(new Float32Array([1, -2, 3, -4, 5, -6]), [2, 3]);
r.isTensor = a instanceof EngineTensor;
r.shape = a.shape;
r.read = Array.from(await a.read());
const start = engine.memory();
const sum = engine.tidy(() => {
  const b = engine.tensor(new Float32Array([10, 20, 30, 40, 50, 60]), [2, 3]);
  const out = engine.tensor(new Float32Array(6), [2, 3]);
  engine.tensor(new Float32Array(6)); // not returned: disposed
  elementwise(engine, 'add', a.data, b.data, out.data, 6);
  return { out };
}).out;
r.tensorsAfterTidy = engine.memory().tensors - start.tensors;
r.sum = Array.from(await sum.read());
const g = new Graph(engine, false);
r.relu = Array.from(await engine.readTensor(ops.relu(g, a)));
g.release();
r.asyncTidy = await engine.tidy(async () => Array.from(await engine.tensor(new Float32Array([7, 8])).read()));
sum.dispose();
a.dispose();
a.dispose(); // idempotent
r.end = engine.memory();
r.readAfterDispose = await a.read().then(() => 'resolved', (e) => e.message);
const rows = await verifyKernels(engine, { filter: 'elementwise', seed: 7 });
r.verify = { rows: rows.length, kernels: [...new Set(rows.map((x) => x.kernel))], failed: rows.filter((x) => !x.pass).map((x) => x.shape + ': ' + x.detail) };
engine.destroy();
r.restored = globalThis.setImmediate === before;
process.stdout.write(JSON.stringify(r) + '\\n');
`,
    );
    const { stdout } = await run(process.execPath, ['main.mjs'], consumer);
    const r = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(r.isTensor).toBe(true);
    expect(r.shape).toEqual([2, 3]);
    expect(r.read).toEqual([1, -2, 3, -4, 5, -6]);
    expect(r.tensorsAfterTidy).toBe(1);
    expect(r.sum).toEqual([11, 18, 33, 36, 55, 54]);
    expect(r.relu).toEqual([1, 0, 3, 0, 5, 0]);
    expect(r.asyncTidy).toEqual([7, 8]);
    expect(r.end.tensors).toBe(0);
    expect(r.end.buffersInUse).toBe(0);
    expect(r.end.bytesInUse).toBe(0);
    expect(r.readAfterDispose).toMatch(/disposed/);
    expect(r.verify.kernels).toEqual(['elementwise']);
    expect(r.verify.rows).toBeGreaterThan(0);
    expect(r.verify.failed).toEqual([]);
    // The setImmediate patch (CPU-emulated adapters only) is undone by destroy().
    expect(r.patched).toBe(r.software);
    expect(r.restored).toBe(true);
  }, 600_000);

  it('leaves process.env, setImmediate and globalThis alone when told to', async () => {
    writeFileSync(
      join(consumer, 'opt-out.mjs'),
      `import { createNodeEngine, SWIFTSHADER_ICD } from 'kdgpu';
const env = JSON.stringify(process.env);
const immediate = globalThis.setImmediate;
// The caller's environment points the Vulkan loader at SwiftShader, as setEnv: false requires.
const engine = await createNodeEngine({ setEnv: false, probe: false, throttlePolls: false, installGlobals: false, log: () => {} });
const r = { icd: process.env.VK_ICD_FILENAMES === SWIFTSHADER_ICD, env: JSON.stringify(process.env) === env, immediate: globalThis.setImmediate === immediate, globals: 'GPUBufferUsage' in globalThis };
r.values = Array.from(await engine.tensor(new Float32Array([3, 4])).read());
engine.destroy();
process.stdout.write(JSON.stringify(r) + '\\n');
`,
    );
    const env = { ...process.env, VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json' };
    const { stdout } = await run(process.execPath, ['opt-out.mjs'], consumer, env);
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual({ icd: true, env: true, immediate: true, globals: false, values: [3, 4] });
  }, 600_000);

  it('runs the installed CLI without the optional chart dependencies', async () => {
    const bin = join(consumer, 'node_modules', '.bin', 'kdgpu');
    const { stdout } = await run(bin, ['--help'], consumer);
    expect(stdout).toMatch(/verify/);
    // ONNX export from the package (protobufjs, a dependency); an ONNX teacher needs the optional
    // onnxruntime-node, which the package does not install: the error says what to install.
    const onnx = join(consumer, 'teacher.onnx');
    expect((await run(bin, ['export', '--checkpoint', join(ROOT, 'models', 'teacher-cnn.safetensors'), '--out', onnx], consumer)).stdout).toMatch(/exported teacher-cnn .* ONNX opset 13/);
    expect(readFileSync(onnx).length).toBeGreaterThan(3_000_000);
    expect(existsSync(join(consumer, 'node_modules', 'onnxruntime-node'))).toBe(false);
    const failed = await run(bin, ['distill', '--teacher', onnx, '--method', 'kd', '--epochs', '1'], consumer).then(() => 'succeeded', (e: Error) => e.message);
    expect(failed).toMatch(/an ONNX teacher needs onnxruntime-node, an optional peer dependency of kdgpu: run `npm install onnxruntime-node --ignore-scripts`/);
  }, 120_000);

  it('bundles a browser consumer with esbuild from the browser condition', async () => {
    writeFileSync(
      join(consumer, 'browser.js'),
      `import { createBrowserEngine, verifyKernels } from 'kdgpu';
export async function verifyHere() {
  const engine = await createBrowserEngine();
  const engineTensor = engine.tensor(new Float32Array([1, 2]), [2]);
  return { rows: await verifyKernels(engine, { filter: 'elementwise' }), values: await engineTensor.read() };
}
`,
    );
    const result = await build({
      absWorkingDir: consumer,
      entryPoints: ['browser.js'],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      metafile: true,
      logLevel: 'silent',
      outfile: 'out.js',
    });
    expect(result.errors).toEqual([]);
    const inputs = Object.keys(result.metafile!.inputs);
    expect(inputs).toContain('node_modules/kdgpu/dist/kdgpu.browser.js');
    expect(inputs.filter((p) => p.includes('kdgpu.node') || p.startsWith('node:') || p.includes('node_modules/webgpu'))).toEqual([]);
    const code = result.outputFiles[0].text;
    expect(code).toMatch(/navigator\.gpu/);
    expect(code).not.toMatch(/node:child_process|setImmediate/);

    // "sideEffects": false may let a bundler drop unused files, never the kernels' registration
    // (definedKernels, which the verifier checks for coverage): a bundle that only imports the
    // registry of definitions still holds every kernel the Node entry defines.
    writeFileSync(join(consumer, 'kernels.js'), `import { definedKernels } from 'kdgpu';\nexport const names = [...definedKernels.keys()].sort();\n`);
    await build({ absWorkingDir: consumer, entryPoints: ['kernels.js'], bundle: true, platform: 'browser', format: 'esm', outfile: 'kernels.bundle.mjs', logLevel: 'silent' });
    const { names } = (await import(pathToFileURL(join(consumer, 'kernels.bundle.mjs')).href)) as { names: string[] };
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', `import { definedKernels } from 'kdgpu'; process.stdout.write(JSON.stringify([...definedKernels.keys()].sort()));`], consumer);
    expect(names.length).toBeGreaterThan(5);
    expect(names).toEqual(JSON.parse(stdout));
  }, 120_000);
});
