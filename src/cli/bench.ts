// `kdgpu bench kernels`: device ceilings and kernel throughput on this adapter.

import { writeFileSync } from 'node:fs';
import type { Engine } from '../gpu/engine.js';
import { runKernelBench } from '../bench/kernels.js';
import { formatTable } from './table.js';

export async function runBenchCommand(
  engine: Engine,
  suite: string,
  opts: { json?: string; quick?: boolean; filter?: string },
  out: (s: string) => void,
): Promise<void> {
  if (suite !== 'kernels') throw new Error(`unknown benchmark suite "${suite}" (known: kernels)`);
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
