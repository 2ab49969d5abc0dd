// The run's record, as metrics.jsonl holds it: one object per step, one per evaluation, and a
// budgeted run's plan; how a step reads as a line; and which records a resumed run keeps.
// Promise: a last line cut short by a failed append (a full disk) is left out, any other line
// that is not JSON is an error naming the file and the line; a resume keeps exactly the records
// of the steps before its checkpoint, so the record reads as one uninterrupted run.
import type { TrainConfig } from './config.ts';

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

/** A --max-minutes run's plan (../train/budget.ts), made before step `step`. */
export interface PlanMetrics {
  step: number;
  planned_steps: number;
  warmup: number;
  step_ms: number;
  /** A plan made mid-run goes on from this progress of the cosine (SchedulePlan.from, at `step`). */
  from_progress?: number;
}

export type MetricsRecord = StepMetrics | EvalMetrics | PlanMetrics;

/** A step as a line, in the seed notebook's format (`step=  10 | Loss: 5.922181`) with --seed-log. */
export function formatStep(cfg: Pick<TrainConfig, 'seedLog'>, m: StepMetrics): string {
  if (cfg.seedLog) return `step=${String(m.step).padStart(4)} | Loss: ${m.loss.toFixed(6)}`;
  return `step ${String(m.step).padStart(5)} | loss ${m.loss.toFixed(4)} | lr ${m.lr.toExponential(2)} | grad norm ${m.grad_norm.toFixed(3)} | ${m.tokens_per_s.toFixed(0)} tok/s | ${m.elapsed_s.toFixed(1)} s`;
}

/** The records of a metrics.jsonl text, in order; `path` names it in errors. */
export function parseMetrics(text: string, path: string): MetricsRecord[] {
  const lines = text.split('\n'); // after the last newline: '' or a torn line
  const records: MetricsRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      records.push(JSON.parse(line));
    } catch (err) {
      if (i === lines.length - 1) return;
      throw new Error(`${path} line ${i + 1}: not valid JSON (${(err as Error).message})`);
    }
  });
  return records;
}

/** The records a run resumed at `fromStep` keeps: steps before it, and the evaluation and plan made at it. */
export function recordsBefore(records: MetricsRecord[], fromStep: number): MetricsRecord[] {
  return records.filter((r) => ('loss' in r ? r.step < fromStep : r.step <= fromStep));
}
