// `kdgpu bench kernels`: device ceilings and kernel throughput on this adapter.
// `kdgpu bench steps`: one training step of teacher-cnn and student-cnn on kdgpu beside
// TensorFlow.js (webgpu on the same Dawn adapter, wasm on one thread). Its code lives in bench/
// (peers are dev dependencies), bundled as dist/bench-steps.js, and runs in child processes.

import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Engine } from '../gpu/engine.js';
import { runKernelBench } from '../bench/kernels.js';
import { formatTable } from './table.js';

export const BENCH_SUITES = ['kernels', 'steps'] as const;

export async function runBenchCommand(
  engine: Engine,
  suite: string,
  opts: { json?: string; quick?: boolean; filter?: string; adapter?: string },
  out: (s: string) => void,
): Promise<void> {
  if (suite === 'steps') return runStepsSuite(engine, opts);
  if (suite !== 'kernels') throw new Error(`unknown benchmark suite "${suite}" (known: ${BENCH_SUITES.join(', ')})`);
  out(`adapter: ${engine.adapterName}`);
  const result = await runKernelBench(engine, {
    quick: opts.quick,
    filter: opts.filter,
    onRow: (r) => out(`  ${r.name} ${r.shape}: ${r.ms.toFixed(3)} ms, ${r.rate.toFixed(2)} ${r.unit}`),
  });
  out(`\nceilings: FMA-bound ${result.fmaGflops.toFixed(2)} GFLOP/s, copy ${result.copyGBps.toFixed(2)} GB/s (read + write)`);
  out(
    formatTable(
      ['kernel', 'shape', 'ms', 'rate', 'of ceiling'],
      result.rows.map((r) => [r.name, r.shape, r.ms.toFixed(3), `${r.rate.toFixed(2)} ${r.unit}`, `${(100 * r.fractionOfCeiling).toFixed(1)}%`]),
    ),
  );
  if (opts.json) {
    writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2));
    out(`\nwrote ${opts.json}`);
  }
}

/**
 * Run bench/steps.ts (dist/bench-steps.js, beside this bundle) in its own process, which starts one
 * child per backend. The engine of this process only tells it which adapter Dawn picked, so the
 * tfjs-webgpu peer is put on the same one.
 */
async function runStepsSuite(engine: Engine, opts: { json?: string; quick?: boolean; filter?: string; adapter?: string }): Promise<void> {
  const script = fileURLToPath(new URL('./bench-steps.js', import.meta.url));
  if (!existsSync(script)) throw new Error(`${script} is missing: run \`npm run build\` (the steps suite needs the dev dependencies, @tensorflow/*)`);
  const args = [script, engine.software ? '--swiftshader' : '--no-swiftshader', '--adapter', opts.adapter ?? 'auto'];
  if (opts.quick) args.push('--quick');
  if (opts.filter) args.push('--filter', opts.filter);
  if (opts.json) args.push('--json', opts.json);
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (c, signal) => resolve(signal ? 128 : c));
  });
  if (code !== 0) throw new Error(`bench steps failed (exit ${code})`);
}
