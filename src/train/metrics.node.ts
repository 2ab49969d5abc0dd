// The run's record on disk: out/metrics.jsonl (appended as the run goes) and out/loss.svg.
// Promise: opening it for a resume rewrites metrics.jsonl to the records kept (metrics.ts),
// after reading every line, so a bad line stops the resume before anything is written; every
// failed write names the file (ENOSPC names none).
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MetricsSink } from './io.ts';
import { lossPlotSvg } from './loss_plot.ts';
import { parseMetrics, recordsBefore, type MetricsRecord } from './metrics.ts';

/** Writes `text` to path (appended, or whole through a renamed temporary file); a failure names the file. */
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

export class MetricsFile implements MetricsSink {
  readonly path: string;

  /** Opens out/metrics.jsonl (creating out/), keeping only the records from before `fromStep` (a resume point). */
  constructor(
    readonly out: string,
    fromStep: number,
  ) {
    this.path = join(out, 'metrics.jsonl');
    const kept = fromStep === 0 || !existsSync(this.path) ? [] : recordsBefore(this.records(), fromStep);
    mkdirSync(out, { recursive: true });
    if (fromStep === 0 || existsSync(this.path)) writeText(this.path, kept.map((r) => JSON.stringify(r) + '\n').join(''), 'replace');
  }

  write(record: MetricsRecord): void {
    writeText(this.path, JSON.stringify(record) + '\n', 'append');
  }

  records(): MetricsRecord[] {
    return existsSync(this.path) ? parseMetrics(readFileSync(this.path, 'utf8'), this.path) : [];
  }

  /** Writes out/loss.svg from the records. */
  async finish(): Promise<void> {
    writeText(join(this.out, 'loss.svg'), await lossPlotSvg(this.records()), 'replace');
  }
}
