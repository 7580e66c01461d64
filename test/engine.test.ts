// The engine's guarantees: flat pool memory, 2-D folding of huge dispatches, one compile per
// variant, batched submits, errors that name the kernel, a main thread that does not spin while
// SwiftShader works, and a process that exits by itself.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { throttleDawnPolls } from '../src/gpu/node.js';
import { testEngine } from './engine.js';
import { kdgpu, kdgpuFails } from './helpers.js';
import { elementwise } from '../src/kernels/elementwise.js';
import { matmul } from '../src/kernels/matmul.js';
import { softmax, softmaxCrossEntropy } from '../src/kernels/softmax.js';
import { defineKernel, definedKernels } from '../src/gpu/kernel.js';
import { sizeClass } from '../src/gpu/pool.js';
import { runVerifyCommand } from '../src/cli/verify.js';
import { elementwiseCheck } from '../src/kernels/elementwise.check.js';
import { Rng } from '../src/util/rng.js';
import { registry } from '../src/kernels/registry.js';

describe('waiting for the GPU in Node', () => {
  // First in the file: no engine exists yet, so no other holder keeps setImmediate wrapped.
  it('throttleDawnPolls wraps setImmediate while held, leaves JavaScript and bound callbacks in the immediate phase, and restores it after the last release', async () => {
    const original = globalThis.setImmediate;
    const release1 = throttleDawnPolls();
    const release2 = throttleDawnPolls();
    expect(globalThis.setImmediate).not.toBe(original);
    const seen: string[] = [];
    setTimeout(() => seen.push('timer'), 0);
    setImmediate(() => seen.push('js'));
    setImmediate(seen.push.bind(seen, 'bound'));
    await new Promise((r) => original(r));
    expect(seen.filter((s) => s !== 'timer')).toEqual(['js', 'bound']);
    expect(await promisify(setImmediate)('value')).toBe('value');
    release1();
    release1(); // a second call of the same release is a no-op
    expect(globalThis.setImmediate).not.toBe(original);
    release2();
    expect(globalThis.setImmediate).toBe(original);
  });

  it('on SwiftShader the main thread mostly sleeps while a GPU job runs (Dawn polls at most once a millisecond)', async (ctx) => {
    const engine = await testEngine();
    if (!engine.software || process.platform !== 'linux') ctx.skip();
    // utime + stime of this thread alone (the SwiftShader workers are other threads of the process).
    const mainThreadMs = () => {
      const f = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return (Number(f[11]) + Number(f[12])) * 10;
    };
    const n = 768;
    const a = engine.upload(new Float32Array(n * n).fill(1));
    const c = engine.alloc(n * n * 4);
    await engine.readF32(c, 1);
    // Count Dawn's polls (unnamed native functions given to the global setImmediate, throttled).
    const throttled = globalThis.setImmediate;
    let polls = 0;
    globalThis.setImmediate = Object.assign((fn: (...args: unknown[]) => void, ...args: unknown[]) => {
      if (typeof fn === 'function' && fn.name === '' && /\[native code\]/.test(Function.prototype.toString.call(fn))) polls++;
      return throttled(fn, ...args);
    }, throttled) as typeof setImmediate;
    // Waits until at least 300 ms have been waited in all (more jobs on a faster machine): the
    // verdicts below are rates, which hold at any speed.
    let waitMs = 0;
    let cpuMs = 0;
    try {
      while (waitMs < 300) {
        for (let i = 0; i < 4; i++) matmul(engine, a, a, c, n, n, n);
        const t0 = performance.now();
        const cpu0 = mainThreadMs();
        const out = await engine.readF32(c, 1);
        waitMs += performance.now() - t0;
        cpuMs += mainThreadMs() - cpu0;
        expect(out[0]).toBe(n);
      }
    } finally {
      globalThis.setImmediate = throttled;
    }
    // With Dawn's own poll (setImmediate) this thread spins: 70% of the wait with the two workers
    // on 2 cores, 100% with spare cores, tens of polls a millisecond; throttled it measured under
    // 10%, at most one poll a millisecond.
    expect(polls).toBeGreaterThan(0);
    expect(polls).toBeLessThanOrEqual(waitMs + 10);
    expect(cpuMs / waitMs).toBeLessThan(0.3);
    engine.release(a);
    engine.release(c);
  });
});

describe('buffer pool', () => {
  it('size classes round up and never shrink a request', () => {
    for (const n of [1, 15, 16, 17, 1000, 65536, 65537, 100_000, 3_000_001]) {
      expect(sizeClass(n)).toBeGreaterThanOrEqual(n);
      expect(sizeClass(n) % 16).toBe(0);
      expect(sizeClass(n)).toBeLessThanOrEqual(Math.max(32, n * 1.5));
    }
  });

  it('bytes in use return to the same value after 1,000 alloc/use/free iterations', async () => {
    const engine = await testEngine();
    await engine.settle();
    const before = engine.pool.stats();
    const rng = new Rng(5);
    let allocatedAfterWarmup = 0;
    for (let i = 0; i < 1000; i++) {
      const n = 100 + (i % 7) * 33;
      const a = engine.upload(rng.fillUniform(n));
      const b = engine.alloc(n * 4);
      const c = engine.alloc(n * 4);
      elementwise(engine, 'relu', a, a, b, n);
      elementwise(engine, 'add', a, b, c, n);
      [a, b, c].forEach((x) => engine.release(x));
      if (i % 100 === 99) engine.flush();
      if (i === 99) allocatedAfterWarmup = engine.pool.stats().bytesAllocated;
    }
    await engine.settle();
    const after = engine.pool.stats();
    expect(after.bytesInUse).toBe(before.bytesInUse);
    expect(after.buffersInUse).toBe(before.buffersInUse);
    // Reuse, not growth: nothing new was allocated after the first 100 iterations.
    expect(after.bytesAllocated).toBe(allocatedAfterWarmup);
  });

  it('refuses a double release', async () => {
    const engine = await testEngine();
    const b = engine.alloc(64);
    engine.release(b);
    expect(() => engine.release(b)).toThrow(/released twice/);
    engine.flush();
  });
});

describe('dispatch', () => {
  it('folds a dispatch above 65,535 workgroups into 2-D and writes every element', async () => {
    const engine = await testEngine();
    const max = engine.limits.maxComputeWorkgroupsPerDimension;
    const n = (max + 1000) * 256 + 3; // elementwise: 256 elements per workgroup
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (i % 1021) - 510;
    const ab = engine.upload(a);
    const out = engine.upload(new Float32Array(n).fill(NaN));
    elementwise(engine, 'relu', ab, ab, out, n);
    const got = await engine.readF32(out, n);
    let bad = -1;
    for (let i = 0; i < n; i++) {
      if (got[i] !== Math.max(a[i], 0)) {
        bad = i;
        break;
      }
    }
    expect(bad).toBe(-1);
    engine.release(ab);
    engine.release(out);
  });

  it('compiles one pipeline per variant (a tiling), never per shape, and batches dispatches into one submit', async () => {
    const engine = await testEngine();
    const rng = new Rng(9);
    const bufs = [engine.upload(rng.fillUniform(200 * 200)), engine.upload(rng.fillUniform(200 * 200)), engine.alloc(200 * 200 * 4)];
    matmul(engine, bufs[0], bufs[1], bufs[2], 8, 8, 8);
    await engine.settle();
    const compiled = engine.compiledPipelines;
    const submits = engine.submits;
    // The row count picks the block height (4, 8, 16 or 32 rows): at most 4 pipelines here...
    for (let batch = 1; batch <= 64; batch += 7) matmul(engine, bufs[0], bufs[1], bufs[2], batch, 10, 150);
    const afterFirst = engine.compiledPipelines;
    expect(afterFirst - compiled).toBeGreaterThan(0);
    expect(afterFirst - compiled).toBeLessThanOrEqual(4);
    // ...and other shapes with the same tilings (other K, other N in the same column block) add none.
    for (let batch = 1; batch <= 64; batch += 7) matmul(engine, bufs[0], bufs[1], bufs[2], batch, 11 + (batch % 6), 100 + 3 * batch);
    engine.flush();
    expect(engine.compiledPipelines).toBe(afterFirst);
    expect(engine.submits).toBe(submits + 1);
    bufs.forEach((b) => engine.release(b));
    await engine.settle();
  });
});

describe('softmax numerics', () => {
  it('a row of 100,000 elements and rows of ±1e4 logits give finite probabilities summing to 1', async () => {
    const engine = await testEngine();
    const rng = new Rng(11);
    for (const [rows, cols, scale] of [[1, 100_000, 10], [8, 10, 1e4], [3, 1000, 1e4], [100, 5, 1e4]] as const) {
      const x = rng.fillUniform(rows * cols, -scale, scale);
      x[0] = scale; // an extreme value in the first row
      const xb = engine.upload(x);
      const p = engine.alloc(x.byteLength);
      const lp = engine.alloc(x.byteLength);
      softmax(engine, xb, p, rows, cols);
      softmax(engine, xb, lp, rows, cols, { log: true, temperature: 3 });
      const probs = await engine.readF32(p, rows * cols);
      const logs = await engine.readF32(lp, rows * cols);
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let c = 0; c < cols; c++) s += probs[r * cols + c];
        expect(Math.abs(s - 1)).toBeLessThan(1e-4);
      }
      expect(probs.every(Number.isFinite)).toBe(true);
      expect(logs.every(Number.isFinite)).toBe(true);
      [xb, p, lp].forEach((b) => engine.release(b));
    }
  });

  it('cross-entropy of ±1e4 logits is finite and its gradient rows sum to 0', async () => {
    const engine = await testEngine();
    const rng = new Rng(12);
    const rows = 40;
    const cols = 10;
    const logits = engine.upload(rng.fillUniform(rows * cols, -1e4, 1e4));
    const labels = engine.upload(new Uint32Array(rows).map(() => rng.int(cols)));
    const loss = engine.alloc(rows * 4);
    const grad = engine.alloc(rows * cols * 4);
    const correct = engine.alloc(rows * 4);
    softmaxCrossEntropy(engine, { logits, labels, loss, grad, correct }, rows, cols);
    const l = await engine.readF32(loss, rows);
    const g = await engine.readF32(grad, rows * cols);
    expect(l.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += g[r * cols + c];
      expect(Math.abs(s)).toBeLessThan(1e-6);
    }
    [logits, labels, loss, grad, correct].forEach((b) => engine.release(b));
  });
});

describe('errors name the kernel', () => {
  it('a WGSL compile error names the kernel and the line of its body', async () => {
    const engine = await testEngine();
    const broken = defineKernel({
      name: 'broken_for_test',
      source: '@compute @workgroup_size(1)\nfn main() {\n  let x: f32 = undefined_symbol;\n}\n',
      bindings: [{ name: 'o', type: 'f32', access: 'read_write' }],
      uniforms: [],
      workgroupSize: () => [1, 1, 1],
    });
    definedKernels.delete('broken_for_test');
    await expect(engine.prepare([[broken, {}]])).rejects.toThrow(/broken_for_test[\s\S]*line 3/);
  });

  it('a missing binding and a non-finite uniform are refused with the kernel and field named', async () => {
    const engine = await testEngine();
    const a = engine.alloc(16);
    const out = engine.alloc(16);
    expect(() => elementwise(engine, 'scale', a, a, out, 4, NaN)).toThrow(/elementwise.*uniform "alpha"/);
    engine.release(out);
    expect(() => engine.dispatch(elementwiseCheck.kernels[0], { bind: { a, b: a }, uniforms: { n: 1, alpha: 1 }, workgroups: 1 })).toThrow(
      /elementwise.*binding "out"/,
    );
    engine.release(a);
    engine.flush();
  });

  it('an output aliasing an input is refused at dispatch, naming kernel and bindings', async () => {
    const engine = await testEngine();
    const a = engine.alloc(64);
    expect(() => elementwise(engine, 'add', a, a, a, 16)).toThrow(/elementwise.*"out" overlaps binding "a"/);
    engine.release(a);
    engine.flush();
  });

  it('a validation error found at submit names the kernels of that submit', async () => {
    const engine = await testEngine();
    const a = engine.alloc(64);
    const tooSmall = engine.device.createBuffer({ size: 4, usage: 0x80 /* STORAGE */, label: 'four-bytes' });
    // A uniform-less binding smaller than the shader's minimum is fine; an offset past the end is not.
    elementwise(engine, 'relu', a, a, { buffer: tooSmall, offset: 256, size: 4 } as never, 1);
    await expect(engine.settle()).rejects.toThrow(/elementwise/);
    engine.release(a);
    tooSmall.destroy();
  });
});

describe('kdgpu verify', () => {
  it('reports a failing kernel and returns false', async () => {
    const engine = await testEngine();
    const lines: string[] = [];
    // A check whose reference is off by one for every element: the verifier must fail it.
    const wrong = {
      ...elementwiseCheck,
      cases: (rng: Rng) =>
        elementwiseCheck
          .cases(rng)
          .slice(0, 2)
          .map((c) => ({ ...c, reference: () => ({ out: c.reference().out.map((v) => v + 1) }) })),
    };
    const ok = await runVerifyCommand(engine, { checks: [wrong], builtins: false, seed: 1 }, (s) => lines.push(s));
    expect(ok).toBe(false);
    expect(lines.join('\n')).toMatch(/FAIL \(element 0/);
    expect(lines.join('\n')).toMatch(/0 passed, 2 failed/);
  });

  it('the CLI passes on this adapter, prints JSON with --json, and the process exits by itself', async () => {
    // The CLI's own path (options, JSON, exit) on the kernels --filter names; every kernel at two
    // other seeds: verify.test.ts (the library) and browser.e2e.test.ts (the page's bundle).
    const out = (await kdgpu(['verify', '--json', '--seed', '7', '--filter', 'softmax'], 240_000)).stdout;
    const result = JSON.parse(out);
    expect(result.pass).toBe(true);
    expect(result.unverified).toEqual([]);
    expect(result.rows.length).toBeGreaterThan(3);
    expect(new Set(result.rows.map((r: { kernel: string }) => r.kernel))).toEqual(new Set(registry.map((c) => c.name).filter((n) => n.includes('softmax'))));
  });
});

describe('kdgpu bench profile', () => {
  it('times every dispatch of one student step: ordinals 0..n-1, the whole step (forward, backward, update), shares that sum to the GPU total', async (ctx) => {
    const engine = await testEngine();
    if (!engine.canProfile) ctx.skip();
    const dir = mkdtempSync(join(tmpdir(), 'kdgpu-profile-'));
    const json = join(dir, 'profile.json');
    try {
      const out = (await kdgpu(['bench', 'profile', '--model', 'student-cnn', '--steps', '1', '--batch', '32', '--json', json], 240_000)).stdout;
      const r = JSON.parse(readFileSync(json, 'utf8')) as { gpuMs: number; wallMs: number[]; dispatches: Array<{ ordinal: number; kernel: string; ms: number }> };
      expect(r.dispatches.map((d) => d.ordinal)).toEqual(r.dispatches.map((_, i) => i));
      const kernels = r.dispatches.map((d) => d.kernel);
      // The batch gathered (and normalised) on the device first, then the forward, the fused
      // optimizer update last, the convolutions' backward in between.
      expect(kernels[0]).toBe('gather_batch');
      expect(kernels[1]).toMatch(/^conv2d_/);
      expect(kernels.at(-1)).toBe('optimizer_update');
      expect(kernels).toContain('conv2d_backward_data');
      expect(kernels).toContain('softmax_xent');
      for (const d of r.dispatches) expect(d.ms).toBeGreaterThanOrEqual(0);
      expect(r.gpuMs).toBeCloseTo(r.dispatches.reduce((s, d) => s + d.ms, 0), 6);
      expect(r.gpuMs).toBeGreaterThan(0);
      expect(r.wallMs).toHaveLength(1);
      expect(out).toContain(`${r.dispatches.length} dispatches a step`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown model, naming the known ones', async () => {
    expect((await kdgpuFails(['bench', 'profile', '--model', 'nope'])).out).toMatch(/unknown model "nope" \(known: teacher-cnn, student-cnn/);
  });
});
