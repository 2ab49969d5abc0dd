// The training loop: one loop for every preset (the seed's overfit loop, TinyStories, GPT-2).
// Each step: lr from the schedule → gradAccum micro-batches of forward + backward →
// global-norm clip → optimizer step → log. Every evalEvery steps: validation loss, a sample,
// best/ when it improves. checkpoint/ holds everything a resume needs, so a resumed run logs
// the same losses as an uninterrupted one, step for step; it is saved at every evaluation,
// every saveEvery steps, on SIGINT/SIGTERM (after the step under way) and at the end, after
// final/ and loss.svg (so a checkpoint at the last step means the run is complete).
// Promise: a NaN/Inf loss stops the run before the update, a NaN/Inf validation loss stops it
// too, and weights that are not finite are never written; each stop names the step and says
// truly which checkpoint is on disk.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../autograd/random.ts';
import type { Tensor } from '../autograd/tensor.ts';
import { AdamW } from '../nn/optim/adamw.ts';
import { SGD } from '../nn/optim/sgd.ts';
import { clipGradNorm, globalNorm, gradNorm } from '../nn/optim/clip.ts';
import { learningRate } from '../nn/optim/schedule.ts';
import { stateTensors, type Optimizer } from '../nn/optim/optimizer.ts';
import { GPT2Model } from '../gpt2/model.ts';
import { generate } from '../gpt2/generate.ts';
import { decode, encodeOrdinary } from '../data/tokenizer.ts';
import type { TrainConfig } from './config.ts';
import { openBatches, type BatchSource } from './batches.ts';
import { buildModel } from './model_init.ts';
import { loadTrainingCheckpoint, saveTrainingCheckpoint, saveBest, saveFinal } from './checkpoint.ts';
import { checkOut, clearOutputs } from './run_dir.ts';
import { watchStopSignals, type StopSignals } from './stop_signals.ts';
import { TimeBudget } from './budget.ts';
import { MetricsLog, type StepMetrics } from './metrics.ts';
import { startTrainProgress } from './progress.ts';
import { meanLoss } from './evaluate.ts';
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

export interface TrainIO {
  /** Human-readable lines (progress, summaries). */
  log: (line: string) => void;
  /** The clock --max-minutes is kept on, in ms (default performance.now). */
  now?: () => number;
}

/** Parameters that get weight decay: matrices and embeddings (≥ 2 dims), never biases or LayerNorm. */
export function decayGroups(model: GPT2Model): { decay: Tensor[]; noDecay: Tensor[] } {
  const params = model.parameters();
  return { decay: params.filter((p) => p.ndim >= 2), noDecay: params.filter((p) => p.ndim < 2) };
}

function makeOptimizer(cfg: TrainConfig, model: GPT2Model): Optimizer {
  if (cfg.optimizer === 'sgd') return new SGD(model.parameters(), { lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay });
  const { decay, noDecay } = decayGroups(model);
  return new AdamW(
    [
      { params: decay, weightDecay: cfg.weightDecay },
      { params: noDecay, weightDecay: 0 },
    ],
    { lr: cfg.lr, betas: [cfg.beta1, cfg.beta2], eps: cfg.eps },
  );
}

/** Mean loss over the first `evalBatches` validation batches, or null without a validation set. */
export async function evaluate(model: GPT2Model, data: BatchSource, cfg: TrainConfig): Promise<number | null> {
  const batches = data.evalBatches(cfg.batchSize, cfg.evalBatches);
  return batches === null ? null : (await meanLoss(model, batches, cfg.ctx)).loss;
}

/** A short story from the model, to watch it learn (the seed's evaluate decoded logits as tokens; this samples). */
async function sample(model: GPT2Model, cfg: TrainConfig): Promise<string> {
  model.eval();
  const prompt = encodeOrdinary(cfg.samplePrompt);
  const ids = await generate(model, prompt, { maxNewTokens: cfg.sampleTokens, temperature: 0.8, topK: 40, seed: cfg.seed, stopAtEot: true });
  model.train();
  return decode([...prompt, ...ids]);
}

export async function train(cfg: TrainConfig, io: TrainIO): Promise<TrainResult> {
  // --max-minutes counts from the call, model loading included
  const now = io.now ?? (() => performance.now());
  const runStart = now();
  const stop = watchStopSignals();
  try {
    return await run(cfg, io, stop, now, runStart);
  } finally {
    stop.release();
  }
}

async function run(cfg: TrainConfig, io: TrainIO, stop: StopSignals, now: () => number, runStart: number): Promise<TrainResult> {
  // ---- everything that can fail on bad input happens before anything is written ----
  const resumeState = checkOut(cfg);
  const data = openBatches(cfg);
  const model = await buildModel(cfg);
  if (cfg.ctx > model.cfg.n_ctx) throw new TrainingStopped(`--ctx ${cfg.ctx} exceeds the model's n_ctx ${model.cfg.n_ctx}`);
  const optimizer = makeOptimizer(cfg, model);
  const params = model.parameters();
  const backend = params[0].backend;
  const batchRng = new Rng(cfg.seed); // the overfit loop's random windows
  let step = 0;
  let bestValLoss: number | null = null;
  if (resumeState !== null) {
    const restored = await loadTrainingCheckpoint(resumeState, model, optimizer, data, batchRng);
    step = restored.step;
    bestValLoss = restored.bestValLoss;
    io.log(`resuming from ${resumeState.dir} at step ${step}`);
  } else if (cfg.overwrite) {
    clearOutputs(cfg.out);
  }
  mkdirSync(cfg.out, { recursive: true });
  const metrics = new MetricsLog(cfg.out, step);
  // the checkpoint on disk, for messages that say what a stop leaves
  let saved = resumeState === null ? null : { step, dir: resumeState.dir };
  const onDisk = () => (saved === null ? `no checkpoint was saved in ${cfg.out}` : `the last checkpoint, at step ${saved.step}, is in ${saved.dir}`);

  const tokensPerStep = cfg.batchSize * cfg.ctx * cfg.gradAccum;
  const params0 = `${(model.numParameters() / 1e6).toFixed(2)}M parameters`;
  io.log(`training ${cfg.preset}: ${params0}, ${model.cfg.n_layers} layers, d_model ${model.cfg.d_model}, backend ${model.wte.weight.backend.name}, ${tokensPerStep} tokens/step, steps ${step} → ${cfg.steps}`);
  const progress = startTrainProgress(cfg, step, io.log);
  const start = performance.now();
  const budget = new TimeBudget(cfg, model.numParameters(), now, runStart);
  let lastLoss = NaN;
  let tokensSeen = 0;

  const stopRun = (message: string): never => {
    progress.stop();
    throw new TrainingStopped(message);
  };
  // Nothing is written from weights that are not finite (an update can overflow them; their
  // loss is only seen at the next step). Σ w² overflows float32 above a norm of ~1.8e19,
  // which no usable model reaches.
  const checkWeights = async (atStep: number) => {
    const norm = (await globalNorm(params).toArray())[0];
    if (!Number.isFinite(norm)) stopRun(`the weights at step ${atStep} (after step ${atStep - 1}'s update) are not finite (global norm ${norm} in float32); stopped without saving them; ${onDisk()}`);
  };
  const saveCheckpoint = async (atStep: number) => {
    try {
      await saveTrainingCheckpoint(cfg, atStep, model, optimizer, data, batchRng, bestValLoss);
    } catch (err) {
      stopRun(`saving the checkpoint at step ${atStep} failed: ${(err as Error).message}; ${onDisk()}`);
    }
    saved = { step: atStep, dir: join(cfg.out, 'checkpoint') };
  };

  const evaluateAndSave = async (atStep: number) => {
    const valLoss = await evaluate(model, data, cfg);
    if (valLoss === null) return;
    if (!Number.isFinite(valLoss)) stopRun(`validation loss is ${valLoss} at step ${atStep}; ${onDisk()}`);
    metrics.write({ step: atStep, val_loss: valLoss });
    let line = `step ${atStep}: val loss ${valLoss.toFixed(4)}`;
    if (bestValLoss === null || valLoss < bestValLoss) {
      bestValLoss = valLoss;
      await saveBest(model, cfg.out);
      line += ' (best, saved best/)';
    }
    progress.interrupt(line);
    if (cfg.samplePrompt !== '') progress.interrupt(`sample: ${JSON.stringify(await sample(model, cfg))}`);
  };

  stop.lastWords = () => {
    progress.stop();
    return onDisk();
  };
  stop.onFirst = (signal) => progress.interrupt(`${signal}: finishing step ${step}, then saving a checkpoint and stopping (${signal} again stops at once)`);

  model.train();
  // --profile times one step: the second of this run (the first warms the kernels up)
  const profiledStep = Math.min(step + 1, cfg.steps - 1);
  while (step < cfg.steps) {
    const stepStart = performance.now();
    const profiling = cfg.profile && step === profiledStep;
    if (profiling) profiler.start();
    const lr = learningRate(cfg.lrSchedule, step, cfg);
    optimizer.setLr(lr);

    // One step inside the backend's memory pool, where it has one (cpu): the arrays it makes
    // (activations, gradients, temporaries) are handed out again next step, so a long run
    // allocates nothing new (autograd/backends/memory.ts). Only numbers leave the step, the
    // gradients are zeroed before it ends, and the parameters and optimizer state are kept.
    const { loss, gradNormValue } = await budget.time('step', () => reuseMemory(backend, async () => {
      // forward + backward over gradAccum micro-batches; the loss is each one's mean, averaged
      let lossSum = 0;
      for (let micro = 0; micro < cfg.gradAccum; micro++) {
        const { x, y } = data.next(batchRng);
        const loss = model.loss(x, [cfg.batchSize, cfg.ctx], y); // scalar
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
    if (profiling) io.log(profiler.stop(`step ${step}`));

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
    metrics.write(m);
    progress.update(step, m);
    // a step on a CPU backend awaits only settled promises, so the event loop would never run:
    // give it a turn, to deliver SIGINT/SIGTERM (stop_signals.ts)
    await new Promise((resolve) => setImmediate(resolve));

    // what is due after this step; --max-minutes ends the run early enough to do it and the ending
    const evalDue = cfg.evalEvery > 0 && step % cfg.evalEvery === 0;
    const due = { eval: evalDue, save: evalDue || (cfg.saveEvery > 0 && step % cfg.saveEvery === 0) };
    const outOfTime = step < cfg.steps && budget.stopAfterStep(due);
    const last = step === cfg.steps || outOfTime;
    if (outOfTime) progress.interrupt(`--max-minutes ${cfg.maxMinutes}: stopping at step ${step}, leaving the time to evaluate and save`);
    const evaluating = cfg.evalEvery > 0 && (evalDue || last);
    const saving = evaluating || last || due.save || stop.signal !== null;
    if (saving) await checkWeights(step);
    if (evaluating) await budget.time('eval', () => evaluateAndSave(step));
    if (last) {
      await saveFinal(model, cfg.out);
      await metrics.plot();
    }
    if (saving) await budget.time('save', () => saveCheckpoint(step));
    if (outOfTime) break;
    if (stop.signal !== null && !last) stopRun(`stopped by ${stop.signal} at step ${step}; ${onDisk()}; continue with --resume`);
  }
  progress.stop();
  releaseMemory(backend);
  const elapsedSeconds = (performance.now() - start) / 1000;
  const result: TrainResult = { steps: step, finalLoss: lastLoss, bestValLoss, tokensPerSecond: tokensSeen / elapsedSeconds, elapsedSeconds };
  io.log(
    `done: ${step} steps, final train loss ${lastLoss.toFixed(4)}` +
      (bestValLoss !== null ? `, best val loss ${(bestValLoss as number).toFixed(4)}` : '') +
      `, ${result.tokensPerSecond.toFixed(0)} tokens/s, ${elapsedSeconds.toFixed(1)} s; outputs in ${cfg.out}/ (final/, checkpoint/, metrics.jsonl, loss.svg)`,
  );
  data.close();
  return result;
}
