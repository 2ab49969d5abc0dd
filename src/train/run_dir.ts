// The run directory (--out): the names a training run writes there, and the check that keeps
// one run from writing over another's.
// Promise: without --resume or --overwrite a run starts only in an --out that holds none of
// RUN_OUTPUTS, and the refusal names what is there; --overwrite removes exactly those names
// (other files in --out stay). checkOut reads and writes nothing else, so commands call it
// before any slow preparation (download, pretokenize).
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainConfig } from './config.ts';
import { checkResumable, type ResumePoint } from './checkpoint.ts';

/** Everything a run writes in --out; checkpoint.old and checkpoint.tmp exist only during a save or after a kill. */
export const RUN_OUTPUTS = ['checkpoint', 'checkpoint.old', 'checkpoint.tmp', 'final', 'best', 'metrics.jsonl', 'loss.svg'] as const;

/**
 * What --out allows: with --resume the checkpoint to continue from (or an error saying why
 * there is none), otherwise null once it is clear the run writes over nothing it should not.
 */
export function checkOut(cfg: TrainConfig): ResumePoint | null {
  if (cfg.resume) return checkResumable(cfg);
  const found = RUN_OUTPUTS.filter((name) => existsSync(join(cfg.out, name)));
  if (found.length > 0 && !cfg.overwrite) {
    throw new Error(`${cfg.out} already holds a training run (${found.join(', ')}); pass --resume to continue it, --overwrite to start over, or another --out`);
  }
  return null;
}

/** --overwrite: removes the outputs of the run that was in `out`. */
export function clearOutputs(out: string): void {
  for (const name of RUN_OUTPUTS) rmSync(join(out, name), { recursive: true, force: true });
}
