// A run on disk: the RunStore (./io.ts) that keeps a run in its --out directory.
//   out/checkpoint/  config.json + model.safetensors   the weights (Hugging Face layout)
//                    optimizer.safetensors             the optimizer's state tensors
//                    state.json                        the TrainingState (./checkpoint.ts)
//   out/best/, out/final/                              model directories (Hugging Face layout)
//   out/metrics.jsonl, out/loss.svg                    the record (./metrics.node.ts)
// A save replaces checkpoint/ in these steps (SAVE_STEPS; each is a crash point, ./crash_points.node.ts):
//   1. remove checkpoint.tmp/ (what a killed save left)
//   2. write every file into checkpoint.tmp/, each flushed to disk, then the directory
//   3. if checkpoint/ exists: remove checkpoint.old/ (older than checkpoint/), then rename
//      checkpoint/ → checkpoint.old/. If it does not, checkpoint.old/ is the newest complete
//      checkpoint (a save was killed between two renames) and stays.
//   4. rename checkpoint.tmp/ → checkpoint/
//   5. remove checkpoint.old/
// Each rename is flushed to disk (fsync of --out) before the next step.
// Promise: once one save has finished, --out always holds a complete checkpoint that
// --resume finds: checkpoint/ whenever it exists, else checkpoint.old/ (checkpoint.tmp/ is
// never read). A kill at any instant loses at most the steps since the last finished save.
// --overwrite removes exactly RUN_OUTPUTS (other files in --out stay); out/ is created, with
// its parents, before the first write.
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { GPT2Model } from '../gpt2/model.ts';
import { loadModel, readSafetensors, saveModel, syncDir, writeFileAtomic, writeSafetensors } from '../data/model_files.ts';
import { parseTrainingState } from './checkpoint.ts';
import { crashPoints } from './crash_points.node.ts';
import type { Checkpoint, RunStore, SavedCheckpoint } from './io.ts';
import { MetricsFile } from './metrics.node.ts';

/** Everything a run writes in --out; checkpoint.old and checkpoint.tmp exist only during a save or after a kill. */
export const RUN_OUTPUTS = ['checkpoint', 'checkpoint.old', 'checkpoint.tmp', 'final', 'best', 'metrics.jsonl', 'loss.svg'] as const;

/** The steps of a save, in order: after each, a kill leaves a resumable --out (see the top of this file). */
export const SAVE_STEPS = [
  'checkpoint.tmp removed',
  'weights written',
  'optimizer state half written',
  'optimizer state written',
  'state.json written',
  'checkpoint.old removed before the swap',
  'checkpoint renamed to checkpoint.old',
  'checkpoint.tmp renamed to checkpoint',
  'checkpoint.old removed',
] as const;

/** The checkpoint in `dir`, read: its state.json now, its tensors when asked. */
function savedCheckpoint(dir: string): SavedCheckpoint {
  const path = join(dir, 'state.json');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`--resume: cannot read ${path} (${(err as Error).message})`);
  }
  return {
    where: dir,
    state: parseTrainingState(text, path),
    loadWeights: async (model) => model.loadStateDict(loadModel(dir).stateDict()),
    optimizer: async () => new Map([...readSafetensors(join(dir, 'optimizer.safetensors'))].map(([name, t]) => [name, t.data])),
  };
}

/** The run in directory `out`. */
export function runDir(out: string): RunStore {
  const current = join(out, 'checkpoint');
  const tmp = join(out, 'checkpoint.tmp');
  const old = join(out, 'checkpoint.old');
  return {
    name: out,
    checkpointName: join(current, 'state.json'),
    outputs: async () => RUN_OUTPUTS.filter((name) => existsSync(join(out, name))),
    clear: async () => {
      for (const name of RUN_OUTPUTS) rmSync(join(out, name), { recursive: true, force: true });
    },
    // checkpoint/, or checkpoint.old/ when a save was killed between its renames
    latestCheckpoint: async () => {
      const dir = [current, old].find((d) => existsSync(d));
      return dir === undefined ? null : savedCheckpoint(dir);
    },
    saveCheckpoint: async ({ state, model, optimizer }: Checkpoint) => {
      const reached = crashPoints('save', SAVE_STEPS);
      rmSync(tmp, { recursive: true, force: true });
      reached('checkpoint.tmp removed');
      await saveModel(model, tmp);
      reached('weights written');
      const half = optimizer.length >> 1;
      const tensors = optimizer.map((t, i) => ({ ...t, data: () => (i === half && reached('optimizer state half written'), t.data) }));
      await writeSafetensors(join(tmp, 'optimizer.safetensors'), tensors);
      reached('optimizer state written');
      await writeFileAtomic(join(tmp, 'state.json'), new TextEncoder().encode(JSON.stringify(state, null, 2) + '\n'));
      reached('state.json written');

      const hasCurrent = existsSync(current);
      if (hasCurrent) rmSync(old, { recursive: true, force: true });
      reached('checkpoint.old removed before the swap');
      if (hasCurrent) {
        renameSync(current, old);
        syncDir(out);
      }
      reached('checkpoint renamed to checkpoint.old');
      renameSync(tmp, current);
      syncDir(out);
      reached('checkpoint.tmp renamed to checkpoint');
      rmSync(old, { recursive: true, force: true });
      syncDir(out);
      reached('checkpoint.old removed');
      return current;
    },
    saveModel: (which: 'best' | 'final', model: GPT2Model) => saveModel(model, join(out, which)),
    openMetrics: async (fromStep) => new MetricsFile(out, fromStep),
  };
}
