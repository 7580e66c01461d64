// The `kdgpu` command.

import { Command, InvalidArgumentError, Option } from 'commander';
import { createNodeEngine } from '../gpu/node.js';
import type { AdapterChoice } from '../gpu/acquire.js';
import { runVerifyCommand } from './verify.js';
import { runBenchCommand } from './bench.js';

function int(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer, got "${v}"`);
    return n;
  };
}

const adapterOption = () =>
  new Option('--adapter <kind>', 'which WebGPU adapter: auto (a GPU, else SwiftShader), gpu, swiftshader')
    .choices(['auto', 'gpu', 'swiftshader'])
    .default('auto');

export async function main(argv: string[]): Promise<void> {
  const program = new Command('kdgpu')
    .description('Train and distill small CNNs on WebGPU; every kernel verified against a float64 reference.')
    .showHelpAfterError();

  program
    .command('verify')
    .description('run every kernel on random inputs and shapes against its float64 CPU reference')
    .addOption(adapterOption())
    .option('--json', 'print the results as JSON')
    .option('--seed <n>', 'seed for the random inputs', int('--seed'))
    .option('--filter <name>', 'only kernels whose name contains this')
    .action(async (opts: { adapter: AdapterChoice; json?: boolean; seed?: number; filter?: string }) => {
      const engine = await createNodeEngine({ adapter: opts.adapter });
      try {
        const ok = await runVerifyCommand(engine, opts, (s) => process.stdout.write(s + '\n'));
        process.exitCode = ok ? 0 : 1;
      } finally {
        engine.destroy();
      }
    });

  program
    .command('bench')
    .description('kernel benchmarks (see bench/): kdgpu bench kernels')
    .argument('[suite]', 'which suite', 'kernels')
    .addOption(adapterOption())
    .option('--json <file>', 'also write the results as JSON to this file')
    .option('--quick', 'fewer repetitions and smaller sizes')
    .option('--filter <name>', 'only kernels whose name contains this')
    .action(async (suite: string, opts: { adapter: AdapterChoice; json?: string; quick?: boolean; filter?: string }) => {
      const engine = await createNodeEngine({ adapter: opts.adapter });
      try {
        await runBenchCommand(engine, suite, opts, (s) => process.stdout.write(s + '\n'));
      } finally {
        engine.destroy();
      }
    });

  await program.parseAsync(argv);
}
