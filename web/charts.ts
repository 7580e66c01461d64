// uPlot wrappers for the page: line charts with one series per training method (a new run of a
// method replaces its series, so several methods overlay), and a bar histogram.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export const METHOD_COLORS: Record<string, string> = {
  ce: '#7f7f7f',
  kd: '#1f77b4',
  'kd+lr': '#ff7f0e',
  'kd+ds': '#2ca02c',
  'kd+lr+ds': '#d62728',
};

const HEIGHT = 220;

function widthOf(el: HTMLElement): number {
  return Math.max(240, Math.floor(el.clientWidth || el.getBoundingClientRect().width || 400));
}

/** Redraw at most once per animation frame, however many points arrive. */
function coalesce(draw: () => void): () => void {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      draw();
    });
  };
}

export interface LineChartOptions {
  xLabel: string;
  yLabel: string;
  /** Fixed y range, e.g. [0, 1] for accuracy. */
  yRange?: [number, number];
  /** Format of values in the legend. */
  format?: (v: number) => string;
  /** Draw every point (few points, e.g. one per epoch). */
  points?: boolean;
}

export class MethodLineChart {
  private series = new Map<string, { x: number[]; y: number[] }>();
  private plot: uPlot | null = null;
  private plotKeys = '';
  readonly redraw: () => void;

  constructor(
    private el: HTMLElement,
    private o: LineChartOptions,
  ) {
    this.redraw = coalesce(() => this.draw());
    new ResizeObserver(() => this.plot?.setSize({ width: widthOf(this.el), height: HEIGHT })).observe(el);
    this.draw();
  }

  /** Start (or restart) the series of `key`: a new run of a method replaces the old one. */
  reset(key: string): void {
    this.series.delete(key); // re-inserted last, so the legend follows the run order
    this.series.set(key, { x: [], y: [] });
    this.redraw();
  }

  push(key: string, x: number, y: number): void {
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { x: [], y: [] }));
    s.x.push(x);
    s.y.push(y);
    this.redraw();
  }

  clear(): void {
    this.series.clear();
    this.redraw();
  }

  /** Series drawn and points in them (tests read this). */
  summary(): { series: number; points: number } {
    let points = 0;
    for (const s of this.series.values()) points += s.x.length;
    return { series: this.series.size, points };
  }

  private draw(): void {
    const keys = [...this.series.keys()];
    const tables = keys.map((k) => [this.series.get(k)!.x, this.series.get(k)!.y] as uPlot.AlignedData).filter((t) => t[0].length > 0);
    const data: uPlot.AlignedData =
      tables.length === keys.length && keys.length > 0 ? uPlot.join(tables) : [[], ...keys.map(() => [] as number[])];
    const signature = keys.join('|');
    if (this.plot && signature === this.plotKeys) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.plotKeys = signature;
    const fmt = this.o.format ?? ((v: number) => v.toFixed(3));
    this.plot = new uPlot(
      {
        width: widthOf(this.el),
        height: HEIGHT,
        scales: { x: { time: false }, y: this.o.yRange ? { range: this.o.yRange } : {} },
        axes: [{ label: this.o.xLabel }, { label: this.o.yLabel, size: 56 }],
        legend: { live: true },
        series: [
          { label: this.o.xLabel },
          ...keys.map((k) => ({
            label: k.toUpperCase(),
            stroke: METHOD_COLORS[k] ?? '#333',
            width: 2,
            spanGaps: true,
            points: { show: this.o.points ?? false, size: 6 },
            value: (_u: uPlot, v: number | null) => (v === null || v === undefined ? '–' : fmt(v)),
          })),
        ],
      },
      data,
      this.el,
    );
  }
}

export interface BarChartOptions {
  /** Label of the y axis; default 'samples (asinh scale)'. */
  yLabel?: string;
  /** A linear y axis from 0 (default: asinh, for counts with one dominant bin). */
  linear?: boolean;
  /** How the x value of a bar is written in the legend. */
  xFormat?: (x: number) => string;
}

/** Bars over fixed bins (one series): a histogram, or one value per class. */
export class HistogramChart {
  private plot: uPlot | null = null;
  private data: uPlot.AlignedData = [[], []];
  private label = '';
  readonly redraw: () => void;

  constructor(
    private el: HTMLElement,
    private xLabel: string,
    private opts: BarChartOptions = {},
  ) {
    this.redraw = coalesce(() => this.draw());
    new ResizeObserver(() => this.plot?.setSize({ width: widthOf(this.el), height: HEIGHT })).observe(el);
    this.draw();
  }

  set(lo: number, hi: number, counts: number[], label: string, color: string): void {
    const w = (hi - lo) / counts.length;
    this.data = [counts.map((_, i) => lo + (i + 0.5) * w), counts];
    this.label = label;
    this.plot?.destroy();
    this.plot = null;
    this.color = color;
    this.redraw();
  }

  private color = '#d62728';

  summary(): { bins: number; total: number } {
    return { bins: this.data[0].length, total: (this.data[1] as number[]).reduce((s, v) => s + v, 0) };
  }

  private draw(): void {
    if (this.plot) return this.plot.setData(this.data);
    this.plot = new uPlot(
      {
        width: widthOf(this.el),
        height: HEIGHT,
        // asinh: the spike at β = η (every sample the teacher gets right) would flatten the rest.
        scales: { x: { time: false }, y: this.opts.linear ? { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } : { distr: 4, asinh: 1, range: (_u, _min, max) => [0, Math.max(1, max * 1.2)] } },
        axes: [{ label: this.xLabel }, { label: this.opts.yLabel ?? 'samples (asinh scale)', size: 56 }],
        series: [
          { label: this.xLabel, value: (_u, v) => (v === null || v === undefined ? '–' : (this.opts.xFormat ?? ((x: number) => x.toFixed(3)))(v)) },
          { label: this.label || 'count', fill: this.color + '99', stroke: this.color, paths: uPlot.paths.bars!({ size: [0.9, 60] }), points: { show: false } },
        ],
      },
      this.data,
      this.el,
    );
  }
}
