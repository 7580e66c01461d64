// `kdgpu ablate`: the methods of method.md §5 (or the variant grid on KD+LR+DS) over several seeds;
// Markdown, JSON and an SVG chart, rewritten after every run so partial results survive.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import type { Engine } from '../gpu/engine.js';
import { TeacherCache } from '../kd/teacher-cache.js';
import { validateDistillOptions } from '../kd/distill.js';
import { IDENTITY_FIELDS, methodParts, OptionError, RUN_OPTIONS, type Method, type OptionDecl } from '../options.js';
import { flagAttribute } from './run-options.js';
import { DATA_FILE_OPTIONS } from './data-options.js';
import { ABLATION_METHODS, accuracyChartSpec, compare, controlOf, gridArms, markdownTable, scoredLabel, selectionTable, summarise, verdict, type AblationArm, type AblationRun, type MethodSummary } from '../kd/ablation.js';
import { DS_SCORE_NAMES, type DsScore } from '../kd/selection.js';
import { checkTeacherLogitsOptions, distillOptions, isOnnxPath, runDistill, type DistillCliOptions } from './distill.js';
import { checkRunFiles, claimRunFiles, runFiles, type RunFiles } from './preflight.js';

export interface AblateOptions extends Omit<DistillCliOptions, 'method' | 'out' | 'teacher'> {
  /** The teacher checkpoint (ablate takes a kdgpu checkpoint only). */
  teacher: string;
  seeds: number;
  methods?: string;
  /** Run the variant grid on KD+LR+DS (with KD and the random control) instead of the methods. */
  grid?: boolean;
  /** Comma-separated scorers: every selecting method of --methods runs once per scorer (labels "method score=name"). */
  dsScores?: string;
  /** Continue the ablation in --out-dir: its runs with the same options are kept, only the missing (arm, seed) pairs run. */
  resume?: boolean;
  outDir: string;
  /** Replace the files of an earlier ablation in --out-dir (refused otherwise). */
  overwrite?: boolean;
}

/**
 * Options that make two ablations' runs comparable (resume keeps a run only when these match).
 * Absent in an older ablation.json means the default.
 */
const RESUME_KEYS = [
  'teacher',
  'moreTeachers',
  // The declared identity fields but what the ablation varies itself (its arms' methods and scorers, its seeds).
  ...IDENTITY_FIELDS.filter((k) => k !== 'method' && k !== 'dsScore' && k !== 'seed'),
  'testSubset',
  'dataset',
  'dataDir',
  ...DATA_FILE_OPTIONS.map(([k]) => k),
  'imageShape',
  'numClasses',
];

/** One option of an earlier ablation.json: by field, else by the flag's name older files used (`batch`, `T`), else its declared default. */
function earlierOption(options: Record<string, unknown>, k: string): unknown {
  return options[k] ?? options[flagAttribute(k)] ?? (RUN_OPTIONS as Record<string, OptionDecl>)[k]?.default;
}

/** The runs of an earlier ablation in `dir` that this one may keep, or why none may be. */
function earlierRuns(o: AblateOptions): AblationRun[] {
  const file = join(o.outDir, 'ablation.json');
  if (!o.resume || !existsSync(file)) return [];
  const earlier = JSON.parse(readFileSync(file, 'utf8')) as { options: Record<string, unknown>; runs: AblationRun[] };
  const now = o as unknown as Record<string, unknown>;
  const show = (v: unknown) => JSON.stringify(v ?? null);
  const differ = RESUME_KEYS.filter((k) => show(earlierOption(earlier.options, k)) !== show(earlierOption(now, k)));
  if (differ.length) {
    throw new Error(`--resume: ${file} was run with other options (${differ.map((k) => `${k}: ${show(earlierOption(earlier.options, k))} there, ${show(earlierOption(now, k))} here`).join('; ')}); use another --out-dir`);
  }
  return earlier.runs;
}

export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  // Loaded here, not at start-up: vega is the biggest thing the CLI imports, and only ablate uses it.
  // They are optional peer dependencies of the package (~15 MB): without them the .md and .json are
  // still written, the chart is a placeholder saying what to install, and one line (once) says so.
  let vega: typeof import('vega');
  let compile: typeof import('vega-lite').compile;
  try {
    [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw e;
    const line = 'kdgpu ablate: no chart drawn (ablation.svg is a placeholder): it needs vega and vega-lite beside kdgpu: npm i vega vega-lite (-g for a global kdgpu)';
    const once = renderSvg as unknown as { warned?: boolean };
    if (!once.warned) process.stderr.write(line + '\n');
    once.warned = true;
    const text = line.replace(/&/g, '&amp;').replace(/</g, '&lt;');
    return `<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="40"><text x="10" y="25" font-family="sans-serif" font-size="14">${text}</text></svg>\n`;
  }
  const view = new vega.View(vega.parse(compile(spec as unknown as TopLevelSpec).spec), { renderer: 'none' });
  return view.toSVG();
}

export function ablationArms(o: Pick<AblateOptions, 'methods' | 'grid' | 'dsScores'>): AblationArm[] {
  if (o.grid) return gridArms();
  const methods = (o.methods ? o.methods.split(',').map((m) => m.trim()) : ABLATION_METHODS) as Method[];
  if (!o.dsScores) return methods.map((method) => ({ label: method, method, overrides: {} }));
  const scores = o.dsScores.split(',').map((x) => x.trim()) as DsScore[];
  for (const score of scores) {
    if (!DS_SCORE_NAMES.includes(score)) throw new Error(`--ds-scores: unknown scorer "${score}" (known: ${DS_SCORE_NAMES.join(', ')})`);
  }
  // Every selecting method once per scorer; its matched random control once (added if missing).
  const arms: AblationArm[] = [];
  const add = (arm: AblationArm) => arms.some((a) => a.label === arm.label) || arms.push(arm);
  for (const method of methods) {
    if (methodParts(method).select !== 'score') {
      add({ label: method, method, overrides: {} });
      continue;
    }
    for (const dsScore of scores) add({ label: scoredLabel(method, dsScore), method, overrides: { dsScore } });
    const control = controlOf(method);
    if (control) add({ label: control, method: control as Method, overrides: {} });
  }
  return arms;
}

/** The arm with the best mean validation accuracy among those of `method` (the defaults are chosen this way). */
export function bestOnValidation(summaries: MethodSummary[], method: Method): MethodSummary | null {
  const cands = summaries.filter((s) => s.method === method && s.valMean !== null);
  return cands.reduce<MethodSummary | null>((b, s) => (!b || s.valMean! > b.valMean! ? s : b), null);
}

/**
 * Everything checked before the first run: every arm's options (an arm's overrides can make them
 * invalid, which its run would otherwise find hours in), the teacher, and the output files, none
 * of which may be an input.
 */
export function checkAblateOptions(o: AblateOptions): RunFiles {
  for (const arm of ablationArms(o)) {
    try {
      validateDistillOptions(distillOptions({ ...o, ...arm.overrides, method: arm.method }, [0], [1], 1));
    } catch (e) {
      if (e instanceof OptionError) throw new OptionError(e.field, e.value, (name) => `arm ${arm.label}: ${e.describe(name)}`);
      throw new Error(`arm ${arm.label}: ${(e as Error).message}`);
    }
  }
  checkTeacherLogitsOptions(o);
  if (isOnnxPath(o.teacher)) throw new Error(`--teacher ${o.teacher}: ablate takes a kdgpu teacher checkpoint; distil from an ONNX teacher with kdgpu distill --teacher ${o.teacher}`);
  earlierRuns(o); // an ablation to resume must have been run with the same options
  const files = runFiles('ablate', o);
  checkRunFiles(files, o);
  return files;
}

export async function runAblate(engine: Engine, o: AblateOptions, out: (s: string) => void): Promise<AblationRun[]> {
  const files = checkAblateOptions(o);
  mkdirSync(o.outDir, { recursive: true }); // the locks go beside the files
  const release = claimRunFiles(files, o);
  try {
    return await ablateRuns(engine, o, out);
  } finally {
    release();
  }
}

async function ablateRuns(engine: Engine, o: AblateOptions, out: (s: string) => void): Promise<AblationRun[]> {
  const arms = ablationArms(o);
  const cache = new TeacherCache(engine); // teacher logits computed once for all runs
  // Resumed runs first, in their order; the arms of this invocation keep theirs.
  const runs: AblationRun[] = earlierRuns(o);
  const kept = runs.length;
  const started = performance.now();
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const write = async () => {
    const summaries = summarise(runs);
    // Every selecting arm against KD and against its matched random control.
    const comparisons = summaries
      .filter((s) => controlOf(s.method) !== null)
      .flatMap((s) => [compare(runs, s.label, 'kd'), compare(runs, s.label, controlOf(s.method)!)])
      .filter((c) => c !== null);
    const pick = o.grid || o.dsScores ? bestOnValidation(summaries, 'kd+lr+ds') : null;
    const command = process.argv.slice(2).join(' ');
    const armsRun = [...new Set(runs.map((r) => r.label))].length;
    const seedsRun = [...new Set(runs.map((r) => r.seed))].length;
    const md = [
      `# Ablation: ${o.student} distilled from ${o.teacher}`,
      '',
      `Command: \`kdgpu ${command}\``,
      '',
      `${runs.length} runs: ${armsRun} arms, up to ${seedsRun} seed(s) (this invocation: ${o.seeds} seed(s) × ${arms.length} arms${kept ? `; ${kept} runs kept from before with --resume` : ''}), ${o.epochs} epochs, batch ${o.batchSize}, lr ${o.lr} (${o.schedule}), T=${o.temperature}, λ1=${o.lambda1}, λ2=${o.lambda2}, η=${o.eta}; ` +
        `DS: ${o.dsRule === 'ratio' ? `ratio ${o.dsRatio}` : 'sign'} per ${o.dsBalance}, rest weight ${o.dsRestWeight}, ${o.dsWarmupEpochs} warm-up epoch(s) of ${o.dsWarmupLoss === 'ce' ? 'CE' : "the method's loss"}${o.dsEvery ? `, re-score every ${o.dsEvery}` : ''} (arms override these as named); ` +
        `validation split ${o.valSplit ?? 'default (10%, at most 5,000)'}${o.trainSubset ? `, train subset ${o.trainSubset}` : ''}; adapter ${engine.adapterName}; CPU ${cpu}. Same data order and initialisation per seed across arms.`,
      '',
      'Accuracy is never chosen on the test set: "test % at best validation" is the test accuracy at the epoch with the best validation accuracy; "last-epoch" is the final model\'s.',
      '',
      markdownTable(summaries, runs),
      '',
      ...comparisons.map((c) => `- ${verdict(c)}`),
      ...(pick ? ['', `**Best KD+LR+DS arm on validation accuracy: \`${pick.label}\` (validation ${pick.valMean!.toFixed(2)}% over ${pick.runs} seed(s); its test accuracy at best validation ${pick.chosenMean.toFixed(2)}%).**`] : []),
      '',
      '## What the selections kept',
      '',
      selectionTable(summaries),
      '',
      `Teacher error on the training samples: ${summaries[0]?.teacherTrainError.toFixed(2) ?? '?'}%. Elapsed ${((performance.now() - started) / 60000).toFixed(1)} min.`,
      '',
    ].join('\n');
    writeFileSync(join(o.outDir, 'ablation.md'), md);
    writeFileSync(join(o.outDir, 'ablation.json'), JSON.stringify({ options: o, cpu, adapter: engine.adapterName, arms, summaries, comparisons, runs }, null, 2));
    writeFileSync(join(o.outDir, 'ablation.svg'), await renderSvg(accuracyChartSpec(runs, `${o.student} on ${o.dataset ?? "the teacher's data"}: test accuracy per arm (${o.seeds} seeds)`)));
    return md;
  };
  let done = 0;
  for (let seed = 1; seed <= o.seeds; seed++) {
    for (const arm of arms) {
      done++;
      if (runs.some((r) => r.label === arm.label && r.seed === seed)) continue; // kept from before (--resume)
      out(`\n[${done}/${o.seeds * arms.length}] seed ${seed}, ${arm.label}`);
      const r = await runDistill(engine, { ...o, ...arm.overrides, method: arm.method, seed, out: undefined, metrics: undefined, resume: false, overwrite: undefined }, out, cache);
      runs.push({ label: arm.label, method: arm.method, seed, chosen: r.testAtBestVal, last: r.last, val: r.bestVal, epochs: r.epochs });
      await write(); // partial results survive an interruption
    }
  }
  out('\n' + (await write()));
  out(`wrote ${join(o.outDir, 'ablation.md')}, ablation.json, ablation.svg`);
  return runs;
}
