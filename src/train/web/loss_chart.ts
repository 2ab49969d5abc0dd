// The page's live loss plot (uPlot on a canvas): the train loss of every step and the
// validation loss of every evaluation, on a log scale, redrawn as records arrive.
// Promise: add() is cheap enough to call after every step; a resumed run's earlier records show.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { MetricsRecord } from '../metrics.ts';

export class LossChart {
  private readonly plot: uPlot;
  /** Loss by step index: train[i] of step i, val[i] of the evaluation after i steps. */
  private train: (number | null)[] = [];
  private val: (number | null)[] = [];

  constructor(parent: HTMLElement) {
    const width = Math.min(parent.clientWidth || 720, 960);
    this.plot = new uPlot(
      {
        width,
        height: 280,
        scales: { x: { time: false }, y: { distr: 3 } },
        axes: [{ label: 'step' }, { label: 'cross-entropy loss', size: 60 }],
        series: [
          { label: 'step' },
          { label: 'train', stroke: '#0969da', width: 2, spanGaps: true, value: (_u, v) => (v == null ? '–' : v.toFixed(4)) },
          { label: 'validation', stroke: '#bf3989', width: 0, points: { show: true, size: 7, fill: '#bf3989' }, value: (_u, v) => (v == null ? '–' : v.toFixed(4)) },
        ],
      },
      [[], [], []],
      parent,
    );
  }

  /** Starts over with `records` (a resumed run's earlier ones, or none). */
  reset(records: MetricsRecord[]): void {
    this.train = [];
    this.val = [];
    for (const r of records) this.put(r);
    this.draw();
  }

  add(record: MetricsRecord): void {
    this.put(record);
    this.draw();
  }

  private put(r: MetricsRecord): void {
    const n = r.step + 1;
    while (this.train.length < n) {
      this.train.push(null);
      this.val.push(null);
    }
    if ('val_loss' in r) this.val[r.step] = r.val_loss;
    else if ('loss' in r) this.train[r.step] = r.loss; // (a budgeted run's plan is no point)
  }

  private draw(): void {
    this.plot.setData([this.train.map((_, i) => i), this.train, this.val] as uPlot.AlignedData);
  }
}
