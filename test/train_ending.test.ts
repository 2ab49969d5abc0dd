// How a training run ends: within --max-minutes, its final evaluation and saves included
// (the budget's rule on a fake clock, and a real run that stops early), and with a loss.svg
// that shows every validation point, even a single one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mustStop, TimeBudget, type Durations } from '../src/train/budget.ts';
import { MetricsFile } from '../src/train/metrics.node.ts';
import { parseTrainArgs } from '../src/train/cli/commands.ts';
import { trainOnDisk } from '../src/train/run.node.ts';
import { useBackend } from '../src/train/cli/backend.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'tsgrad-ending-'));

test('mustStop: another step only if it, the work due now and the ending fit', () => {
  const d: Durations = { step: 2000, eval: 5000, save: 3000, finish: 4000 };
  const none = { eval: false, save: false };
  // ending with evaluation = 5 + 3 + 4 = 12 s; plus a step = 14 s
  assert.equal(mustStop(14_000, d, none, true), false);
  assert.equal(mustStop(13_999, d, none, true), true);
  // without evaluation the ending is 7 s
  assert.equal(mustStop(9_000, d, none, false), false);
  assert.equal(mustStop(8_999, d, none, false), true);
  // an evaluation and a checkpoint due after this step come first
  assert.equal(mustStop(21_999, d, { eval: true, save: true }, true), true);
  assert.equal(mustStop(22_000, d, { eval: true, save: true }, true), false);
});

/** A clock that moves only when told. */
function fakeClock() {
  const clock = { t: 0, now: () => clock.t, pass: async (ms: number) => void (clock.t += ms) };
  return clock;
}

test('TimeBudget on a fake clock: the run it drives ends inside the budget, and not long before', async () => {
  // a 10M-parameter model whose checkpoint is written at 120 MB/s
  const costs = { step: 1500, eval: 4000, save: 1000, finish: 1000 };
  for (const [evalEvery, saveEvery] of [[0, 0], [10, 0], [7, 5], [1, 1]]) {
    const clock = fakeClock();
    const cfg = { maxMinutes: 1, evalEvery, evalBatches: 4, gradAccum: 1, samplePrompt: '', saveEvery, warmup: 0 };
    const budget = new TimeBudget(cfg, 1e7, clock.now, 0);
    let step = 0;
    let stoppedEarly = false;
    while (step < 10_000) {
      await budget.time('step', () => clock.pass(costs.step));
      step++;
      const due = { eval: evalEvery > 0 && step % evalEvery === 0, save: saveEvery > 0 && step % saveEvery === 0 };
      stoppedEarly = budget.stopAfterStep(due);
      if (due.eval || (stoppedEarly && evalEvery > 0)) await budget.time('eval', () => clock.pass(costs.eval));
      if (due.save || stoppedEarly) await budget.time('save', () => clock.pass(costs.save));
      if (stoppedEarly) break;
    }
    await clock.pass(costs.finish); // final/ and loss.svg
    assert.ok(stoppedEarly, `evalEvery ${evalEvery}, saveEvery ${saveEvery}: stopped by the budget`);
    assert.ok(clock.t <= 60_000, `evalEvery ${evalEvery}, saveEvery ${saveEvery}: ended at ${clock.t} ms, past the 60 s budget`);
    assert.ok(clock.t > 50_000, `evalEvery ${evalEvery}, saveEvery ${saveEvery}: ended at ${clock.t} ms, with time for more steps`);
  }
});

test('TimeBudget: no limit never stops; estimates before anything is measured are positive', () => {
  const clock = fakeClock();
  assert.equal(new TimeBudget({ maxMinutes: 0, evalEvery: 1, evalBatches: 1, gradAccum: 1, samplePrompt: '', saveEvery: 0, warmup: 0 }, 1e9, clock.now, 0).stopAfterStep({ eval: true, save: true }), false);
  const d = new TimeBudget({ maxMinutes: 1, evalEvery: 10, evalBatches: 4, gradAccum: 2, samplePrompt: 'Once', saveEvery: 0, warmup: 0 }, 1e6, clock.now, 0).durations();
  assert.ok(d.save > 0 && d.finish > d.save, JSON.stringify(d));
});

test('a run with a budget shorter than its ending stops after one step, evaluated and saved', async () => {
  await useBackend('cpu');
  const out = tmp();
  const cfg = parseTrainArgs(['--out', out, '--steps', '50', '--ctx', '8', '--batch-size', '1', '--no-progress', '--backend', 'cpu', '--max-minutes', '0.0001']);
  const lines: string[] = [];
  const result = await trainOnDisk(cfg, { log: (l) => lines.push(l) });
  assert.equal(result.steps, 1);
  assert.ok(lines.some((l) => l.startsWith('--max-minutes 0.0001: stopping at step 1')), lines.join('\n'));
  for (const f of ['checkpoint/state.json', 'final/model.safetensors', 'loss.svg']) assert.ok(existsSync(join(out, f)), f);
});

test('loss.svg shows a single validation point as a dot', async () => {
  const out = tmp();
  const log = new MetricsFile(out, 0);
  for (let step = 0; step < 10; step++) log.write({ step, loss: 10 - step / 2, lr: 1e-3, grad_norm: 1, tokens_per_s: 100, elapsed_s: step });
  log.write({ step: 10, val_loss: 6.5 });
  await log.finish();
  const svg = readFileSync(join(out, 'loss.svg'), 'utf8');
  assert.match(svg, /<g class="mark-symbol role-mark[^"]*"[^>]*><path aria-label="step: 10; cross-entropy loss: 6\.5; split: validation"[^>]*aria-roledescription="point"/);
});

test('TimeBudget: the first step (kernel warm-up) counts only until a second one is timed', async () => {
  const clock = fakeClock();
  const budget = new TimeBudget({ maxMinutes: 1, evalEvery: 0, evalBatches: 1, gradAccum: 1, samplePrompt: '', saveEvery: 0, warmup: 0 }, 1e6, clock.now, 0);
  await budget.time('step', () => clock.pass(9000));
  assert.equal(budget.durations().step, 9000);
  await budget.time('step', () => clock.pass(1000));
  await budget.time('step', () => clock.pass(1200));
  await budget.time('step', () => clock.pass(1100));
  assert.equal(budget.durations().step, 1200);
  assert.equal(budget.durations(true).step, 1100, 'the typical step: their median');
  for (let i = 0; i < 5; i++) await budget.time('step', () => clock.pass(1000));
  assert.equal(budget.durations().step, 1000, 'the longest of the last five');
  for (let i = 0; i < 12; i++) await budget.time('step', () => clock.pass(1000));
  for (let i = 0; i < 5; i++) await budget.time('step', () => clock.pass(3000));
  assert.equal(budget.durations().step, 3000, 'stopping counts on a slowdown at once');
  assert.equal(budget.durations(true).step, 1000, 'a plan is not moved by five slow steps among twenty');
});
