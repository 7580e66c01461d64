// The same verification `kdgpu verify` runs: every registered kernel against its float64 reference.
import { describe, expect, it } from 'vitest';
import { testEngine } from './engine.js';
import { verifyKernels, unverifiedKernels } from '../src/kernels/verify.js';
import { registry } from '../src/kernels/registry.js';
import { definedKernels } from '../src/gpu/kernel.js';
import '../src/bench/kernels.js'; // defines no kernel of its own, but must not escape verification if it did

describe('kernel registry', () => {
  for (const seed of [1, 20261127]) {
    it(`every kernel matches its reference (seed ${seed})`, async () => {
      const engine = await testEngine();
      const rows = await verifyKernels(engine, { seed });
      const failed = rows.filter((r) => !r.pass).map((r) => `${r.kernel} ${r.shape} ${r.output}: ${r.detail}`);
      expect(failed).toEqual([]);
      expect(rows.length).toBeGreaterThan(50);
      expect(unverifiedKernels(engine)).toEqual([]);
    });
  }

  it('every defined kernel is covered by a registered check', () => {
    const covered = new Set(registry.flatMap((c) => c.kernels.map((k) => k.name)));
    expect([...definedKernels.keys()].filter((k) => !covered.has(k))).toEqual([]);
  });
});

describe('the verifier catches broken kernels', () => {
  it('fails a kernel that leaves elements unwritten (NaN poison)', async () => {
    const engine = await testEngine();
    const { elementwiseCheck } = await import('../src/kernels/elementwise.check.js');
    const { Rng } = await import('../src/util/rng.js');
    // Run the add case with a length one short: the last element keeps its NaN poison.
    const c = elementwiseCheck.cases(new Rng(3)).find((x) => x.shape.startsWith('add n=255'))!;
    const a = engine.upload(c.inputs.a);
    const b = engine.upload(c.inputs.b);
    const out = engine.upload(new Float32Array(255).fill(NaN));
    const { elementwise } = await import('../src/kernels/elementwise.js');
    elementwise(engine, 'add', a, b, out, 254);
    const got = await engine.readF32(out, 255);
    expect(Number.isNaN(got[254])).toBe(true);
    const ref = c.reference().out;
    expect(Math.abs(got[253] - ref[253])).toBeLessThan(1e-6);
    [a, b, out].forEach((x) => engine.release(x));
  });

  it('with an error scale, bounds the error by rel·scale rather than rel·|ref| (Winograd\'s tolerance)', async () => {
    const engine = await testEngine();
    const { elementwise } = await import('../src/kernels/elementwise.js');
    const { elementwiseKernel } = await import('../src/kernels/elementwise.js');
    // y = α·x against the reference x, with scale 10·|x| and rel 10⁻⁶: α − 1 = 5·10⁻⁶ is inside the
    // bound (5·10⁻⁶·|x| ≤ 10⁻⁵·|x|), 2·10⁻⁵ is outside it, though both are far beyond 10⁻⁶·|ref|.
    const x = Float32Array.from({ length: 37 }, (_, i) => (i % 2 ? 1 : -1) * (1 + i));
    const check = (alpha: number) => ({
      name: `scaled ${alpha}`,
      kernels: [elementwiseKernel],
      cases: () => [
        {
          shape: 'n=37',
          inputs: { x },
          outputs: { y: 37 },
          run: (e: typeof engine, b: Record<string, GPUBuffer>) => elementwise(e, 'scale', b.x, b.x, b.y, 37, alpha),
          reference: () => ({ y: Float64Array.from(x) }),
          errorScale: () => ({ y: Float64Array.from(x, (v) => 10 * Math.abs(v)) }),
          tolerance: { abs: 0, rel: 1e-6 },
        },
      ],
    });
    const rows = await verifyKernels(engine, { seed: 1, builtins: false, checks: [check(1 + 5e-6), check(1 + 2e-5)] });
    expect(rows.map((r) => r.pass)).toEqual([true, false]);
    expect(rows[0].tolerance).toContain('scale');
  });

  it('runs the Winograd checks within their stated bound', async () => {
    const engine = await testEngine();
    const rows = await verifyKernels(engine, { seed: 5, filter: 'winograd' });
    expect(rows.filter((r) => !r.pass).map((r) => `${r.shape} ${r.output}: ${r.detail}`)).toEqual([]);
    expect(rows.length).toBeGreaterThan(30);
  });
});
