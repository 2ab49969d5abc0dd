// The schedule of a --max-minutes run, on a fake clock (each training batch costs a second):
// the run plans its steps once a few are timed, records the plan, lays warmup and cosine over it
// and ends at --min-lr on its last step, within the budget, also when the machine slows down
// mid-run; the plan never exceeds --steps; a run stopped after the plan and resumed replays the
// same learning rates and losses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useBackend } from '../src/train/cli/backend.ts';
import { planningSteps, scheduledLr, train, TrainingStopped } from '../src/train/loop.ts';
import { MemoryRunStore } from '../src/train/in_memory.ts';
import { textBatches } from '../src/train/batches.ts';
import { cosineProgress, stepsThatFit, TimeBudget, type Durations } from '../src/train/budget.ts';
import { BUDGET_TIERS, TRAIN_PRESETS, type TrainConfig } from '../src/train/config.ts';
import { parseTrainingState } from '../src/train/checkpoint.ts';
import { parseTrainCommand, TRAIN_COMMAND } from '../src/train/cli/commands.ts';
import type { PlanMetrics, StepMetrics } from '../src/train/metrics.ts';
import type { StopRequests, TrainIO } from '../src/train/io.ts';

const BATCH_MS = 1000;

/** A run's IO on a fake clock that moves only when a training batch is read. */
function fakeClockIO(store: MemoryRunStore, stopAfter: number | null = null, batchMs = (_batch: number) => BATCH_MS): TrainIO {
  const clock = { t: 0 };
  let batches = 0;
  const stop: StopRequests & { reason: string | null } = { reason: null, onFirst: null, lastWords: () => '' };
  return {
    store,
    openData: (cfg) => {
      const data = textBatches(cfg);
      return { ...data, next: (rng) => ((clock.t += batchMs(batches++)), data.next(rng)) };
    },
    log: () => {},
    progress: () => ({ update: (done) => void (done === stopAfter && (stop.reason = 'test')), interrupt: () => {}, stop: () => {} }),
    stop,
    now: () => clock.t,
    startedAt: 0,
  };
}

const cfgOf = (over: Partial<TrainConfig> = {}): TrainConfig => ({
  ...TRAIN_PRESETS.overfit,
  ctx: 8,
  batchSize: 2,
  lr: 3e-3,
  minLr: 3e-4,
  warmup: 3,
  lrSchedule: 'cosine',
  steps: 10_000,
  maxMinutes: 0.5, // 30 fake seconds: about 27 steps of 1 s and the ending
  seedLog: false,
  backend: 'cpu',
  ...over,
});

const stepsOf = (store: MemoryRunStore) => store.records.filter((r): r is StepMetrics => 'loss' in r);
const plansOf = (store: MemoryRunStore) => store.records.filter((r): r is PlanMetrics => 'planned_steps' in r);

test('stepsThatFit: the steps, the work due among them and the ending fit; at most the cap', () => {
  const d: Durations = { step: 100, eval: 500, save: 200, finish: 300 };
  const cfg = { evalEvery: 0, saveEvery: 0 };
  // the ending: save + finish = 500 ms; then 100 ms a step
  assert.equal(stepsThatFit(1499, d, 0, cfg, 1000), 9);
  assert.equal(stepsThatFit(1500, d, 0, cfg, 1000), 10);
  assert.equal(stepsThatFit(1500, d, 0, cfg, 4), 4);
  assert.equal(stepsThatFit(599, d, 0, cfg, 1000), 0);
  // evaluating every 5 steps: the ending adds an evaluation (1000 ms); after steps 5 and 10 (of
  // 0 + n, the last one's due work being the ending's) an evaluation and a save, 700 ms each
  const every5 = { evalEvery: 5, saveEvery: 0 };
  assert.equal(stepsThatFit(1000 + 10 * 100 + 700, d, 0, every5, 1000), 10);
  assert.equal(stepsThatFit(1000 + 10 * 100 + 700 - 1, d, 0, every5, 1000), 9);
  assert.equal(stepsThatFit(1000 + 9 * 100 + 700, d, 0, every5, 1000), 9);
});

test('TimeBudget.plan: the steps that fit in the time left at the measured speed, at most --steps; warmup at most a tenth', async () => {
  const clock = { t: 0 };
  const cfg = { maxMinutes: 1, evalEvery: 0, saveEvery: 0, evalBatches: 1, gradAccum: 1, samplePrompt: '', warmup: 100 };
  const budget = new TimeBudget(cfg, 1000, () => clock.t, 0);
  for (const ms of [5000, 500, 500]) await budget.time('step', async () => void (clock.t += ms)); // the first is left out
  const plan = budget.plan(3, 1_000_000);
  const ending = 2 * budget.durations().save + 2000;
  assert.equal(plan.stepMs, 500);
  assert.equal(plan.steps, 3 + Math.floor((0.97 * (60_000 - 6000) - ending) / 500));
  assert.equal(plan.warmup, Math.floor(plan.steps / 10));
  assert.equal(budget.plan(3, 50).steps, 50);
});

test('a --max-minutes run plans its steps, records the plan and ends at --min-lr on its last step, within the budget', async () => {
  await useBackend('cpu');
  const cfg = cfgOf();
  const store = new MemoryRunStore();
  const io = fakeClockIO(store);
  const result = await train(cfg, io);
  const [plan] = plansOf(store);
  assert.ok(plan !== undefined, 'metrics hold the plan');
  assert.equal(plan.step, planningSteps(cfg.warmup));
  assert.ok(plan.planned_steps > 20 && plan.planned_steps < 30, `planned ${plan.planned_steps} steps of 1 s in 30 s`);
  assert.equal(plan.step_ms, BATCH_MS);
  const steps = stepsOf(store);
  assert.equal(result.steps, plan.planned_steps, 'the run made exactly the planned steps');
  assert.equal(steps.length, plan.planned_steps);
  assert.equal(steps.at(-1)!.lr, cfg.minLr, 'the last step is at --min-lr');
  assert.equal(Math.max(...steps.map((s) => s.lr)), cfg.lr, 'the warmup reaches --lr');
  // before the plan, the warmup of --warmup; from it on, the plan's
  const planned = { steps: plan.planned_steps, warmup: plan.warmup, stepMs: plan.step_ms };
  steps.forEach((s) => assert.equal(s.lr, scheduledLr(cfg, s.step < plan.step ? null : planned, s.step), `step ${s.step}`));
  assert.ok(io.now!() <= 30_000, `ended at ${io.now!()} ms of 30 000`);
  assert.deepEqual(store.checkpoint!.state.plan, { steps: plan.planned_steps, warmup: plan.warmup, stepMs: plan.step_ms, revised: false }, 'the checkpoint records the plan');
});

test('a budgeted run that evaluates plans again after its first evaluation (its cost now measured) and uses its budget', async () => {
  await useBackend('cpu');
  // evaluations cost nothing on the fake clock; the first plan counts 6 s for each (a training batch a batch, and the sample)
  const cfg = cfgOf({ maxMinutes: 1, evalEvery: 10, evalBatches: 5, samplePrompt: 'a' });
  const store = new MemoryRunStore();
  const io = fakeClockIO(store);
  const result = await train(cfg, io);
  const [first, revised, ...more] = plansOf(store);
  assert.equal(more.length, 0, 'revised once');
  assert.equal(revised.step, 10, 'after the first evaluation');
  assert.ok(revised.planned_steps > first.planned_steps + 10, `revised ${first.planned_steps} → ${revised.planned_steps} steps`);
  assert.equal(revised.warmup, first.warmup, 'the warmup stays');
  const steps = stepsOf(store);
  assert.equal(result.steps, revised.planned_steps, 'the run made exactly the revised steps');
  assert.equal(steps.at(-1)!.lr, cfg.minLr, 'the last step is at --min-lr');
  const plans = [first, revised].map((p) => ({ steps: p.planned_steps, warmup: p.warmup, stepMs: p.step_ms }));
  steps.forEach((s) => assert.equal(s.lr, scheduledLr(cfg, s.step < first.step ? null : plans[s.step < revised.step ? 0 : 1], s.step), `step ${s.step}`));
  // the rest: the plan's 3% margin, and the ending's plot and saves, which the fake clock does not charge
  assert.ok(io.now!() >= 0.9 * 60_000 && io.now!() <= 60_000, `ended at ${io.now!()} ms of 60 000 (the first plan: ${first.planned_steps} steps)`);
  assert.equal(store.checkpoint!.state.plan!.revised, true);

  // stopped after the revision and resumed: the revised plan is kept, not made a third time
  const stopped = new MemoryRunStore();
  await assert.rejects(train(cfg, fakeClockIO(stopped, 15)), (err) => err instanceof TrainingStopped);
  await train({ ...cfg, resume: true }, fakeClockIO(stopped));
  assert.deepEqual(plansOf(stopped), plansOf(store));
  assert.deepEqual(stepsOf(stopped).map((s) => s.loss), steps.map((s) => s.loss));
});

test('TimeBudget.keepUp: a plan whose steps no longer fit is shortened from the progress reached, the lr goes on without a jump; on a steady machine the plan is kept; on a faster one it is lengthened', async () => {
  const clock = { t: 0 };
  const cfg = { maxMinutes: 1, evalEvery: 0, saveEvery: 0, evalBatches: 1, gradAccum: 1, samplePrompt: '', warmup: 5 };
  const budget = new TimeBudget(cfg, 1000, () => clock.t, 0);
  for (let i = 0; i < 21; i++) await budget.time('step', async () => void (clock.t += 500));
  const plan = budget.plan(21, 1_000_000);
  assert.equal(budget.keepUp(plan, 21, 1_000_000), plan, 'on its speed, the plan is kept');
  for (let i = 0; i < 20; i++) await budget.time('step', async () => void (clock.t += 1000)); // twice as slow since
  const next = budget.keepUp(plan, 41, 1_000_000);
  assert.ok(next.steps < plan.steps, `shortened: ${plan.steps} → ${next.steps}`);
  assert.equal(next.warmup, plan.warmup);
  assert.equal(next.stepMs, 1000);
  assert.deepEqual(next.from, { step: 41, progress: cosineProgress(plan, 41) });
  const lrCfg = cfgOf({ warmup: plan.warmup });
  assert.ok(Math.abs(scheduledLr(lrCfg, next, 41) - scheduledLr(lrCfg, plan, 41)) < 1e-15, "the lr at the re-plan is the old plan's");
  assert.equal(scheduledLr(lrCfg, next, next.steps - 1), lrCfg.minLr, '--min-lr at the new last step');
  const lrs = Array.from({ length: next.steps - 41 }, (_, i) => scheduledLr(lrCfg, next, 41 + i));
  lrs.forEach((lr, i) => i > 0 && assert.ok(lr <= lrs[i - 1], `the lr only decays: step ${41 + i}`));
  // back at 500 ms a step: the 1000 ms plan is lengthened, from the progress it had reached
  for (let i = 0; i < 20; i++) await budget.time('step', async () => void (clock.t += 500));
  const again = budget.keepUp(next, 61, 1_000_000);
  assert.ok(again.steps > next.steps, `lengthened: ${next.steps} → ${again.steps}`);
  assert.deepEqual(again.from, { step: 61, progress: cosineProgress(next, 61) });
  assert.equal(budget.keepUp(again, 61, 1_000_000), again, 'at the speed it counted on, kept');
});

test('a budgeted run on a machine that slows down re-plans at its next evaluation and still ends at --min-lr, within the budget; resumed, it replays the same learning rates', async () => {
  await useBackend('cpu');
  // 1 s a batch, then 1.5 s from batch 30 on: the plan made at step 10 no longer fits by step 40
  const slowing = (batch: number) => (batch < 30 ? BATCH_MS : 1.5 * BATCH_MS);
  const cfg = cfgOf({ maxMinutes: 1, evalEvery: 10, evalBatches: 1 });
  const store = new MemoryRunStore();
  const io = fakeClockIO(store, null, slowing);
  const result = await train(cfg, io);
  const [first, revised, caughtUp, ...more] = plansOf(store);
  assert.equal(revised.step, 10, 'the first evaluation re-plans');
  assert.ok(caughtUp !== undefined && caughtUp.step > 30, `a later evaluation re-plans (plans: ${JSON.stringify(plansOf(store))})`);
  assert.ok(caughtUp.planned_steps < revised.planned_steps, `shortened: ${revised.planned_steps} → ${caughtUp.planned_steps}`);
  assert.ok(caughtUp.from_progress! > 0 && caughtUp.from_progress! < 1);
  assert.equal(more.length, 0);
  const steps = stepsOf(store);
  assert.equal(result.steps, caughtUp.planned_steps, 'the run made exactly the new plan\'s steps');
  assert.equal(steps.at(-1)!.lr, cfg.minLr, 'the last step is at --min-lr');
  assert.ok(io.now!() <= 60_000, `ended at ${io.now!()} ms of 60 000`);
  // every lr is the schedule of the plan in force; at the re-plan the lr goes on from where it was
  const planOf = (p: PlanMetrics) => ({ steps: p.planned_steps, warmup: p.warmup, stepMs: p.step_ms, ...(p.from_progress !== undefined && { from: { step: p.step, progress: p.from_progress } }) });
  const inForce = (step: number) => [first, revised, caughtUp].filter((p) => p.step <= step).at(-1);
  steps.forEach((s) => assert.equal(s.lr, scheduledLr(cfg, s.step < first.step ? null : planOf(inForce(s.step)!), s.step), `step ${s.step}`));
  const atReplan = steps.findIndex((s) => s.step === caughtUp.step);
  assert.ok(Math.abs(steps[atReplan].lr - scheduledLr(cfg, planOf(revised), caughtUp.step)) < 1e-12, 'no jump at the re-plan');

  // stopped after the re-plan and resumed at the same speed: the same plans, lrs and losses
  const stopped = new MemoryRunStore();
  await assert.rejects(train(cfg, fakeClockIO(stopped, caughtUp.step + 3, slowing)), (err) => err instanceof TrainingStopped);
  assert.deepEqual(stopped.checkpoint!.state.plan!.from, { step: caughtUp.step, progress: caughtUp.from_progress });
  await train({ ...cfg, resume: true }, fakeClockIO(stopped, null, () => 1.5 * BATCH_MS));
  assert.deepEqual(plansOf(stopped), plansOf(store));
  assert.deepEqual(stepsOf(stopped).map((s) => s.lr), steps.map((s) => s.lr));
  assert.deepEqual(stepsOf(stopped).map((s) => s.loss), steps.map((s) => s.loss));
  // a state.json whose plan's `from` is not a step and a progress in [0, 1] is refused in one line
  const state = stopped.checkpoint!.state;
  for (const from of [{ step: 40, progress: 2 }, { step: -1, progress: 0.5 }, { progress: 0.5 }, 'x']) {
    const text = JSON.stringify({ ...state, plan: { ...state.plan, from } });
    assert.throws(() => parseTrainingState(text, 'state.json'), (err: Error) => err.message.startsWith("--resume: state.json is not a tsgrad training state ('plan' is ") && !err.message.includes('\n'), JSON.stringify(from));
  }
});

test('a budgeted run on a machine that speeds up re-plans at its next evaluation, uses its budget and ends at --min-lr', async () => {
  await useBackend('cpu');
  // 2 s a batch, then 1 s from batch 15 on: the plan made at step 10 would end the run ~20 s early
  const io = fakeClockIO(new MemoryRunStore(), null, (batch) => (batch < 15 ? 2 * BATCH_MS : BATCH_MS));
  const store = io.store as MemoryRunStore;
  const cfg = cfgOf({ maxMinutes: 1.5, evalEvery: 10, evalBatches: 1 });
  const result = await train(cfg, io);
  const [, revised, faster, ...more] = plansOf(store);
  assert.ok(faster !== undefined && faster.planned_steps > revised.planned_steps, `lengthened (plans: ${JSON.stringify(plansOf(store))})`);
  assert.ok(faster.step_ms < revised.step_ms);
  assert.equal(result.steps, (more.at(-1) ?? faster).planned_steps);
  assert.equal(stepsOf(store).at(-1)!.lr, cfg.minLr, 'the last step is at --min-lr');
  assert.ok(io.now!() >= 0.9 * 90_000 && io.now!() <= 90_000, `ended at ${io.now!()} ms of 90 000`);
});

test('a run whose first steps are slow (kernels compiling, the pool filling) plans on its steady speed and uses its budget', async () => {
  await useBackend('cpu');
  const store = new MemoryRunStore();
  const io = fakeClockIO(store, null, (batch) => (batch < 8 ? 3 * BATCH_MS : BATCH_MS));
  const result = await train(cfgOf({ warmup: 40, maxMinutes: 2 }), io);
  const [plan] = plansOf(store);
  assert.equal(plan.step_ms, BATCH_MS, 'planned on the steady step time');
  assert.equal(result.steps, plan.planned_steps);
  assert.ok(io.now!() > 0.9 * 120_000 && io.now!() <= 120_000, `ended at ${io.now!()} ms of 120 000`);
});

test('the plan never exceeds --steps', async () => {
  await useBackend('cpu');
  const store = new MemoryRunStore();
  await train(cfgOf({ steps: 12 }), fakeClockIO(store));
  assert.equal(plansOf(store)[0].planned_steps, 12);
  assert.equal(stepsOf(store).length, 12);
  assert.equal(stepsOf(store).at(-1)!.lr, 3e-4);
});

test('a budgeted run stopped after its plan and resumed replays the same learning rates and losses, and keeps the plan', async () => {
  await useBackend('cpu');
  const whole = new MemoryRunStore();
  await train(cfgOf(), fakeClockIO(whole));

  const store = new MemoryRunStore();
  await assert.rejects(train(cfgOf(), fakeClockIO(store, 12)), (err) => err instanceof TrainingStopped && /stopped by test at step 12/.test(err.message));
  assert.equal(store.checkpoint!.state.step, 12);
  // the resumed process measures its own speed (a slower machine here) but keeps the plan
  const resumed = fakeClockIO(store);
  await train(cfgOf({ resume: true, maxMinutes: 0.6 }), resumed);
  assert.deepEqual(plansOf(store), plansOf(whole));
  const [a, b] = [stepsOf(whole), stepsOf(store)];
  assert.deepEqual(b.map((s) => s.lr), a.map((s) => s.lr));
  assert.deepEqual(b.map((s) => s.loss), a.map((s) => s.loss));
  await assert.rejects(train(cfgOf({ resume: true }), fakeClockIO(store)), /is complete: it planned \d+ steps for its --max-minutes and made them/);
});

test('--preset tinystories takes the settings of its --max-minutes tier; flags and a named --model win over the tier', () => {
  const tier = (minutes: number) => BUDGET_TIERS.tinystories.find((t) => minutes <= t.upTo)!.settings;
  const short = parseTrainCommand(TRAIN_COMMAND, ['--preset', 'tinystories', '--max-minutes', '10']).cfg;
  for (const [k, v] of Object.entries(tier(10))) assert.equal(short[k as keyof TrainConfig], v, k);
  const long = parseTrainCommand(TRAIN_COMMAND, ['--preset', 'tinystories', '--max-minutes', '60']).cfg;
  for (const [k, v] of Object.entries(tier(60))) assert.equal(long[k as keyof TrainConfig], v, k);
  assert.notDeepEqual(tier(10), tier(60));
  assert.equal(short.headVocab, 'data');
  const untimed = parseTrainCommand(TRAIN_COMMAND, ['--preset', 'tinystories']).cfg;
  assert.equal(untimed.nLayer, null, 'no budget: the preset as it is');
  assert.equal(untimed.steps, TRAIN_PRESETS.tinystories.steps);
  const flagged = parseTrainCommand(TRAIN_COMMAND, ['--preset', 'tinystories', '--max-minutes', '10', '--lr', '1e-3', '--ctx', '128']).cfg;
  assert.equal(flagged.lr, 1e-3);
  assert.equal(flagged.ctx, 128);
  const named = parseTrainCommand(TRAIN_COMMAND, ['--preset', 'tinystories', '--max-minutes', '10', '--model', 'overfit']).cfg;
  assert.equal(named.nLayer, null, 'a named --model keeps its shape');
  assert.equal(named.ctx, tier(10).ctx);
});
