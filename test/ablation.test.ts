// The ablation's statistics against their formulas, and `kdgpu ablate` end to end (table, JSON
// and SVG chart from a tiny run).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compare, controlOf, gridArms, markdownTable, summarise, verdict, type AblationRun } from '../src/kd/ablation.js';
import { ablationArms } from '../src/cli/ablate.js';
import type { Method } from '../src/options.js';
import { kdgpu } from './helpers.js';

const run = (method: Method, seed: number, chosen: number, last = chosen): AblationRun => ({ label: method, method, seed, chosen, last, val: null, epochs: [] });

describe('ablation statistics', () => {
  // Best-epoch accuracies per seed; KD+LR+DS − KD = 0.010, 0.020, 0.000 (points: 1, 2, 0).
  const kd = [0.8, 0.82, 0.81];
  const lrds = [0.81, 0.84, 0.81];
  const runs = [...kd.map((b, i) => run('kd', i + 1, b, b - 0.01)), ...lrds.map((b, i) => run('kd+lr+ds', i + 1, b))];

  it('mean ± sample std per method, in points', () => {
    const [s] = summarise(runs);
    expect(s.method).toBe('kd');
    expect(s.chosenMean).toBeCloseTo(81, 10);
    expect(s.chosenStd).toBeCloseTo(1, 10); // sqrt(((−1)² + 1² + 0²) / 2)
    expect(s.lastMean).toBeCloseTo(80, 10);
  });

  it('the paired t statistic by seed: t = mean(d) / (sd(d) / √n), against t(0.975, n − 1)', () => {
    const c = compare(runs, 'kd+lr+ds', 'kd')!;
    expect(c.meanDiff).toBeCloseTo(1, 10);
    expect(c.stdDiff).toBeCloseTo(1, 10);
    expect(c.t).toBeCloseTo(1 / (1 / Math.sqrt(3)), 10);
    expect(c.tCritical).toBe(4.303);
    expect(c.significant).toBe(false);
    expect(verdict(c)).toMatch(/^KD\+LR\+DS beat KD by \+1\.00 points of validation-chosen test accuracy .* within the seed spread \(paired t = 1\.73/);
    // On last-epoch accuracy KD's runs are 1 point lower: differences 2, 3, 1.
    const cl = compare(runs, 'kd+lr+ds', 'kd', 'last')!;
    expect(cl.meanDiff).toBeCloseTo(2, 10);
    expect(cl.t).toBeCloseTo(2 / (1 / Math.sqrt(3)), 10);
    // A consistent gain is beyond the spread: differences 1, 1.1, 0.9 give t = 17.3.
    const steady = [...kd.map((b, i) => run('kd', i + 1, b)), ...kd.map((b, i) => run('kd+lr+ds', i + 1, b + [0.01, 0.011, 0.009][i]))];
    const c2 = compare(steady, 'kd+lr+ds', 'kd')!;
    expect(c2.t).toBeCloseTo(17.32, 2);
    expect(verdict(c2)).toMatch(/beyond the seed spread/);
    expect(verdict(compare([run('kd', 1, 0.8), run('kd+lr+ds', 1, 0.9)], 'kd+lr+ds', 'kd'))).toMatch(/one seed only/);
  });

  it('the table gives Δ and paired t against KD', () => {
    const table = markdownTable(summarise(runs), runs);
    expect(table).toContain('| kd+lr+ds | 82.00 ± 1.73 | 82.00 ± 1.73 |  | +1.00 (t 1.7) |');
  });

  it('the grid: every combination of rest weight, balance, rule and β once, plus re-scoring, beside KD and the random control', () => {
    const arms = gridArms();
    expect(arms.slice(0, 2).map((a) => a.label)).toEqual(['kd', 'kd+ds-random']);
    const variants = arms.filter((a) => a.method === 'kd+lr+ds' && a.overrides.dsEvery === undefined);
    expect(variants).toHaveLength(16);
    expect(new Set(variants.map((a) => JSON.stringify(a.overrides))).size).toBe(16);
    expect(new Set(arms.map((a) => a.label)).size).toBe(arms.length);
    expect(arms[arms.length - 1].overrides).toEqual({ dsEvery: 1 });
  });
});

describe('scorer arms and their matched controls', () => {
  it('--ds-scores runs every selecting method once per scorer, beside its own random control', () => {
    const arms = ablationArms({ methods: 'kd,kd+lr+ds,dkd+lr+ds', dsScores: 'influence,teacher-margin' });
    expect(arms.map((a) => a.label)).toEqual([
      'kd',
      'kd+lr+ds score=influence',
      'kd+lr+ds score=teacher-margin',
      'kd+lr+ds-random',
      'dkd+lr+ds score=influence',
      'dkd+lr+ds score=teacher-margin',
      'dkd+lr+ds-random',
    ]);
    expect(arms[2].overrides).toEqual({ dsScore: 'teacher-margin' });
    expect(controlOf('kd+lr+ds')).toBe('kd+lr+ds-random');
    expect(controlOf('kd+ds')).toBe('kd+ds-random');
    expect(controlOf('kd+ds-correct')).toBe('kd+ds-random');
    expect(controlOf('kd+lr+ds-random')).toBeNull();
    expect(controlOf('kd')).toBeNull();
    expect(() => ablationArms({ methods: 'kd+lr+ds', dsScores: 'influence,nope' })).toThrow(/--ds-scores: unknown scorer "nope"/);
  });

  it('the table compares each selecting arm with its matched control, not with another method\'s', () => {
    const r = (label: string, method: Method, seed: number, chosen: number): AblationRun => ({ label, method, seed, chosen, last: chosen, val: null, epochs: [] });
    const runs = [1, 2, 3].flatMap((seed) => [r('kd', 'kd', seed, 0.8), r('kd+ds-random', 'kd+ds-random', seed, 0.9), r('kd+lr+ds-random', 'kd+lr+ds-random', seed, 0.81 + seed / 1000), r('kd+lr+ds score=teacher-margin', 'kd+lr+ds', seed, 0.83)]);
    const table = markdownTable(summarise(runs), runs);
    expect(table).toMatch(/\| kd\+lr\+ds score=teacher-margin \|.*\| \+1\.80 \(t 31\.2, sig\.\) vs kd\+lr\+ds-random \|/);
  });

  it('gives no t for one seed (there is no spread to measure)', () => {
    const runs = [run('kd', 1, 0.8), run('kd+lr', 1, 0.83)];
    const table = markdownTable(summarise(runs), runs);
    expect(table).toMatch(/\| kd\+lr \|.*\| \+3\.00 \(1 seed\) \|/);
    expect(table).not.toMatch(/∞/);
  });
});

describe('kdgpu ablate', () => {
  it('writes the Markdown table, the JSON and the SVG chart for every method and seed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kdgpu-ablate-'));
    const args = ['ablate', '--teacher', 'models/teacher-cnn.safetensors', '--seeds', '2', '--epochs', '2', '--train-subset', '256', '--test-subset', '200', '--val-split', '500', '--batch', '64', '--methods', 'ce,kd,kd+lr+ds', '--no-progress', '--out-dir', dir];
    await kdgpu(args, 600_000);
    const md = readFileSync(join(dir, 'ablation.md'), 'utf8');
    for (const m of ['ce', 'kd', 'kd+lr+ds']) expect(md).toMatch(new RegExp(`^\\| ${m.replace(/\+/g, '\\+')} \\| \\d+\\.\\d\\d ± \\d+\\.\\d\\d \\|.* \\| 2 \\|$`, 'm'));
    expect(md).toMatch(/^- KD\+LR\+DS (beat|did worse than|tied with) KD by .* validation-chosen test accuracy/m);
    expect(md).toMatch(/\| kd\+lr\+ds \| [^|]+ \| [^|]+ \| \d+\.\d\d \| [+-]\d+\.\d\d \(t /);
    const json = JSON.parse(readFileSync(join(dir, 'ablation.json'), 'utf8'));
    const runs = json.runs as AblationRun[];
    expect(runs.map((r) => `${r.method}/${r.seed}`).sort()).toEqual(['ce/1', 'ce/2', 'kd+lr+ds/1', 'kd+lr+ds/2', 'kd/1', 'kd/2']);
    // Telemetry of the selection is in the JSON: kept fraction per class for the DS runs.
    const sel = runs.find((r) => r.method === 'kd+lr+ds')!.epochs.find((e) => e.selection)!.selection!;
    expect(sel.perClass).toHaveLength(10);
    expect(json.summaries.find((s: { label: string }) => s.label === 'kd+lr+ds').keptPerClass).toHaveLength(10);
    const svg = readFileSync(join(dir, 'ablation.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('kd+lr+ds');

    // --resume keeps those runs and runs only the missing (arm, seed) pairs; other options are refused.
    const more = await kdgpu([...args.slice(0, args.indexOf('--methods')), '--methods', 'ce,kd,kd+lr+ds,kd+lr', '--no-progress', '--out-dir', dir, '--resume'], 600_000);
    expect(more.stdout.match(/^\[\d+\/8\] seed \d, /gm)).toEqual(['[4/8] seed 1, ', '[8/8] seed 2, ']);
    const after = JSON.parse(readFileSync(join(dir, 'ablation.json'), 'utf8'));
    expect(after.runs).toHaveLength(8);
    expect(after.runs.slice(0, 6)).toEqual(json.runs);
    const other = kdgpu([...args.map((a) => (a === '256' ? '300' : a)), '--resume'], 600_000);
    await expect(other).rejects.toThrow(/--resume: .*ablation\.json was run with other options \(trainSubset: 256 there, 300 here\)/);
  });
});
