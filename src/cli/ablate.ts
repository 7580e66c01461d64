// `kdgpu ablate`: the methods of method.md §5 over several seeds; Markdown, JSON and an SVG chart.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import type { Engine } from '../gpu/engine.js';
import { TeacherCache } from '../kd/teacher-cache.js';
import type { Method } from '../kd/distill.js';
import { ABLATION_METHODS, accuracyChartSpec, compare, markdownTable, summarise, verdict, type AblationRun } from '../kd/ablation.js';
import { runDistill, type DistillCliOptions } from './distill.js';

export interface AblateOptions extends Omit<DistillCliOptions, 'method' | 'out'> {
  seeds: number;
  methods?: string;
  outDir: string;
}

export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  // Loaded here, not at start-up: vega is the biggest thing the CLI imports, and only ablate uses it.
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(compile(spec as unknown as TopLevelSpec).spec), { renderer: 'none' });
  return view.toSVG();
}

export async function runAblate(engine: Engine, o: AblateOptions, out: (s: string) => void): Promise<AblationRun[]> {
  const methods = (o.methods ? o.methods.split(',').map((m) => m.trim()) : ABLATION_METHODS) as Method[];
  mkdirSync(o.outDir, { recursive: true });
  const cache = new TeacherCache(engine); // teacher logits computed once for all runs
  const runs: AblationRun[] = [];
  const started = performance.now();
  const write = async () => {
    const summaries = summarise(runs);
    const cmp = compare(runs, 'kd+lr+ds', 'kd');
    const command = process.argv.slice(2).join(' ');
    const md = [
      `# Ablation: ${o.student} distilled from ${o.teacher}`,
      '',
      `Command: \`kdgpu ${command}\``,
      '',
      `${o.seeds} seed(s) × ${methods.length} methods, ${o.epochs} epochs, batch ${o.batch}, lr ${o.lr} (${o.schedule}), T=${o.T}, λ1=${o.lambda1}, λ2=${o.lambda2}, η=${o.eta}, ds-ratio=${o.dsRatio} (${o.dsRule}), ` +
        `validation split ${o.valSplit}${o.trainSubset ? `, train subset ${o.trainSubset}` : ''}; adapter ${engine.adapterName}. Same data order and initialisation per seed across methods.`,
      '',
      markdownTable(summaries),
      '',
      `**${verdict(cmp)}**`,
      '',
      `Teacher error on the training samples: ${summaries[0]?.teacherTrainError.toFixed(2) ?? '?'}%. Elapsed ${((performance.now() - started) / 60000).toFixed(1)} min.`,
      '',
    ].join('\n');
    writeFileSync(join(o.outDir, 'ablation.md'), md);
    writeFileSync(join(o.outDir, 'ablation.json'), JSON.stringify({ options: o, summaries, comparison: cmp, runs }, null, 2));
    writeFileSync(join(o.outDir, 'ablation.svg'), await renderSvg(accuracyChartSpec(runs, `${o.student} on ${o.dataset}: test accuracy per method (${o.seeds} seeds)`)));
    return md;
  };
  for (let seed = 1; seed <= o.seeds; seed++) {
    for (const method of methods) {
      out(`\n[${runs.length + 1}/${o.seeds * methods.length}] seed ${seed}, ${method}`);
      const r = await runDistill(engine, { ...o, method, seed, out: undefined, metrics: undefined }, out, cache);
      runs.push({ method, seed, best: r.best, last: r.last, epochs: r.epochs });
      await write(); // partial results survive an interruption
    }
  }
  out('\n' + (await write()));
  out(`wrote ${join(o.outDir, 'ablation.md')}, ablation.json, ablation.svg`);
  return runs;
}
