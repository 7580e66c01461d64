// The ablation of method.md §5: methods (and variants of one method, "arms") over several seeds,
// the same teacher, student and schedule, summarised as mean ± std with paired comparisons.
// Accuracy is reported two ways that never choose on the test set: the last epoch's, and the
// test accuracy at the epoch of best validation accuracy ("validation-chosen").

import type { DistillOptions, EpochTelemetry } from './distill.js';
import { methodParts, METHODS, type Method } from '../options.js';
import type { DsScore } from './selection.js';

export const ABLATION_METHODS: Method[] = ['ce', 'kd', 'kd+lr', 'kd+ds', 'kd+lr+ds', 'kd+ds-random', 'dkd', 'dkd+lr+ds'];

/** Options an arm may change (the method's data-selection and label-revision knobs). */
export type ArmOverrides = Partial<Pick<DistillOptions, 'dsRestWeight' | 'dsBalance' | 'dsRule' | 'betaAtT1' | 'dsEvery' | 'dsRatio' | 'dsWarmupLoss' | 'eta' | 'dsScore'>>;

/** One row of the ablation: a method with option overrides, under a unique label. */
export interface AblationArm {
  label: string;
  method: Method;
  overrides: ArmOverrides;
}

export interface AblationRun {
  /** The arm's label (the method's name for a plain method). */
  label: string;
  method: Method;
  seed: number;
  /** Test accuracy at the epoch of best validation accuracy. */
  chosen: number;
  /** Last-epoch test accuracy. */
  last: number;
  /** Best validation accuracy (null without a validation split). */
  val: number | null;
  epochs: EpochTelemetry[];
}

export interface MethodSummary {
  label: string;
  method: Method;
  runs: number;
  chosenMean: number;
  chosenStd: number;
  lastMean: number;
  lastStd: number;
  valMean: number | null;
  distilled: number;
  lrChanged: number;
  teacherTrainError: number;
  /** Mean kept fraction per class over the runs' last selections (null: no selection). */
  keptPerClass: number[] | null;
  /** Mean teacher error rate inside and outside Dt at the last selection. */
  teacherErrorInside: number | null;
  teacherErrorOutside: number | null;
  /** Mean over the runs' selections of the scores' AUC at putting the teacher's mistakes last (null: none). */
  mistakeAuc: number | null;
  /** Mean fraction of Dt that changed at a re-selection (null: no re-selection). */
  churn: number | null;
}

export type Metric = 'chosen' | 'last';

export interface PairedComparison {
  a: string;
  b: string;
  metric: Metric;
  /** Mean over seeds of (a − b), in points. */
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

/** The epoch (0-based) before which a run's first selection was made. */
function firstSelectionEpoch(r: AblationRun): number {
  const e = r.epochs.findIndex((t) => t.selection);
  return e < 0 ? Infinity : e;
}

/**
 * The matched random control of an arm: the same method with a random subset of the same
 * per-class size ("kd+lr+ds" → "kd+lr+ds-random"); KD's for the teacher-correct control; null for
 * arms that select nothing or are themselves the random control.
 */
export function controlOf(method: Method): string | null {
  if (method === 'kd+ds-correct') return 'kd+ds-random';
  if (methodParts(method).select !== 'score') return null;
  const twin = `${method}-random`;
  return (METHODS as readonly string[]).includes(twin) ? twin : null;
}

/** The label of an arm that selects with scorer `score` (with the ablation's --ds-scores). */
export const scoredLabel = (method: Method, score: DsScore) => `${method} score=${score}`;

function lastSelection(r: AblationRun) {
  for (let e = r.epochs.length - 1; e >= 0; e--) if (r.epochs[e].selection) return r.epochs[e].selection!;
  return null;
}

export function summarise(runs: AblationRun[]): MethodSummary[] {
  const labels = [...new Set(runs.map((r) => r.label))];
  return labels.map((label) => {
    const rs = runs.filter((r) => r.label === label);
    const lastEpoch = (r: AblationRun) => r.epochs[r.epochs.length - 1];
    const vals = rs.map((r) => r.val).filter((v): v is number => v !== null);
    const sels = rs.map(lastSelection).filter((s) => s !== null);
    const classes = sels[0]?.perClass.length ?? 0;
    const allSels = rs.flatMap((r) => r.epochs.flatMap((e) => (e.selection ? [e.selection] : [])));
    const aucs = allSels.flatMap((s) => (typeof s.mistakeAuc === 'number' ? [s.mistakeAuc] : []));
    const churns = rs.flatMap((r) => r.epochs.flatMap((e) => (e.selection && e.epoch > 1 + firstSelectionEpoch(r) && e.selection.selected ? [e.selection.changed / e.selection.selected] : [])));
    return {
      label,
      method: rs[0].method,
      runs: rs.length,
      chosenMean: 100 * mean(rs.map((r) => r.chosen)),
      chosenStd: 100 * std(rs.map((r) => r.chosen)),
      lastMean: 100 * mean(rs.map((r) => r.last)),
      lastStd: 100 * std(rs.map((r) => r.last)),
      valMean: vals.length === rs.length ? 100 * mean(vals) : null,
      distilled: mean(rs.map((r) => lastEpoch(r)?.distilled ?? 0)),
      lrChanged: mean(rs.map((r) => lastEpoch(r)?.lrChanged ?? 0)),
      teacherTrainError: 100 * mean(rs.map((r) => lastEpoch(r)?.teacherTrainError ?? 0)),
      keptPerClass: sels.length ? Array.from({ length: classes }, (_, c) => mean(sels.map((s) => s.perClass[c]?.fraction ?? 0))) : null,
      teacherErrorInside: sels.length ? 100 * mean(sels.map((s) => s.teacherErrorInside)) : null,
      teacherErrorOutside: sels.length ? 100 * mean(sels.map((s) => s.teacherErrorOutside)) : null,
      mistakeAuc: aucs.length ? mean(aucs) : null,
      churn: churns.length ? mean(churns) : null,
    };
  });
}

/** Paired by seed (same data order and initialisation), on the given accuracy. */
export function compare(runs: AblationRun[], a: string, b: string, metric: Metric = 'chosen'): PairedComparison | null {
  const diffs: number[] = [];
  for (const ra of runs.filter((r) => r.label === a)) {
    const rb = runs.find((r) => r.label === b && r.seed === ra.seed);
    if (rb) diffs.push(100 * (ra[metric] - rb[metric]));
  }
  if (diffs.length === 0) return null;
  const m = mean(diffs);
  const s = std(diffs);
  const df = diffs.length - 1;
  const tCritical = df >= 1 ? (T_95[df - 1] ?? 1.96) : Infinity;
  const t = s > 0 ? m / (s / Math.sqrt(diffs.length)) : m === 0 ? 0 : Math.sign(m) * Infinity;
  return { a, b, metric, meanDiff: m, stdDiff: s, seeds: diffs.length, t, tCritical, significant: df >= 1 && Math.abs(t) > tCritical };
}

const METRIC_WORDS: Record<Metric, string> = { chosen: 'validation-chosen test accuracy', last: 'last-epoch test accuracy' };

export function verdict(c: PairedComparison | null): string {
  if (!c) return 'the two arms were not both run: no comparison.';
  const dir = c.meanDiff > 0 ? 'beat' : c.meanDiff < 0 ? 'did worse than' : 'tied with';
  const sig = c.seeds < 2
    ? 'one seed only, so nothing can be said about the seed spread'
    : c.significant
      ? `beyond the seed spread (paired t = ${c.t.toFixed(2)}, |t| > ${c.tCritical} for 95% with ${c.seeds - 1} degrees of freedom)`
      : `within the seed spread (paired t = ${c.t.toFixed(2)}, |t| ≤ ${c.tCritical} needed for 95% with ${c.seeds - 1} degrees of freedom)`;
  return `${c.a.toUpperCase()} ${dir} ${c.b.toUpperCase()} by ${c.meanDiff >= 0 ? '+' : ''}${c.meanDiff.toFixed(2)} points of ${METRIC_WORDS[c.metric]} (mean over ${c.seeds} seeds, paired std ${c.stdDiff.toFixed(2)}): ${sig}.`;
}

const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;

/** Δ and paired t of every arm against `baseline` and against `control` (when both were run). */
export function markdownTable(summaries: MethodSummary[], runs: AblationRun[], baseline = 'kd'): string {
  const cell = (label: string, other: string) => {
    if (label === other) return '';
    const c = compare(runs, label, other);
    if (!c) return '';
    // One seed has no spread: no t to give.
    if (c.seeds < 2) return `${signed(c.meanDiff)} (1 seed)`;
    return `${signed(c.meanDiff)} (t ${Number.isFinite(c.t) ? c.t.toFixed(1) : c.t > 0 ? '+∞' : '−∞'}${c.significant ? ', sig.' : ''})`;
  };
  const rows = summaries.map((s) => {
    const val = s.valMean === null ? '' : s.valMean.toFixed(2);
    // Each selecting arm against its matched random control: the same method, a random subset.
    const control = controlOf(s.method);
    const dsCol = control ? `${cell(s.label, control)}${cell(s.label, control) ? ` vs ${control}` : ''}` : '';
    return `| ${s.label} | ${s.chosenMean.toFixed(2)} ± ${s.chosenStd.toFixed(2)} | ${s.lastMean.toFixed(2)} ± ${s.lastStd.toFixed(2)} | ${val} | ${cell(s.label, baseline)} | ${dsCol} | ${Math.round(s.distilled)} | ${Math.round(s.lrChanged)} | ${s.runs} |`;
  });
  return [
    `| arm | test % at best validation (mean ± std) | last-epoch test % | validation % | Δ vs ${baseline.toUpperCase()} (paired t) | Δ vs its matched random control (paired t) | \\|Dt\\| | targets LR changed | seeds |`,
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** Per-class kept fraction of every selecting arm, with the teacher's error inside/outside Dt. */
export function selectionTable(summaries: MethodSummary[]): string {
  const sel = summaries.filter((s) => s.keptPerClass);
  if (sel.length === 0) return '';
  const C = sel[0].keptPerClass!.length;
  return [
    `| arm | ${Array.from({ length: C }, (_, c) => `kept % class ${c}`).join(' | ')} | teacher error in Dt % | outside Dt % | AUC (mistakes last) | churn per re-selection |`,
    `|---|${'---|'.repeat(C)}---|---|---|---|`,
    ...sel.map(
      (s) =>
        `| ${s.label} | ${s.keptPerClass!.map((f) => (100 * f).toFixed(0)).join(' | ')} | ${s.teacherErrorInside!.toFixed(2)} | ${s.teacherErrorOutside!.toFixed(2)} | ${s.mistakeAuc === null ? '' : s.mistakeAuc.toFixed(3)} | ${s.churn === null ? '' : `${(100 * s.churn).toFixed(0)}%`} |`,
    ),
  ].join('\n');
}

/**
 * The variant grid on KD+LR+DS (method.md §5): rest weight {λ1, 1} × balance {global, class} ×
 * rule {ratio, sign} × β at {T, 1}, plus re-scoring every epoch; with KD and the random control.
 */
export function gridArms(): AblationArm[] {
  const arms: AblationArm[] = [
    { label: 'kd', method: 'kd', overrides: {} },
    { label: 'kd+ds-random', method: 'kd+ds-random', overrides: {} },
  ];
  for (const dsRestWeight of ['lambda1', 1] as const) {
    for (const dsBalance of ['global', 'class'] as const) {
      for (const dsRule of ['ratio', 'sign'] as const) {
        for (const betaAtT1 of [false, true]) {
          const label = `kd+lr+ds rest=${dsRestWeight === 'lambda1' ? 'λ1' : dsRestWeight} ${dsBalance} ${dsRule} β@${betaAtT1 ? '1' : 'T'}`;
          arms.push({ label, method: 'kd+lr+ds', overrides: { dsRestWeight, dsBalance, dsRule, betaAtT1 } });
        }
      }
    }
  }
  arms.push({ label: 'kd+lr+ds every=1', method: 'kd+lr+ds', overrides: { dsEvery: 1 } });
  return arms;
}

/** A vega-lite spec: validation-chosen and last-epoch test accuracy per arm, mean with ±1 std, seeds as dots. */
export function accuracyChartSpec(runs: AblationRun[], title: string): Record<string, unknown> {
  const values = runs.flatMap((r) => [
    { arm: r.label, seed: r.seed, epoch: 'at best validation', accuracy: 100 * r.chosen },
    { arm: r.label, seed: r.seed, epoch: 'last', accuracy: 100 * r.last },
  ]);
  const order = [...new Set(runs.map((r) => r.label))];
  const x = { field: 'arm', type: 'nominal', sort: order, title: null, axis: { labelAngle: -30, labelLimit: 260 } };
  const y = { field: 'accuracy', type: 'quantitative', scale: { zero: false }, title: 'test accuracy (%)' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values },
    width: Math.max(420, 32 * order.length),
    height: 260,
    encoding: { x, xOffset: { field: 'epoch' }, color: { field: 'epoch', type: 'nominal', title: 'model' } },
    layer: [
      { mark: { type: 'point', opacity: 0.35, filled: true }, encoding: { y } },
      { mark: { type: 'point', size: 80, filled: true }, encoding: { y: { ...y, aggregate: 'mean' } } },
      { mark: { type: 'errorbar', extent: 'stdev' }, encoding: { y } },
    ],
  };
}
