// The run's record: metrics.jsonl (one JSON object per step, one per evaluation) and
// loss.svg, a picture of the train and validation loss a person can open in a browser.
// Promise: on resume, records from steps after the checkpoint are dropped, and so is a last
// line cut short by a failed append (a full disk), so the file reads as one uninterrupted
// run. Every error (a line that is not JSON, a failed write) names the file.
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

/** Writes `text` to path (appended, or whole through a renamed temporary file); a failure names the file (ENOSPC does not). */
function writeText(path: string, text: string, how: 'append' | 'replace'): void {
  try {
    if (how === 'append') {
      appendFileSync(path, text);
    } else {
      writeFileSync(path + '.tmp', text);
      renameSync(path + '.tmp', path);
    }
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
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
      writeText(this.path, '', 'replace');
    } else if (existsSync(this.path)) {
      const kept = this.records().filter((r) => ('val_loss' in r ? r.step <= fromStep : r.step < fromStep));
      // a torn last line is left out by records(), so the rewrite drops it
      writeText(this.path, kept.map((r) => JSON.stringify(r) + '\n').join(''), 'replace');
    }
  }

  write(record: StepMetrics | EvalMetrics): void {
    writeText(this.path, JSON.stringify(record) + '\n', 'append');
  }

  /** The records in order; a last line without its newline that is not JSON (an append cut short) is left out. */
  records(): (StepMetrics | EvalMetrics)[] {
    if (!existsSync(this.path)) return [];
    const lines = readFileSync(this.path, 'utf8').split('\n'); // after the last newline: '' or a torn line
    const records: (StepMetrics | EvalMetrics)[] = [];
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        records.push(JSON.parse(line));
      } catch (err) {
        if (i === lines.length - 1) return;
        throw new Error(`${this.path} line ${i + 1}: not valid JSON (${(err as Error).message})`);
      }
    });
    return records;
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
    writeText(path, svg, 'replace');
    return path;
  }
}
