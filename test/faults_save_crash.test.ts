// A checkpoint save killed at each of its steps (SAVE_STEPS, injected with TSGRAD_CRASH_AT:
// the process SIGKILLs itself there), then --resume killed at the same step of its own first
// save, then --resume to the end: every time, the run logs exactly the losses and validation
// losses of a run that was never killed. The second kill covers a save made after resuming
// from checkpoint.old/ (a kill between the renames leaves no checkpoint/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseTrainArgs } from '../src/train/cli/commands.ts';
import { trainOnDisk } from '../src/train/run.node.ts';
import { SAVE_STEPS } from '../src/train/run_dir.node.ts';
import { useBackend } from '../src/train/cli/backend.ts';
import { evalLines, losses, startCli, tmp, tokenDir, type CliResult } from './helpers/train_runs.ts';

const quiet = { log: () => {} };

/** Runs jobs, at most `width` at a time. */
async function pool<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const results: T[] = [];
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}

test('a save killed at any of its steps, twice over, loses nothing: --resume logs the losses of an uninterrupted run', async () => {
  const data = tokenDir(2000, 400);
  // saves at steps 2, 4 (with an evaluation), 6 and 8 (evaluation, final/, loss.svg)
  const flags = (out: string) => ['--preset', 'tinystories', '--model', 'overfit', '--data', data, '--out', out, '--steps', '8', '--ctx', '8', '--batch-size', '2', '--save-every', '2', '--eval-every', '4', '--eval-batches', '2', '--dropout', '0.1', '--warmup', '2', '--sample-prompt', '', '--no-progress', '--backend', 'cpu'];
  await useBackend('cpu');
  const whole = tmp();
  await trainOnDisk(parseTrainArgs(flags(whole)), quiet);

  const width = Math.max(1, Math.min(4, availableParallelism() - 1));
  const kill = (out: string, at: string, more: string[] = []) => () => startCli('src/train/cli/train.ts', [...flags(out), ...more], { TSGRAD_CRASH_AT: at }).done;
  const assertKilled = (r: CliResult, what: string) => assert.equal(r.signal, 'SIGKILL', `${what}: exit ${r.code}, ${r.stderr}`);
  const outs = SAVE_STEPS.map(() => tmp());

  // the second save of a fresh run, killed at step k (a complete checkpoint from step 2 is on disk)
  const first = await pool(SAVE_STEPS.map((_, i) => kill(outs[i], `save:2:${i + 1}`)), width);
  first.forEach((r, i) => assertKilled(r, `save killed after '${SAVE_STEPS[i]}'`));
  SAVE_STEPS.forEach((name, i) => {
    // only a kill between the two renames leaves no checkpoint/ (and checkpoint.old/ to resume from)
    assert.equal(existsSync(join(outs[i], 'checkpoint')), name !== 'checkpoint renamed to checkpoint.old', name);
    assert.ok(!existsSync(join(outs[i], 'final')), name);
  });
  // --resume, its first save killed at the same step
  const second = await pool(SAVE_STEPS.map((_, i) => kill(outs[i], `save:1:${i + 1}`, ['--resume'])), width);
  second.forEach((r, i) => assertKilled(r, `resumed save killed after '${SAVE_STEPS[i]}'`));
  // --resume to the end
  for (const [i, out] of outs.entries()) {
    await trainOnDisk(parseTrainArgs([...flags(out), '--resume']), quiet);
    assert.deepEqual(losses(out), losses(whole), SAVE_STEPS[i]);
    assert.deepEqual(evalLines(out), evalLines(whole), SAVE_STEPS[i]);
    assert.ok(existsSync(join(out, 'final', 'model.safetensors')), SAVE_STEPS[i]);
  }
});
