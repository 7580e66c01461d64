// The `kdgpu` command.

import { createRequire } from 'node:module';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createNodeEngine } from '../gpu/node.js';
import type { AdapterChoice } from '../gpu/acquire.js';
import { runVerifyCommand } from './verify.js';
import { loadChecks } from './checks.js';
import { runBenchCommand } from './bench.js';
import { checkTrainOptions, runEval, runTrain, type TrainOptions } from './train.js';
import { MODEL_NAMES } from '../nn/models.js';
import { DATASET_KINDS } from '../data/spec.js';
import { checkDistillOptions, isOnnxPath, runDistill, type DistillCliOptions } from './distill.js';
import { loadOnnxRuntimeNode } from '../interop/onnx-node.js';
import { METHODS, optionFields } from '../options.js';
import { addFieldOptions, fieldOption, withFlags } from './run-options.js';
import { DS_SCORE_NAMES } from '../kd/selection.js';
import { checkAblateOptions, runAblate, type AblateOptions } from './ablate.js';
import { ABLATION_METHODS } from '../kd/ablation.js';
import { checkRunFiles, claimRunFiles, runFiles } from './preflight.js';
import type { DataOptions } from './data-options.js';
import { checkExportOptions, runExport, type ExportCliOptions } from './export.js';
import { checkLogitsOptions, runLogits, type LogitsCliOptions } from './logits.js';
import { TEACHER_BACKENDS } from './teacher-logits.js';
import { printable } from '../util/printable.js';

/** Which data: a built-in dataset, or your own (IDX, CSV, a folder of images); shared by train, distill, ablate and eval. */
export function addDataOptions(cmd: Command, defaultHelp: string): Command {
  return cmd
    .addOption(new Option('--dataset <kind>', `dataset kind (${defaultHelp})`).choices([...DATASET_KINDS]))
    .option('--data-dir <dir>', "the dataset's folder: fashion-mnist (default: Debian's /usr/share/datasets/fashion-mnist), cifar10/100 binaries, idx (the four conventional file names), csv (train.csv, test.csv), folder (train/<class>/*.png|jpg, test/<class>/…)")
    .option('--train-images <file>', 'idx: the training images (IDX [N,H,W] or [N,H,W,C], gzip or not)')
    .option('--train-labels <file>', 'idx: the training labels')
    .option('--test-images <file>', 'idx: the test images')
    .option('--test-labels <file>', 'idx: the test labels')
    .option('--train-csv <file>', 'csv: the training rows (label, then pixels; header optional)')
    .option('--test-csv <file>', 'csv: the test rows')
    .option('--image-shape <h,w[,c]>', 'the images\' shape (csv: default a square of one channel; others: checked)')
    .option('--num-classes <n>', 'the number of classes (default: from the data)', int('--num-classes', 1))
    .addOption(new Option('--label-column <where>', 'csv: the column that holds the label (default: first)').choices(['first', 'last']));
}

/** `kdgpu train`'s learning rate: distillation's declared default is lower (see src/options.ts). */
const TRAIN_LR = 0.05;

/** Options shared by train and distill (`lr`: the learning rate's default, which differs). */
export function addTrainingOptions(cmd: Command, lr?: number, dataDefault = 'default: fashion-mnist'): Command {
  return addFieldOptions(addDataOptions(cmd, dataDefault), optionFields('training'), { lr })
    .option('--metrics <file>', 'write metrics as JSON lines to this file')
    .option('--no-progress', 'no progress bar')
    .option('--resume', 'continue from the checkpoint at --out (weights, optimizer state, data order, selection) if it exists')
    .option('--no-divergence-check', 'do not stop when the running loss diverges without becoming Inf/NaN (above 1e4 × the smaller of its first reading and ln(classes), and above 1e4)')
    .addOption(adapterOption());
}

function int(name: string, min = -Infinity) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer${min > -Infinity ? ` >= ${min}` : ''}, got "${v}"`);
    return n;
  };
}

/** `--teacher A --teacher B …` (commander collects them): the first, and the others of an ensemble. */
function splitTeachers<T extends { teacher?: string[] }>(o: T): Omit<T, 'teacher'> & { teacher?: string; moreTeachers?: string[] } {
  const [teacher, ...more] = o.teacher ?? [];
  return { ...o, teacher, moreTeachers: more.length ? more : undefined };
}

const adapterOption = () =>
  new Option('--adapter <kind>', 'which WebGPU adapter: auto (a GPU, else SwiftShader), gpu, swiftshader')
    .choices(['auto', 'gpu', 'swiftshader'])
    .default('auto');

const teacherBackendOption = () =>
  new Option('--teacher-backend <kind>', "where a checkpoint teacher's forward runs: auto (onnxruntime-node on a CPU adapter when it is installed, else kdgpu), kdgpu, onnxruntime")
    .choices([...TEACHER_BACKENDS])
    .default('auto');

/** Where a checkpoint teacher's logits come from: distill's and ablate's. */
function addTeacherLogitsOptions(cmd: Command): Command {
  return cmd
    .addOption(teacherBackendOption())
    .option('--cache-dir <dir>', "where a checkpoint teacher's logits are kept between runs (default: $XDG_CACHE_HOME/kdgpu, else ~/.cache/kdgpu)")
    .option('--no-cache', "neither read nor write a checkpoint teacher's logits in the cache: compute them");
}

/** The method options of method.md, shared by distill and ablate (the method itself and the student are each command's own). */
export function addDistillOptions(cmd: Command): Command {
  return addFieldOptions(cmd, optionFields('method').filter((f) => f !== 'method' && f !== 'student'));
}

/** The package's version, from the package.json beside the bundle (dist/..) or the source (src/cli/../..). */
function packageVersion(): string {
  const require = createRequire(import.meta.url);
  for (const p of ['../package.json', '../../package.json']) {
    try {
      const pkg = require(p) as { name?: string; version?: string };
      if (pkg.name === 'kdgpu' && pkg.version) return pkg.version;
    } catch {
      // try the next location
    }
  }
  return 'unknown';
}

/** An error as the command prints it: its message, with a file name's terminal escape sequences made visible (see printable). */
export function errorText(err: unknown): string {
  return `kdgpu: ${printable(err instanceof Error ? err.message : String(err))}`;
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('kdgpu')
    .configureOutput({ writeErr: (s) => process.stderr.write(printable(s)) })
    .description('Train and distill small CNNs on WebGPU; every kernel verified against a float64 reference.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(add --help for the options)');

  program
    .command('verify')
    .description('run every kernel on random inputs and shapes against its float64 CPU reference')
    .addOption(adapterOption())
    .option('--json [file]', 'the results as JSON: to this file, or without one to stdout instead of the table')
    .option('--overwrite', 'replace an existing --json file')
    .option('--seed <n>', 'seed for the random inputs', int('--seed'))
    .option('--filter <name>', 'only kernels whose name contains this')
    .option('--checks <files...>', 'also verify your own kernels: ES modules exporting `checks` (see examples/my-kernels.mjs)')
    .option('--no-builtins', "only the kernels of --checks, not kdgpu's own")
    .action(async (opts: { adapter: AdapterChoice; json?: boolean | string; overwrite?: boolean; seed?: number; filter?: string; checks?: string[]; builtins: boolean }) => {
      const release = claimRunFiles(runFiles('verify', opts), opts);
      const checks = await loadChecks(opts.checks);
      if (!opts.builtins && checks.length === 0) throw new Error('--no-builtins needs --checks: there would be nothing to verify');
      const engine = await createNodeEngine({ adapter: opts.adapter });
      try {
        const ok = await runVerifyCommand(engine, { ...opts, checks }, (s) => process.stdout.write(s + '\n'));
        process.exitCode = ok ? 0 : 1;
      } finally {
        engine.destroy();
        release();
      }
    });

  addFieldOptions(
    addTrainingOptions(
      program
        .command('train')
        .description('train a model with cross-entropy on the GPU')
        .addOption(new Option('--model <name>', 'model').choices([...MODEL_NAMES]).makeOptionMandatory())
        .option('--out <file>', 'save the model here (safetensors) after every epoch (--save best: after every epoch that is the best on validation so far)')
        .option('--overwrite', 'let this new run replace an existing --out and --metrics (without it, or --resume, an existing file is refused)'),
      TRAIN_LR,
    ),
    optionFields('train'),
  ).action(async (opts: TrainOptions & { adapter: AdapterChoice }) => {
    checkTrainOptions(opts); // before the engine starts: nothing is written until these pass
    const engine = await createNodeEngine({ adapter: opts.adapter });
    try {
      await runTrain(engine, opts, (s) => process.stdout.write(s + '\n'));
    } finally {
      engine.destroy();
    }
  });

  addTeacherLogitsOptions(addDistillOptions(
    addTrainingOptions(
      program
        .command('distill')
        .description('distil a teacher (a kdgpu checkpoint, an ONNX model or its logits) into a student: KD, DKD, with Label Revision and Data Selection')
        .option('--teacher <files...>', 'the teacher: a checkpoint (from kdgpu train), or an ONNX model (.onnx, run once by onnxruntime-node); given more than once, an ensemble (checkpoints, ONNX models or logits files, see --ensemble-mean)')
        .option('--teacher-logits <file>', "instead of --teacher, the teacher's logits on the training set, a row per sample in the training set's order: safetensors (tensor \"logits\" [N, C], optionally \"test_logits\") or .npy, float32 or float16")
        .option('--teacher-test-logits <file>', "with --teacher-logits: the teacher's logits on the test set (its test accuracy is reported)")
        .addOption(fieldOption('onnxLayout'))
        .addOption(fieldOption('onnxInputRange'))
        .addOption(fieldOption('onnxMean'))
        .addOption(fieldOption('onnxStd'))
        .addOption(fieldOption('onnxBatch'))
        .option('--no-teacher-check', "distil even from a teacher whose training predictions are at chance level (logits in another order, an ONNX input fed wrongly): refused by default")
        .addOption(fieldOption('student'))
        .addOption(fieldOption('method'))
        .option('--out <file>', 'save the student here after every epoch')
        .option('--overwrite', 'let this new run replace an existing --out and --metrics (without it, or --resume, an existing file is refused)'),
      undefined,
      "default: the teacher checkpoint's; fashion-mnist for an ONNX teacher or logits",
    ),
  )).action(async (cliOpts: Omit<DistillCliOptions, 'teacher'> & { teacher?: string[]; adapter: AdapterChoice }) => {
    const opts = splitTeachers(cliOpts);
    checkDistillOptions(opts); // before the engine starts: nothing is written until these pass
    if (isOnnxPath(opts.teacher)) await loadOnnxRuntimeNode(); // an ONNX teacher without onnxruntime-node: say so now
    const engine = await createNodeEngine({ adapter: opts.adapter });
    try {
      await runDistill(engine, opts, (s) => process.stdout.write(s + '\n'));
    } finally {
      engine.destroy();
    }
  });

  addTeacherLogitsOptions(addDistillOptions(
    addTrainingOptions(
      program
        .command('ablate')
        .description('run the methods of method.md §5 over several seeds: Markdown table, JSON and SVG chart')
        .requiredOption('--teacher <files...>', 'teacher checkpoint (from kdgpu train); given more than once, an ensemble')
        .addOption(fieldOption('student'))
        .option('--seeds <k>', 'seeds 1..k', int('--seeds', 1), 3)
        .option('--methods <list>', `comma-separated methods (default: ${ABLATION_METHODS.join(',')}; known: ${METHODS.join(', ')})`)
        .option('--grid', 'instead of the methods, the variant grid on kd+lr+ds (rest weight × balance × rule × β at T or 1, and re-scoring every epoch) beside kd and kd+ds-random')
        .option('--ds-scores <list>', `comma-separated scorers: each selecting method runs once per scorer, beside its matched random control (known: ${DS_SCORE_NAMES.join(', ')})`)
        .option('--out-dir <dir>', 'where ablation.md, ablation.json and ablation.svg go', 'ablation')
        .option('--overwrite', "replace the files of an earlier ablation in --out-dir (--resume continues it instead)"),
      undefined,
      "default: the teacher's",
    ),
  )).action(async (cliOpts: Omit<AblateOptions, 'teacher'> & { teacher: string[]; adapter: AdapterChoice }, cmd: Command) => {
    const opts = splitTeachers(cliOpts) as AblateOptions & { adapter: AdapterChoice };
    if (opts.grid && opts.methods) throw new Error('--grid and --methods cannot be used together');
    // Options ablate has (they come with the training options) but cannot honour: refused, not ignored.
    for (const [key, flag, why] of [
      ['seed', '--seed', 'ablate runs seeds 1..--seeds'],
      ['metrics', '--metrics', 'ablate writes its results to --out-dir'],
      ['stopAfter', '--stop-after', 'ablate runs every arm to --epochs'],
    ] as const) {
      if (cmd.getOptionValueSource(key) === 'cli') throw new Error(`${flag} does not apply to ablate: ${why}`);
    }
    for (const m of opts.methods?.split(',') ?? []) {
      if (!(METHODS as readonly string[]).includes(m.trim())) throw new Error(`--methods: unknown method "${m}" (known: ${METHODS.join(', ')})`);
    }
    checkAblateOptions(opts);
    const engine = await createNodeEngine({ adapter: opts.adapter });
    try {
      await runAblate(engine, opts, (s) => process.stdout.write(s + '\n'));
    } finally {
      engine.destroy();
    }
  });

  addDataOptions(
    program
      .command('logits')
      .description("write a checkpoint teacher's logits on its training and test sets as the file distill --teacher-logits reads (safetensors: \"logits\", \"test_logits\")")
      .requiredOption('--teacher <file>', 'a checkpoint (from kdgpu train)')
      .requiredOption('--out <file>', 'the logits file to write (logits.safetensors)')
      .option('--overwrite', 'replace an existing --out')
      .addOption(teacherBackendOption()),
    "default: the teacher checkpoint's",
  )
    .addOption(adapterOption())
    .action(async (opts: LogitsCliOptions & { adapter: AdapterChoice }) => {
      checkLogitsOptions(opts); // before the engine starts
      const engine = await createNodeEngine({ adapter: opts.adapter });
      try {
        await runLogits(engine, opts, (s) => process.stdout.write(s + '\n'));
      } finally {
        engine.destroy();
      }
    });

  program
    .command('export')
    .description('write a checkpoint as a standard ONNX model (opset 13), for onnxruntime and other runtimes; see docs/interop.md')
    .requiredOption('--checkpoint <file>', 'a checkpoint written by kdgpu train or distill')
    .requiredOption('--out <file>', 'the ONNX file to write (student.onnx)')
    .option('--overwrite', 'replace an existing --out')
    .option('--no-normalisation', 'leave the normalisation out of the graph: its input is then the normalised image, as kdgpu\'s forward takes it (the mean and std stay in the metadata)')
    .option('--json [file]', 'a summary as JSON: to this file, or without one to stdout instead of the line')
    .action(async (opts: ExportCliOptions) => {
      checkExportOptions(opts); // before anything is read or written
      await runExport(opts, (s) => process.stdout.write(s + '\n'), packageVersion());
    });

  addDataOptions(
    program
      .command('eval')
      .description('test accuracy of a saved model, on the data it records (or the data you name)')
      .requiredOption('--checkpoint <file>', 'a checkpoint written by kdgpu train or distill')
      .addOption(new Option('--model <name>', 'refuse the checkpoint unless it holds this model').choices([...MODEL_NAMES])),
    "default: the checkpoint's",
  )
    .addOption(adapterOption())
    .action(async (opts: { checkpoint: string; model?: string; adapter: AdapterChoice } & DataOptions) => {
      checkRunFiles(runFiles('eval', opts), opts); // a directory or /dev/zero, refused by name before the engine starts
      const engine = await createNodeEngine({ adapter: opts.adapter });
      try {
        await runEval(engine, opts.checkpoint, opts, (s) => process.stdout.write(s + '\n'));
      } finally {
        engine.destroy();
      }
    });

  program
    .command('bench')
    .description('benchmarks (see bench/): kernels (throughput vs this device\'s ceilings), steps (training steps beside TensorFlow.js), profile (one step\'s GPU time per dispatch)')
    .argument('[suite]', 'kernels, steps or profile', 'kernels')
    .addOption(adapterOption())
    .option('--json [file]', 'the results as JSON: to this file, or without one to stdout instead of the tables')
    .option('--overwrite', 'replace an existing --json file')
    .option('--quick', 'fewer repetitions and smaller sizes')
    .option('--filter <name>', 'only kernels whose name contains this')
    .option('--model <name>', 'profile: the model', 'student-cnn')
    .option('--batch <n>', 'profile: batch size', int('--batch', 1), 128)
    .option('--steps <n>', 'profile: profiled steps', int('--steps', 1))
    .option('--data-dir <dir>', 'profile: the Fashion-MNIST directory')
    .option('--checks <files...>', 'kernels: also time your own kernels\' verification cases (ES modules exporting `checks`)')
    .action(async (suite: string, opts: { adapter: AdapterChoice; json?: string | boolean; overwrite?: boolean; quick?: boolean; filter?: string; model?: string; batch?: number; steps?: number; dataDir?: string; checks?: string[] }, cmd: Command) => {
      if (opts.checks && suite !== 'kernels') throw new Error(`--checks applies to "bench kernels", not "bench ${suite}"`);
      for (const [key, flag] of [['model', '--model'], ['batch', '--batch'], ['steps', '--steps'], ['dataDir', '--data-dir']] as const) {
        if (suite !== 'profile' && cmd.getOptionValueSource(key) === 'cli') throw new Error(`${flag} applies to "bench profile", not "bench ${suite}"`);
      }
      const release = claimRunFiles(runFiles('bench', { json: opts.json, checks: opts.checks, dataDir: opts.dataDir }), opts);
      const checks = await loadChecks(opts.checks);
      const engine = await createNodeEngine({ adapter: opts.adapter });
      try {
        await runBenchCommand(engine, suite, { ...opts, checks }, (s) => process.stdout.write(s + '\n'));
      } finally {
        engine.destroy();
        release();
      }
    });

  try {
    await program.parseAsync(argv);
  } catch (e) {
    throw withFlags(e);
  }
}
