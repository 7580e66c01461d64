// Kernel plug-ins: your own kernel (examples/my-kernels.mjs) verified and benchmarked by the CLI
// beside the built-ins, a wrong reference reported, registration idempotent, bad modules named.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { kdgpu, kdgpuFails } from './helpers.js';
import { defineKernel, type KernelDef } from '../src/gpu/kernel.js';

const cli = (args: string[]) => kdgpu(args);
const cliFails = kdgpuFails;
const dir = mkdtempSync(join(tmpdir(), 'kdgpu-plugins-'));
const example = resolve('examples/my-kernels.mjs');

describe('kernel plug-ins', () => {
  it('verify --checks runs your kernel against its reference (alone, with --no-builtins)', async () => {
    const { stdout } = await cli(['verify', '--checks', example, '--no-builtins', '--json', '--seed', '3']);
    const r = JSON.parse(stdout);
    expect(r.pass).toBe(true);
    expect(r.rows.length).toBe(3);
    expect(new Set(r.rows.map((x: { kernel: string }) => x.kernel))).toEqual(new Set(['leaky_relu_example']));
  });

  it('a wrong reference in your module fails verify with the element, and exit code 1', async () => {
    const bad = join(dir, 'bad-kernels.mjs');
    writeFileSync(
      bad,
      `import { checks as good } from ${JSON.stringify(example)};\n` +
        `export const checks = good.map((c) => ({ ...c, cases: (rng) => c.cases(rng).map((k) => ({ ...k, reference: () => ({ y: k.reference().y.map((v) => v * 1.001 + 1) }) })) }));\n`,
    );
    const r = await cliFails(['verify', '--checks', bad, '--no-builtins', '--seed', '3']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/leaky_relu_example .*FAIL \(element \d+: got/);
    expect(r.out).toMatch(/0 passed, 3 failed/);
  });

  it('bench kernels --checks times your kernel: median with min and max in the JSON', async () => {
    const json = join(dir, 'bench.json');
    await cli(['bench', 'kernels', '--quick', '--checks', example, '--filter', 'leaky_relu', '--json', json]);
    const rows = JSON.parse(readFileSync(json, 'utf8')).rows as Array<{ name: string; ms: number; msMin: number; msMax: number; unit: string; rate: number }>;
    expect(rows.length).toBe(3);
    for (const r of rows) {
      expect(r.name).toBe('leaky_relu_example');
      expect(r.msMin).toBeLessThanOrEqual(r.ms);
      expect(r.ms).toBeLessThanOrEqual(r.msMax);
      expect(r.unit).toBe('GB/s');
      expect(r.rate).toBeGreaterThan(0);
    }
  });

  it('bench kernels: the models\' layers have rows with their work declared, and --filter picks them', async () => {
    const rows = async (filter: string) => {
      const json = join(dir, `bench-${filter}.json`);
      await cli(['bench', 'kernels', '--quick', '--filter', filter, '--json', json]);
      return JSON.parse(readFileSync(json, 'utf8')).rows as Array<{ name: string; shape: string; unit: string; rate: number; fractionOfCeiling: number }>;
    };
    const c1 = await rows('c1');
    expect(c1.map((r) => r.name)).toEqual(['conv2d_relu_pool_c1', 'conv2d_pool_backward_weight_c1']);
    const optim = await rows('optimizer_update');
    expect(optim.map((r) => r.shape)).toEqual([
      expect.stringMatching(/^SGD momentum .*teacher-cnn n=\d+$/),
      expect.stringMatching(/^Adam, teacher-cnn n=\d+$/),
      expect.stringMatching(/^SGD momentum .*student-cnn n=\d+$/),
      expect.stringMatching(/^Adam, student-cnn n=\d+$/),
    ]);
    for (const r of [...c1, ...optim]) {
      expect(r.unit).toBe(r.name === 'optimizer_update' ? 'GB/s' : 'GFLOP/s');
      expect(Number.isFinite(r.rate) && r.rate > 0 && Number.isFinite(r.fractionOfCeiling)).toBe(true);
    }
  });

  it('modules that are not there, export nothing, or export a malformed check are named', async () => {
    expect((await cliFails(['verify', '--checks', join(dir, 'nope.mjs')])).out).toMatch(/--checks .*nope\.mjs: no such file/);
    const empty = join(dir, 'empty.mjs');
    writeFileSync(empty, 'export const x = 1;\n');
    expect((await cliFails(['verify', '--checks', empty])).out).toMatch(/empty\.mjs: exports no checks/);
    const noCases = join(dir, 'nocases.mjs');
    writeFileSync(noCases, "export const checks = [{ name: 'k', kernels: [{}] }];\n");
    expect((await cliFails(['verify', '--checks', noCases])).out).toMatch(/nocases\.mjs: check #1 \("k"\): needs cases/);
    expect((await cliFails(['bench', 'steps', '--checks', example])).out).toMatch(/--checks applies to "bench kernels"/);
  });

  it('defining the same kernel twice returns the first definition; another kernel under the name is refused', () => {
    const def = (body: string): KernelDef => ({ name: 'plugin_test_kernel', source: body, bindings: [{ name: 'y', type: 'f32', access: 'read_write' }], uniforms: [['n', 'u32']], workgroupSize: () => [64, 1, 1] });
    const a = defineKernel(def('@compute @workgroup_size(WG_X) fn main() {}'));
    expect(defineKernel(def('@compute @workgroup_size(WG_X) fn main() {}'))).toBe(a);
    expect(() => defineKernel(def('@compute @workgroup_size(WG_X) fn main() { }'))).toThrow(/"plugin_test_kernel" is defined twice, with different definitions/);
  });
});
