// The ablation of method.md §5: every method over several seeds, the same teacher, student and
// schedule, summarised as mean ± std with a paired comparison of KD+LR+DS against KD.

import type { EpochTelemetry, Method } from './distill.js';

export const ABLATION_METHODS: Method[] = ['ce', 'kd', 'kd+lr', 'kd+ds', 'kd+lr+ds', 'dkd', 'dkd+lr+ds'];

export interface AblationRun {
  method: Method;
  seed: number;
  best: number;
  last: number;
  epochs: EpochTelemetry[];
}

export interface MethodSummary {
  method: Method;
  runs: number;
  bestMean: number;
  bestStd: number;
  lastMean: number;
  lastStd: number;
  distilled: number;
  lrChanged: number;
  teacherTrainError: number;
}

export interface PairedComparison {
  a: Method;
  b: Method;
  /** Mean over seeds of (a − b), best-epoch accuracy, in points. */
  meanDiff: number;
  stdDiff: number;
  seeds: number;
  t: number;
  /** Two-sided 95% critical value of Student's t with seeds − 1 degrees of freedom. */
  tCritical: number;
  significant: boolean;
}

const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
const std = (xs: number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1)));

/** Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom (then the normal's 1.96). */
const T_95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

export function summarise(runs: AblationRun[]): MethodSummary[] {
  const methods = [...new Set(runs.map((r) => r.method))];
  return methods.map((method) => {
    const rs = runs.filter((r) => r.method === method);
    const lastEpoch = (r: AblationRun) => r.epochs[r.epochs.length - 1];
    return {
      method,
      runs: rs.length,
      bestMean: 100 * mean(rs.map((r) => r.best)),
      bestStd: 100 * std(rs.map((r) => r.best)),
      lastMean: 100 * mean(rs.map((r) => r.last)),
      lastStd: 100 * std(rs.map((r) => r.last)),
      distilled: mean(rs.map((r) => lastEpoch(r)?.distilled ?? 0)),
      lrChanged: mean(rs.map((r) => lastEpoch(r)?.lrChanged ?? 0)),
      teacherTrainError: 100 * mean(rs.map((r) => lastEpoch(r)?.teacherTrainError ?? 0)),
    };
  });
}

/** Paired by seed (same data order and initialisation), on best-epoch accuracy. */
export function compare(runs: AblationRun[], a: Method, b: Method): PairedComparison | null {
  const diffs: number[] = [];
  for (const ra of runs.filter((r) => r.method === a)) {
    const rb = runs.find((r) => r.method === b && r.seed === ra.seed);
    if (rb) diffs.push(100 * (ra.best - rb.best));
  }
  if (diffs.length === 0) return null;
  const m = mean(diffs);
  const s = std(diffs);
  const df = diffs.length - 1;
  const tCritical = df >= 1 ? (T_95[df - 1] ?? 1.96) : Infinity;
  const t = s > 0 ? m / (s / Math.sqrt(diffs.length)) : m === 0 ? 0 : Math.sign(m) * Infinity;
  return { a, b, meanDiff: m, stdDiff: s, seeds: diffs.length, t, tCritical, significant: df >= 1 && Math.abs(t) > tCritical };
}

export function verdict(c: PairedComparison | null): string {
  if (!c) return 'KD+LR+DS and KD were not both run: no comparison.';
  const dir = c.meanDiff > 0 ? 'beat' : c.meanDiff < 0 ? 'did worse than' : 'tied with';
  const sig = c.seeds < 2
    ? 'one seed only, so nothing can be said about the seed spread'
    : c.significant
      ? `beyond the seed spread (paired t = ${c.t.toFixed(2)}, |t| > ${c.tCritical} for 95% with ${c.seeds - 1} degrees of freedom)`
      : `within the seed spread (paired t = ${c.t.toFixed(2)}, |t| ≤ ${c.tCritical} needed for 95% with ${c.seeds - 1} degrees of freedom)`;
  return `${c.a.toUpperCase()} ${dir} ${c.b.toUpperCase()} by ${c.meanDiff >= 0 ? '+' : ''}${c.meanDiff.toFixed(2)} points of best-epoch test accuracy (mean over ${c.seeds} seeds, paired std ${c.stdDiff.toFixed(2)}): ${sig}.`;
}

export function markdownTable(summaries: MethodSummary[], baseline: Method = 'kd'): string {
  const base = summaries.find((s) => s.method === baseline);
  const rows = summaries.map((s) => {
    const delta = base && s.method !== baseline ? `${s.bestMean - base.bestMean >= 0 ? '+' : ''}${(s.bestMean - base.bestMean).toFixed(2)}` : '';
    return `| ${s.method} | ${s.bestMean.toFixed(2)} ± ${s.bestStd.toFixed(2)} | ${s.lastMean.toFixed(2)} ± ${s.lastStd.toFixed(2)} | ${delta} | ${Math.round(s.distilled)} | ${Math.round(s.lrChanged)} | ${s.runs} |`;
  });
  return [
    `| method | best test acc % (mean ± std) | last-epoch test acc % | Δ best vs ${baseline.toUpperCase()} | distilled samples \\|Dt\\| | targets LR changed | seeds |`,
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** A vega-lite spec: best and last test accuracy per method, mean with ±1 std error bars, seeds as dots. */
export function accuracyChartSpec(runs: AblationRun[], title: string): Record<string, unknown> {
  const values = runs.flatMap((r) => [
    { method: r.method, seed: r.seed, epoch: 'best', accuracy: 100 * r.best },
    { method: r.method, seed: r.seed, epoch: 'last', accuracy: 100 * r.last },
  ]);
  const order = [...new Set(runs.map((r) => r.method))];
  const x = { field: 'method', type: 'nominal', sort: order, title: null, axis: { labelAngle: -30 } };
  const y = { field: 'accuracy', type: 'quantitative', scale: { zero: false }, title: 'test accuracy (%)' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values },
    width: 420,
    height: 260,
    encoding: { x, xOffset: { field: 'epoch' }, color: { field: 'epoch', type: 'nominal', title: 'epoch' } },
    layer: [
      { mark: { type: 'point', opacity: 0.35, filled: true }, encoding: { y } },
      { mark: { type: 'point', size: 80, filled: true }, encoding: { y: { ...y, aggregate: 'mean' } } },
      { mark: { type: 'errorbar', extent: 'stdev' }, encoding: { y } },
    ],
  };
}
