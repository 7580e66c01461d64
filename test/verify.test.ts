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
});
