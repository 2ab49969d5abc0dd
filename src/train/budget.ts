// The --max-minutes budget. After each step it decides whether the run can afford another:
// that step, the evaluation and checkpoint due now, and then the run's ending (the final
// evaluation, checkpoint/, final/ and loss.svg) must all fit before the deadline. Durations are
// the run's own, measured as it goes; those not seen yet are estimated (below).
// It also plans a budgeted run's length once a few steps are timed (plan): how many steps,
// with the evaluations and checkpoints due among them and the ending, fit in the time left, so
// the loop can lay its cosine schedule over exactly those steps and end annealed; revises that
// plan once, after the first evaluation, when what an evaluation costs is known (revise); and,
// at each later evaluation, plans again when the machine's speed has moved (keepUp): slower, so
// that the plan's steps no longer fit, or faster than the plan counted on, so that more do. The
// new plan goes on from the cosine's progress so far, so the learning rate does not jump and
// the run still ends at --min-lr, using its budget.
// Promise: every decision depends only on the clock it is given, so it is tested without waiting.
import type { TrainConfig } from './config.ts';

/** How long each part of a run takes, in ms. */
export interface Durations {
  step: number;
  /** Validation loss, best/ and the sample. */
  eval: number;
  /** checkpoint/ */
  save: number;
  /** final/ and loss.svg, after the last checkpoint. */
  finish: number;
}

/**
 * True when the run must end now: another step, plus the work due after this one, plus the
 * ending, would not fit in `msLeft`.
 */
export function mustStop(msLeft: number, d: Durations, due: { eval: boolean; save: boolean }, evaluates: boolean): boolean {
  const now = (due.eval ? d.eval : 0) + (due.save ? d.save : 0);
  const ending = (evaluates ? d.eval : 0) + d.save + d.finish;
  return msLeft < now + d.step + ending;
}

/** What is due after a step: an evaluation (with its checkpoint) every evalEvery steps, a checkpoint every saveEvery. */
export function dueAfter(stepsDone: number, cfg: Pick<TrainConfig, 'evalEvery' | 'saveEvery'>): { eval: boolean; save: boolean } {
  const evalDue = cfg.evalEvery > 0 && stepsDone % cfg.evalEvery === 0;
  return { eval: evalDue, save: evalDue || (cfg.saveEvery > 0 && stepsDone % cfg.saveEvery === 0) };
}

/**
 * How many more steps fit in `msLeft` after `stepsDone`: n steps, the work due after each of
 * the first n − 1 (the last one's is the ending's), then the ending; at most `cap`.
 */
export function stepsThatFit(msLeft: number, d: Durations, stepsDone: number, cfg: Pick<TrainConfig, 'evalEvery' | 'saveEvery'>, cap: number): number {
  const ending = (cfg.evalEvery > 0 ? d.eval : 0) + d.save + d.finish;
  let used = ending + d.step; // the first step, then the ending
  if (used > msLeft) return 0;
  let n = 1;
  while (n < cap) {
    const due = dueAfter(stepsDone + n, cfg);
    const next = used + (due.eval ? d.eval : 0) + (due.save ? d.save : 0) + d.step;
    if (next > msLeft) break;
    used = next;
    n++;
  }
  return n;
}

/** The plan of a budgeted run: the step its cosine schedule ends after, and its warmup. */
export interface SchedulePlan {
  /** Steps in the whole run: the last is step steps − 1, at --min-lr. */
  steps: number;
  /** Steps of linear warmup (--warmup, or a tenth of the plan if that is less). */
  warmup: number;
  /** The step time the plan was made with, in ms. */
  stepMs: number;
  /** false on the first plan, which the first evaluation revises (TimeBudget.revise); true on a plan made since (or absent). */
  revised?: boolean;
  /**
   * Where a plan made mid-run (TimeBudget.keepUp) takes over: at step `step` the cosine of the
   * plan before had reached `progress` (0 → 1), and this plan goes on from there to 1 at its last step.
   */
  from?: { step: number; progress: number };
}

/** How far along its cosine decay a plan is at `step`: 0 where the warmup ends, 1 at its last step (steps − 1). */
export function cosineProgress(plan: SchedulePlan, step: number): number {
  const last = plan.steps - 1;
  if (plan.from !== undefined && step >= plan.from.step) {
    const { step: s0, progress: p0 } = plan.from;
    return Math.min(1, p0 + ((1 - p0) * (step - s0)) / Math.max(1, last - s0));
  }
  return Math.min(1, Math.max(0, (step - plan.warmup) / Math.max(1, last - plan.warmup)));
}

/** The plan counts on this fraction of the time left, so a machine a little slower than measured still ends on plan. */
const PLAN_FRACTION = 0.97;
/** A plan is made again at an evaluation when the typical step has become this fraction faster than the plan counted on. */
const FASTER = 0.1;
/** A planned run warms up for at most this fraction of its steps. */
const MAX_WARMUP_FRACTION = 0.1;

/** Before the first checkpoint is timed: weights + two AdamW moments (12 B/parameter) at a slow disk's 100 MB/s. */
const WRITE_BYTES_PER_MS = 100e3;
/** loss.svg through Vega: under a second for 2,000 steps on two cores. */
const PLOT_MS = 2000;
/** Stopping counts on the longest of the last few steps (the run's first left out once there are others). */
const STEP_WINDOW = 5;
/** A plan counts on the median of the last this many steps, which a passing slowdown does not move. */
const PLAN_WINDOW = 20;

export class TimeBudget {
  private readonly deadline: number;
  private readonly steps: number[] = [];
  private stepsTimed = 0;
  private evalMs: number | null = null;
  private saveMs: number | null = null;

  constructor(
    private readonly cfg: Pick<TrainConfig, 'maxMinutes' | 'evalEvery' | 'saveEvery' | 'evalBatches' | 'gradAccum' | 'samplePrompt' | 'warmup'>,
    private readonly parameters: number,
    private readonly now: () => number,
    start: number,
  ) {
    this.deadline = cfg.maxMinutes > 0 ? start + cfg.maxMinutes * 60_000 : Infinity;
  }

  /** Runs `fn`, recording how long it took. */
  async time<T>(kind: 'step' | 'eval' | 'save', fn: () => Promise<T>): Promise<T> {
    const start = this.now();
    const result = await fn();
    const ms = this.now() - start;
    if (kind === 'step') {
      // the run's first step also warms the kernels up: it counts only until a second is timed
      if (++this.stepsTimed === 2) this.steps.length = 0;
      this.steps.push(ms);
      if (this.steps.length > PLAN_WINDOW) this.steps.shift();
    } else if (kind === 'eval') this.evalMs = Math.max(this.evalMs ?? 0, ms);
    else this.saveMs = Math.max(this.saveMs ?? 0, ms);
    return result;
  }

  /**
   * Measured durations, and estimates of those not measured yet. The step time is the longest of
   * the last few (what stopping in time must count on), or with `typical` the median of the last
   * PLAN_WINDOW (what a plan counts on: a plan a little long ends near --min-lr at the deadline,
   * one too short leaves the rest of the budget unused).
   */
  durations(typical = false): Durations {
    const recent = typical ? this.steps : this.steps.slice(-STEP_WINDOW);
    const sorted = [...recent].sort((a, b) => a - b);
    const step = sorted.length === 0 ? 0 : typical ? sorted[Math.floor(sorted.length / 2)] : sorted[sorted.length - 1];
    // an evaluation batch costs at most a training micro-batch; the sample counts as one more
    const evalEstimate = (step / this.cfg.gradAccum) * (this.cfg.evalBatches + (this.cfg.samplePrompt === '' ? 0 : 1));
    const save = this.saveMs ?? (12 * this.parameters) / WRITE_BYTES_PER_MS;
    // final/ holds the weights, a part of what checkpoint/ holds
    return { step, eval: this.evalMs ?? evalEstimate, save, finish: save + PLOT_MS };
  }

  /** After a step: true when the run must end now to finish within --max-minutes. */
  stopAfterStep(due: { eval: boolean; save: boolean }): boolean {
    if (this.deadline === Infinity) return false;
    return mustStop(this.deadline - this.now(), this.durations(), due, this.cfg.evalEvery > 0);
  }

  /**
   * The run's length from here, for a run with a deadline: after `stepsDone` steps, as many
   * steps as fit in PLAN_FRACTION of the time left at the typical step time so far, at most
   * `maxSteps` in all and at least one more.
   */
  plan(stepsDone: number, maxSteps: number): SchedulePlan {
    const d = this.durations(true);
    const msLeft = PLAN_FRACTION * (this.deadline - this.now());
    const steps = stepsDone + Math.max(1, stepsThatFit(msLeft, d, stepsDone, this.cfg, maxSteps - stepsDone));
    return { steps: Math.min(steps, maxSteps), warmup: Math.min(this.cfg.warmup, Math.floor(MAX_WARMUP_FRACTION * steps)), stepMs: d.step, revised: false };
  }

  /**
   * The plan made again after the run's first evaluation, once: the first plan could only
   * estimate what an evaluation costs (at most a training step a batch), and its steps were
   * timed while the run warmed up. The warmup stays; the cosine is laid over the new length.
   */
  revise(plan: SchedulePlan, stepsDone: number, maxSteps: number): SchedulePlan {
    const { steps, stepMs } = this.plan(stepsDone, maxSteps);
    return { steps, warmup: plan.warmup, stepMs, revised: true };
  }

  /**
   * At a later evaluation: the plan, or a plan over the steps that fit now, which goes on from
   * the cosine's progress at `stepsDone`, when the machine's speed has moved since the plan was
   * made: slower, so that fewer steps than the plan has left fit (stopping in time would end the
   * run before its last step, above --min-lr), or faster per step by at least FASTER of what the
   * plan counted on, so that more fit (the run would end with its budget unused). A steady
   * machine keeps its plan, and the plan's 3% margin for the ending.
   */
  keepUp(plan: SchedulePlan, stepsDone: number, maxSteps: number): SchedulePlan {
    const { steps, stepMs } = this.plan(stepsDone, maxSteps);
    const slower = steps < plan.steps;
    const faster = stepMs < (1 - FASTER) * plan.stepMs && steps > plan.steps;
    if (!slower && !faster) return plan;
    const from = stepsDone > plan.warmup ? { step: stepsDone, progress: cosineProgress(plan, stepsDone) } : undefined;
    return { steps, warmup: plan.warmup, stepMs, revised: true, ...(from && { from }) };
  }
}
