// The training loop: one loop for every preset (the seed's overfit loop, TinyStories, GPT-2).
// Each step: lr from the schedule → gradAccum micro-batches of model.loss + backward →
// global-norm clip → optimizer step → log. The cosine schedule decays to --min-lr at the run's
// last step: step steps − 1, or, with --max-minutes, the last step of the plan made once a few
// steps are timed (./budget.ts: as many steps as fit in the time left, at most --steps), made
// again after the first evaluation, when its cost is known, and at a later evaluation if the
// machine's speed has moved (slower: its steps no longer fit; faster: more do); each plan is
// recorded in metrics.jsonl and the checkpoint, and a resumed run keeps it. Every
// evalEvery steps: validation loss, a sample, the best weights when it improves (without
// validation data, only the sample). The checkpoint holds everything a resume needs, so a
// resumed run logs the same losses as an uninterrupted one, step for step; it is saved at
// every evaluation, every saveEvery steps, on a stop request (after the step under way) and at
// the end, after the final weights and the metrics' finish (so a checkpoint at the last step
// means the run is complete). All IO goes through `io` (./io.ts): no Node API here, so the
// same loop runs in a browser.
// Promise: a NaN/Inf loss stops the run before the update, a NaN/Inf validation loss stops it
// too, and weights that are not finite are never saved; each stop names the step and says
// truly which checkpoint is saved.
import { Rng } from '../autograd/random.ts';
import type { Tensor } from '../autograd/tensor.ts';
import { AdamW } from '../nn/optim/adamw.ts';
import { SGD } from '../nn/optim/sgd.ts';
import { Muon } from '../nn/optim/muon.ts';
import { clipGradNorm, globalNorm, gradNorm } from '../nn/optim/clip.ts';
import { learningRate } from '../nn/optim/schedule.ts';
import { stateTensors, type Optimizer } from '../nn/optim/optimizer.ts';
import { GPT2Model } from '../gpt2/model.ts';
import { generate } from '../gpt2/generate.ts';
import { decode, encodeOrdinary } from '../data/tokenizer.ts';
import { VOCAB_SIZE } from '../gpt2/config.ts';
import { freshModelConfig, type TrainConfig } from './config.ts';
import { checkRun, makeCheckpoint, restoreCheckpoint } from './checkpoint.ts';
import type { BatchSource, StopRequests, TrainIO, TrainProgress } from './io.ts';
import { cosineProgress, dueAfter, TimeBudget, type SchedulePlan } from './budget.ts';
import { formatStep, type StepMetrics } from './metrics.ts';
import { evaluate } from './evaluate.ts';
import { profiler } from '../autograd/backends/profile.ts';
import { releaseMemory, reuseMemory } from '../autograd/backends/memory.ts';

export class TrainingStopped extends Error {}

export interface TrainResult {
  steps: number;
  finalLoss: number;
  bestValLoss: number | null;
  tokensPerSecond: number;
  elapsedSeconds: number;
}

/** The progress of a run as lines: every logEvery-th step, and the run's other lines, through log. */
export function lineProgress(cfg: TrainConfig, log: (line: string) => void): TrainProgress {
  return {
    update: (_done, m) => {
      if (m.step % cfg.logEvery === 0) log(formatStep(cfg, m));
    },
    interrupt: log,
    stop: () => {},
  };
}

/**
 * The model a run starts from: a fresh GPT-2 of the shape the settings give (seeded init), its
 * head compact when headIds are given, or the `--init` weights (their own head); `--dropout`
 * applies to both.
 */
export async function buildModel(cfg: TrainConfig, loadModel?: TrainIO['loadModel'], headIds: readonly number[] | null = null): Promise<GPT2Model> {
  if (cfg.init === null) return new GPT2Model(freshModelConfig(cfg, headIds), { seed: cfg.seed });
  if (loadModel === undefined) throw new TrainingStopped(`--init ${cfg.init}: this run has no way to load weights`);
  const loaded = await loadModel(cfg.init, cfg.seed);
  if (loaded.cfg.dropout === cfg.dropout) return loaded;
  // same weights in a model whose Dropout layers use --dropout
  const model = new GPT2Model({ ...loaded.cfg, dropout: cfg.dropout }, { seed: cfg.seed });
  model.loadStateDict(loaded.stateDict());
  return model;
}

/** The ids a fresh model's compact head keeps (--head-vocab data): those of the training data; null for a row per id. */
function dataHeadIds(cfg: TrainConfig, data: BatchSource): number[] | null {
  if (cfg.headVocab === 'full' || cfg.init !== null) return null;
  if (data.vocabulary === undefined) throw new TrainingStopped("--head-vocab data: this run's data cannot list the ids it holds; use --head-vocab full");
  const ids = data.vocabulary();
  return ids.length < VOCAB_SIZE ? Array.from(ids) : null; // every id seen: the full head is that model
}

/**
 * Steps a run times before it plans its schedule from the budget: up to 20 of the warmup's
 * (their lr does not depend on the plan; the first steps run slow while the kernels compile and
 * the memory pool fills, so a plan made on them would end the run early), and at least 2.
 */
export function planningSteps(warmup: number): number {
  return Math.max(2, Math.min(warmup, 20) + 1);
}

/**
 * The learning rate of `step`: the schedule laid over the plan's steps and warmup when there is
 * one, else over cfg's. A plan made mid-run (plan.from) goes on from the progress its cosine had
 * reached: the lr is the schedule's at the step that progress stands for.
 */
export function scheduledLr(cfg: TrainConfig, plan: SchedulePlan | null, step: number): number {
  const { steps, warmup } = plan ?? cfg;
  const at = plan?.from !== undefined && step >= plan.from.step ? warmup + cosineProgress(plan, step) * (steps - 1 - warmup) : step;
  return learningRate(cfg.lrSchedule, at, { lr: cfg.lr, minLr: cfg.minLr, warmup, steps: steps - 1 }); // --min-lr at the last step
}

/** Parameters that get weight decay: matrices and embeddings (≥ 2 dims), never biases or LayerNorm; with decayAll, all. */
export function decayGroups(model: GPT2Model, decayAll: boolean): { decay: Tensor[]; noDecay: Tensor[] } {
  const params = model.parameters();
  if (decayAll) return { decay: params, noDecay: [] };
  return { decay: params.filter((p) => p.ndim >= 2), noDecay: params.filter((p) => p.ndim < 2) };
}

/** The blocks' weight matrices (attention and MLP projections): what Muon updates with --optimizer muon. */
function hiddenMatrices(model: GPT2Model): Tensor[] {
  return model.namedParameters().filter(([name, p]) => name.startsWith('h.') && p.ndim === 2).map(([, p]) => p);
}

function makeOptimizer(cfg: TrainConfig, model: GPT2Model): Optimizer {
  if (cfg.optimizer === 'sgd') return new SGD(model.parameters(), { lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay });
  const matrices = cfg.optimizer === 'muon' ? new Set(hiddenMatrices(model)) : new Set<Tensor>();
  const { decay, noDecay } = decayGroups(model, cfg.decayAll);
  const adamw = new AdamW(
    [
      { params: decay.filter((p) => !matrices.has(p)), weightDecay: cfg.weightDecay },
      { params: noDecay.filter((p) => !matrices.has(p)), weightDecay: 0 },
    ],
    { lr: cfg.lr, betas: [cfg.beta1, cfg.beta2], eps: cfg.eps },
  );
  return cfg.optimizer === 'muon' ? new Muon([...matrices], adamw, { lr: cfg.muonLr }) : adamw;
}

/** A short story from the model, to watch it learn (the seed's evaluate decoded logits as tokens; this samples). */
async function sample(model: GPT2Model, cfg: TrainConfig): Promise<string> {
  const prompt = encodeOrdinary(cfg.samplePrompt);
  const ids = await generate(model, prompt, { maxNewTokens: cfg.sampleTokens, temperature: 0.8, topK: 40, seed: cfg.seed, stopAtEot: true });
  return decode([...prompt, ...ids]);
}

export async function train(cfg: TrainConfig, io: TrainIO): Promise<TrainResult> {
  const now = io.now ?? (() => performance.now());
  const runStart = io.startedAt ?? now(); // --max-minutes counts from the start, model loading included
  const stop: StopRequests = io.stop ?? { reason: null, onFirst: null, lastWords: () => '' };
  const { store, log } = io;

  // ---- everything that can fail on bad input happens before anything is written ----
  const resume = await checkRun(cfg, store);
  const data = await io.openData(cfg);
  try {
    const model = await buildModel(cfg, io.loadModel, resume !== null ? resume.state.head_ids : dataHeadIds(cfg, data));
    if (cfg.ctx > model.cfg.n_ctx) throw new TrainingStopped(`--ctx ${cfg.ctx} exceeds the model's n_ctx ${model.cfg.n_ctx}`);
    const optimizer = makeOptimizer(cfg, model); // made here, from this model: never another's
    const params = model.parameters();
    const backend = params[0].backend;
    const batchRng = new Rng(cfg.seed); // the overfit loop's random windows
    let step = 0;
    let bestValLoss: number | null = null;
    let plan: SchedulePlan | null = null;
    if (resume !== null) {
      ({ step, bestValLoss, plan } = await restoreCheckpoint(resume, model, optimizer, data, batchRng));
      log(`resuming from ${resume.where} at step ${step}`);
    } else if (cfg.overwrite) {
      await store.clear();
    }
    const metrics = await store.openMetrics(step);
    // the checkpoint saved, for messages that say what a stop leaves
    let saved = resume === null ? null : { step, where: resume.where };
    const onDisk = () => (saved === null ? `no checkpoint was saved in ${store.name}` : `the last checkpoint, at step ${saved.step}, is in ${saved.where}`);

    const tokensPerStep = cfg.batchSize * cfg.ctx * cfg.gradAccum;
    const params0 = `${(model.numParameters() / 1e6).toFixed(2)}M parameters`;
    const head = model.vocab === null ? '' : `, head ${model.vocab.kept.length} ids of train data + other`;
    // with --max-minutes the cosine schedule is laid over the steps that fit, planned once a few are timed
    const planAt = cfg.maxMinutes > 0 && cfg.lrSchedule === 'cosine' && plan === null ? step + planningSteps(cfg.warmup) : null;
    const end = () => Math.min(cfg.steps, plan?.steps ?? Infinity);
    const steps = planAt === null ? `${end()}` : `the steps that fit in ${cfg.maxMinutes} min (at most ${cfg.steps}), planned after step ${planAt - 1}`;
    log(`training ${cfg.preset}: ${params0}, ${model.cfg.n_layers} layers, d_model ${model.cfg.d_model}${head}, backend ${model.wte.weight.backend.name}, ${tokensPerStep} tokens/step, steps ${step} → ${steps}`);
    const progress = (io.progress ?? ((c) => lineProgress(c, log)))(cfg, step);
    const start = performance.now();
    const budget = new TimeBudget(cfg, model.numParameters(), now, runStart);
    let lastLoss = NaN;
    let tokensSeen = 0;

    const stopRun = (message: string): never => {
      progress.stop();
      throw new TrainingStopped(message);
    };
    // Nothing is saved from weights that are not finite (an update can overflow them; their
    // loss is only seen at the next step). Σ w² overflows float32 above a norm of ~1.8e19,
    // which no usable model reaches.
    const checkWeights = async (atStep: number) => {
      const norm = (await globalNorm(params).toArray())[0];
      if (!Number.isFinite(norm)) stopRun(`the weights at step ${atStep} (after step ${atStep - 1}'s update) are not finite (global norm ${norm} in float32); stopped without saving them; ${onDisk()}`);
    };
    const saveCheckpoint = async (atStep: number) => {
      try {
        const where = await store.saveCheckpoint(await makeCheckpoint(cfg, { step: atStep, bestValLoss, plan }, model, optimizer, data, batchRng));
        saved = { step: atStep, where };
      } catch (err) {
        stopRun(`saving the checkpoint at step ${atStep} failed: ${(err as Error).message}; ${onDisk()}`);
      }
    };

    const showSample = async () => {
      if (cfg.samplePrompt !== '') progress.interrupt(`sample: ${JSON.stringify(await sample(model, cfg))}`);
    };
    const evaluateAndSave = async (atStep: number) => {
      const batches = data.evalBatches(cfg.batchSize, cfg.evalBatches);
      if (batches === null) return showSample(); // no validation data: only the sample
      const valLoss = (await evaluate(model, batches, cfg.ctx)).loss;
      if (!Number.isFinite(valLoss)) stopRun(`validation loss is ${valLoss} at step ${atStep}; ${onDisk()}`);
      await metrics.write({ step: atStep, val_loss: valLoss });
      let line = `step ${atStep}: val loss ${valLoss.toFixed(4)}`;
      if (bestValLoss === null || valLoss < bestValLoss) {
        bestValLoss = valLoss;
        await store.saveModel('best', model);
        line += ' (best, saved best/)';
      }
      progress.interrupt(line);
      await showSample();
    };

    stop.lastWords = () => {
      progress.stop();
      return onDisk();
    };
    stop.onFirst = (reason) => progress.interrupt(`${reason}: finishing step ${step}, then saving a checkpoint and stopping (${reason} again stops at once)`);

    model.train();
    // --profile times one step: the second of this run (the first warms the kernels up)
    const profiledStep = Math.min(step + 1, cfg.steps - 1);
    while (step < end()) {
      if (step === planAt) {
        plan = budget.plan(step, cfg.steps);
        await metrics.write({ step, planned_steps: plan.steps, warmup: plan.warmup, step_ms: plan.stepMs });
        progress.plan?.(plan.steps);
        progress.interrupt(`--max-minutes ${cfg.maxMinutes}: planned ${plan.steps} steps (${plan.stepMs.toFixed(0)} ms a step), warmup ${plan.warmup}, cosine to --min-lr ${cfg.minLr} at step ${plan.steps - 1}`);
      }
      const stepStart = performance.now();
      const profiling = cfg.profile && step === profiledStep;
      if (profiling) profiler.start();
      const lr = scheduledLr(cfg, plan, step);
      optimizer.setLr(lr);

      // One step inside the backend's memory pool, where it has one (cpu): the arrays it makes
      // (activations, gradients, temporaries) are handed out again next step, so a long run
      // allocates nothing new (autograd/backends/memory.ts). Only numbers leave the step, the
      // gradients are zeroed before it ends, and the parameters and optimizer state are kept.
      const { loss, gradNormValue } = await budget.time('step', () => reuseMemory(backend, async () => {
        // forward + backward over gradAccum micro-batches; the loss is each one's mean, averaged
        let lossSum = 0;
        for (let micro = 0; micro < cfg.gradAccum; micro++) {
          const { x, y } = await data.next(batchRng);
          const loss = model.loss(x, [cfg.batchSize, cfg.ctx], y); // []
          profiler.during('backward', () => loss.div(cfg.gradAccum).backward());
          lossSum += (await loss.toArray())[0];
        }
        const loss = lossSum / cfg.gradAccum;
        if (!Number.isFinite(loss)) stopRun(`loss is ${loss} at step ${step}; stopped before its update; ${onDisk()}`);
        const norm = cfg.gradClip > 0 ? clipGradNorm(params, cfg.gradClip) : gradNorm(params);
        const gradNormValue = (await norm.toArray())[0];
        optimizer.step();
        optimizer.zeroGrad();
        return { loss, gradNormValue };
      }, () => [...params, ...stateTensors(optimizer)]));
      if (profiling) log(profiler.stop(`step ${step}`));

      step++;
      lastLoss = loss;
      tokensSeen += tokensPerStep;
      const elapsed = (performance.now() - start) / 1000;
      const m: StepMetrics = {
        step: step - 1,
        loss,
        lr,
        grad_norm: gradNormValue,
        tokens_per_s: tokensPerStep / ((performance.now() - stepStart) / 1000),
        elapsed_s: elapsed,
      };
      await metrics.write(m);
      progress.update(step, m);
      // a step on a CPU backend awaits only settled promises, so the event loop would never
      // run: give it a turn, to deliver a stop request (Ctrl-C, a button)
      await new Promise((resolve) => setTimeout(resolve, 0));

      // what is due after this step; --max-minutes ends the run early enough to do it and the ending
      const due = dueAfter(step, cfg);
      const outOfTime = step < end() && budget.stopAfterStep(due);
      const last = step === end() || outOfTime;
      if (outOfTime) progress.interrupt(`--max-minutes ${cfg.maxMinutes}: stopping at step ${step}, leaving the time to evaluate and save`);
      const evaluating = cfg.evalEvery > 0 && (due.eval || last);
      const saving = evaluating || last || due.save || stop.reason !== null;
      if (saving) await checkWeights(step);
      if (evaluating) await budget.time('eval', () => evaluateAndSave(step));
      if (evaluating && !last && plan !== null) {
        // (before the checkpoint records the plan) the first evaluation measures what an
        // evaluation costs, which the plan estimated: plan once more; a later one plans again
        // when the machine's speed has moved, so the run still ends annealed, using its budget
        const first = plan.revised === false;
        const next = first ? budget.revise(plan, step, cfg.steps) : budget.keepUp(plan, step, cfg.steps);
        if (next !== plan) {
          const why = first ? 're-planned after the first evaluation' : `the machine is ${next.stepMs < plan.stepMs ? 'faster' : 'slower'} now: re-planned`;
          plan = next;
          await metrics.write({ step, planned_steps: plan.steps, warmup: plan.warmup, step_ms: plan.stepMs, ...(plan.from && { from_progress: plan.from.progress }) });
          progress.plan?.(plan.steps);
          progress.interrupt(`--max-minutes ${cfg.maxMinutes}: ${why}: ${plan.steps} steps (${plan.stepMs.toFixed(0)} ms a step), cosine to --min-lr ${cfg.minLr} at step ${plan.steps - 1}`);
        }
      }
      if (last) {
        await store.saveModel('final', model);
        await metrics.finish();
      }
      if (saving) await budget.time('save', () => saveCheckpoint(step));
      if (outOfTime) break;
      if (stop.reason !== null && !last) stopRun(`stopped by ${stop.reason} at step ${step}; ${onDisk()}; continue with --resume`);
    }
    progress.stop();
    releaseMemory(backend);
    const elapsedSeconds = (performance.now() - start) / 1000;
    const result: TrainResult = { steps: step, finalLoss: lastLoss, bestValLoss, tokensPerSecond: tokensSeen / elapsedSeconds, elapsedSeconds };
    log(
      `done: ${step} steps, final train loss ${lastLoss.toFixed(4)}` +
        (bestValLoss !== null ? `, best val loss ${(bestValLoss as number).toFixed(4)}` : '') +
        `, ${result.tokensPerSecond.toFixed(0)} tokens/s, ${elapsedSeconds.toFixed(1)} s; outputs in ${store.name}`,
    );
    return result;
  } finally {
    data.close();
  }
}
