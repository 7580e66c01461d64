// `kdgpu ablate`: the methods of method.md §5 (or the variant grid on KD+LR+DS) over several seeds;
// Markdown, JSON and an SVG chart, rewritten after every run so partial results survive.

import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import type { Engine } from '../gpu/engine.js';
import { TeacherCache } from '../kd/teacher-cache.js';
import { validateDistillOptions } from '../kd/distill.js';
import { OptionError, type Method } from '../options.js';
import { ABLATION_METHODS, accuracyChartSpec, compare, gridArms, markdownTable, selectionTable, summarise, verdict, type AblationArm, type AblationRun, type MethodSummary } from '../kd/ablation.js';
import { distillOptions, isOnnxPath, runDistill, type DistillCliOptions } from './distill.js';
import { checkOutputFolder, datasetInputs, refuseOverlaps } from './preflight.js';
import { requireRegularFileSync } from '../io/regular-file.js';

/** The files ablate writes into --out-dir (rewritten after every run). */
export const ABLATION_FILES = ['ablation.md', 'ablation.json', 'ablation.svg'] as const;

export interface AblateOptions extends Omit<DistillCliOptions, 'method' | 'out' | 'teacher'> {
  /** The teacher checkpoint (ablate takes a kdgpu checkpoint only). */
  teacher: string;
  seeds: number;
  methods?: string;
  /** Run the variant grid on KD+LR+DS (with KD and the random control) instead of the methods. */
  grid?: boolean;
  outDir: string;
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

export function ablationArms(o: Pick<AblateOptions, 'methods' | 'grid'>): AblationArm[] {
  if (o.grid) return gridArms();
  const methods = (o.methods ? o.methods.split(',').map((m) => m.trim()) : ABLATION_METHODS) as Method[];
  return methods.map((method) => ({ label: method, method, overrides: {} }));
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
export function checkAblateOptions(o: AblateOptions): void {
  for (const arm of ablationArms(o)) {
    try {
      validateDistillOptions(distillOptions({ ...o, ...arm.overrides, method: arm.method }, [0], [1], 1));
    } catch (e) {
      if (e instanceof OptionError) throw new OptionError(e.field, e.value, (name) => `arm ${arm.label}: ${e.describe(name)}`);
      throw new Error(`arm ${arm.label}: ${(e as Error).message}`);
    }
  }
  if (isOnnxPath(o.teacher)) throw new Error(`--teacher ${o.teacher}: ablate takes a kdgpu teacher checkpoint; distil from an ONNX teacher with kdgpu distill --teacher ${o.teacher}`);
  requireRegularFileSync(o.teacher, 'the --teacher checkpoint');
  checkOutputFolder({ option: '--out-dir', path: o.outDir });
  const outputs = ABLATION_FILES.map((f) => ({ option: `--out-dir's ${f}`, path: join(o.outDir, f) }));
  refuseOverlaps(outputs, [{ option: '--teacher', path: o.teacher }, ...datasetInputs(o)]);
}

export async function runAblate(engine: Engine, o: AblateOptions, out: (s: string) => void): Promise<AblationRun[]> {
  checkAblateOptions(o);
  const arms = ablationArms(o);
  mkdirSync(o.outDir, { recursive: true });
  const cache = new TeacherCache(engine); // teacher logits computed once for all runs
  const runs: AblationRun[] = [];
  const started = performance.now();
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const write = async () => {
    const summaries = summarise(runs);
    const comparisons = [
      compare(runs, 'kd+lr+ds', 'kd'),
      compare(runs, 'kd+lr+ds', 'kd', 'last'),
      compare(runs, 'kd+lr+ds', 'kd+ds-random'),
      compare(runs, 'kd+ds', 'kd+ds-random'),
      compare(runs, 'kd+ds', 'kd'),
    ].filter((c) => c !== null);
    const pick = o.grid ? bestOnValidation(summaries, 'kd+lr+ds') : null;
    const command = process.argv.slice(2).join(' ');
    const md = [
      `# Ablation: ${o.student} distilled from ${o.teacher}`,
      '',
      `Command: \`kdgpu ${command}\``,
      '',
      `${o.seeds} seed(s) × ${arms.length} arms, ${o.epochs} epochs, batch ${o.batchSize}, lr ${o.lr} (${o.schedule}), T=${o.temperature}, λ1=${o.lambda1}, λ2=${o.lambda2}, η=${o.eta}; ` +
        `DS: ${o.dsRule === 'ratio' ? `ratio ${o.dsRatio}` : 'sign'} per ${o.dsBalance}, rest weight ${o.dsRestWeight}, ${o.dsWarmupEpochs} warm-up epoch(s) of ${o.dsWarmupLoss === 'ce' ? 'CE' : "the method's loss"}${o.dsEvery ? `, re-score every ${o.dsEvery}` : ''} (arms override these as named); ` +
        `validation split ${o.valSplit ?? 'default (10%, at most 5,000)'}${o.trainSubset ? `, train subset ${o.trainSubset}` : ''}; adapter ${engine.adapterName}; CPU ${cpu}. Same data order and initialisation per seed across arms.`,
      '',
      'Accuracy is never chosen on the test set: "test % at best validation" is the test accuracy at the epoch with the best validation accuracy; "last-epoch" is the final model\'s.',
      '',
      markdownTable(summaries, runs),
      '',
      ...comparisons.map((c) => `- ${verdict(c)}`),
      ...(pick ? ['', `**Best KD+LR+DS arm on validation accuracy: \`${pick.label}\` (validation ${pick.valMean!.toFixed(2)}%; its test accuracy at best validation ${pick.chosenMean.toFixed(2)}%).**`] : []),
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
  for (let seed = 1; seed <= o.seeds; seed++) {
    for (const arm of arms) {
      out(`\n[${runs.length + 1}/${o.seeds * arms.length}] seed ${seed}, ${arm.label}`);
      const r = await runDistill(engine, { ...o, ...arm.overrides, method: arm.method, seed, out: undefined, metrics: undefined }, out, cache);
      runs.push({ label: arm.label, method: arm.method, seed, chosen: r.testAtBestVal, last: r.last, val: r.bestVal, epochs: r.epochs });
      await write(); // partial results survive an interruption
    }
  }
  out('\n' + (await write()));
  out(`wrote ${join(o.outDir, 'ablation.md')}, ablation.json, ablation.svg`);
  return runs;
}
