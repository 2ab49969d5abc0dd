// The run's record: metrics.jsonl (one JSON object per step, one per evaluation) and
// loss.svg, a picture of the train and validation loss a person can open in a browser.
// Promise: on resume, records from steps after the checkpoint are dropped, so the file
// reads as one uninterrupted run.
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';

export interface StepMetrics {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number;
  tokens_per_s: number;
  elapsed_s: number;
}

export interface EvalMetrics {
  step: number;
  val_loss: number;
}

export class MetricsLog {
  readonly path: string;

  /** Opens out/metrics.jsonl, keeping only records from before `fromStep` (a resume point). */
  constructor(
    readonly out: string,
    fromStep: number,
  ) {
    this.path = join(out, 'metrics.jsonl');
    if (fromStep === 0) {
      writeFileSync(this.path, '');
    } else if (existsSync(this.path)) {
      const kept = this.records().filter((r) => ('val_loss' in r ? r.step <= fromStep : r.step < fromStep));
      writeFileSync(this.path + '.tmp', kept.map((r) => JSON.stringify(r) + '\n').join(''));
      renameSync(this.path + '.tmp', this.path);
    }
  }

  write(record: StepMetrics | EvalMetrics): void {
    appendFileSync(this.path, JSON.stringify(record) + '\n');
  }

  records(): (StepMetrics | EvalMetrics)[] {
    if (!existsSync(this.path)) return [];
    return readFileSync(this.path, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as StepMetrics | EvalMetrics);
  }

  /** Writes loss.svg: train loss per step, validation loss per evaluation with a dot at each (Vega-Lite). */
  async plot(): Promise<string> {
    const values = this.records().map((r) => ('val_loss' in r ? { step: r.step, loss: r.val_loss, split: 'validation' } : { step: r.step, loss: r.loss, split: 'train' }));
    const spec = vegaLite.compile({
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      title: 'tsgrad training loss',
      width: 640,
      height: 320,
      background: 'white',
      data: { values },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'step' },
        y: { field: 'loss', type: 'quantitative', title: 'cross-entropy loss' },
        color: { field: 'split', type: 'nominal', title: null },
      },
      layer: [
        { mark: { type: 'line', interpolate: 'linear' } },
        // evaluations are few: a dot for each, so a single one shows (a line needs two)
        { transform: [{ filter: "datum.split === 'validation'" }], mark: { type: 'point', filled: true, size: 40 } },
      ],
    }).spec;
    const view = new vega.View(vega.parse(spec), { renderer: 'none' });
    const svg = await view.toSVG();
    view.finalize();
    const path = join(this.out, 'loss.svg');
    writeFileSync(path + '.tmp', svg);
    renameSync(path + '.tmp', path);
    return path;
  }
}
