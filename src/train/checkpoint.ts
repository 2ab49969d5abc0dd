// Training checkpoints: everything needed to continue a run exactly where it stopped, and the
// checks before a run starts. A checkpoint is a TrainingState (step, RNG states, data position,
// best validation loss, the schedule's plan of a budgeted run, the ids a compact head keeps, the
// resolved training config), the weights, and the optimizer's state
// (AdamW moments m.<param> and v.<param>, SGD momentum.<param>, or with Muon both: its matrices'
// momentum.<param> and AdamW's moments of the rest); a RunStore (./io.ts) keeps
// it, e.g. as out/checkpoint/ (./run_dir.node.ts).
// Promise: a run writes over nothing it should not: a fresh run refuses a store holding another
// run's outputs (unless --overwrite), and --resume refuses a checkpoint that is not a tsgrad
// training state or was made with settings that shape the math differently; each refusal is
// one line. A resumed run logs the same losses as an uninterrupted one, step for step.
import type { Rng } from '../autograd/random.ts';
import type { Tensor } from '../autograd/tensor.ts';
import { AdamW } from '../nn/optim/adamw.ts';
import { SGD } from '../nn/optim/sgd.ts';
import { Muon } from '../nn/optim/muon.ts';
import type { Optimizer } from '../nn/optim/optimizer.ts';
import type { GPT2Model } from '../gpt2/model.ts';
import type { DataLoaderState } from '../data/loader.ts';
import type { SchedulePlan } from './budget.ts';
import { recordedSetting, RESUME_KEYS, type TrainConfig } from './config.ts';
import type { BatchSource, Checkpoint, NamedArray, RunStore, SavedCheckpoint } from './io.ts';

const VERSION = 1;

/** state.json: where the run stood. */
export interface TrainingState {
  version: number;
  step: number;
  best_val_loss: number | null;
  model_rng: number[];
  batch_rng: number[];
  data: DataLoaderState | null;
  optimizer_step: number;
  /** A budgeted run's plan (./budget.ts) once made: a resumed run keeps it; null before, or without --max-minutes. */
  plan: SchedulePlan | null;
  /** The ids the model's compact head keeps (--head-vocab data), ascending; null for the full vocabulary. */
  head_ids: number[] | null;
  config: TrainConfig;
}

const isInt = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
const isRngState = (v: unknown) => Array.isArray(v) && v.length === 4 && v.every((x) => Number.isInteger(x));
const isFrom = (v: unknown) => v === undefined || (isObject(v) && isInt((v as { step: number }).step) && (v as { progress: number }).progress >= 0 && (v as { progress: number }).progress <= 1);
const isPlan = (v: unknown) => isObject(v) && isInt((v as SchedulePlan).steps) && isInt((v as SchedulePlan).warmup) && Number.isFinite((v as SchedulePlan).stepMs) && isFrom((v as SchedulePlan).from);
const isIdList = (v: unknown) => Array.isArray(v) && v.every((id, i) => isInt(id) && (i === 0 || id > v[i - 1]));
/** Fields a checkpoint written before they existed lacks: read as null. */
const OPTIONAL_FIELDS = ['plan', 'head_ids'];
const STATE_FIELDS: Record<keyof TrainingState, (v: unknown) => boolean> = {
  version: (v) => v === VERSION,
  step: isInt,
  best_val_loss: (v) => v === null || Number.isFinite(v),
  model_rng: isRngState,
  batch_rng: isRngState,
  data: (v) => v === null || isObject(v),
  optimizer_step: isInt,
  plan: (v) => v === null || isPlan(v),
  head_ids: (v) => v === null || isIdList(v),
  config: isObject,
};

/** A state.json text, checked field by field; every problem is one line naming `path`. */
export function parseTrainingState(text: string, path: string): TrainingState {
  let state: Record<string, unknown>;
  try {
    state = JSON.parse(text);
  } catch (err) {
    throw new Error(`--resume: ${path} is not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(state)) throw new Error(`--resume: ${path} is not a tsgrad training state (not a JSON object)`);
  if (state.version !== VERSION) throw new Error(`--resume: ${path} is checkpoint format ${JSON.stringify(state.version)}, this tsgrad reads ${VERSION}`);
  for (const field of OPTIONAL_FIELDS) state[field] ??= null;
  for (const [field, ok] of Object.entries(STATE_FIELDS)) {
    if (!ok(state[field])) throw new Error(`--resume: ${path} is not a tsgrad training state ('${field}' is ${JSON.stringify(state[field]) ?? 'missing'})`);
  }
  return state as unknown as TrainingState;
}

/**
 * What the store allows cfg to do: with --resume the checkpoint to continue from (or an error
 * saying why there is none), otherwise null once it is clear the run writes over nothing it
 * should not. Reads and writes nothing else, so commands call it before any slow preparation.
 */
export async function checkRun(cfg: TrainConfig, store: RunStore): Promise<SavedCheckpoint | null> {
  if (!cfg.resume) {
    const found = await store.outputs();
    if (found.length > 0 && !cfg.overwrite) {
      throw new Error(`${store.name} already holds a training run (${found.join(', ')}); pass --resume to continue it, --overwrite to start over, or another --out`);
    }
    return null;
  }
  const saved = await store.latestCheckpoint();
  if (saved === null) throw new Error(`--resume: no checkpoint in ${store.name} (expected ${store.checkpointName})`);
  const was = (k: (typeof RESUME_KEYS)[number]) => JSON.stringify(recordedSetting(saved.state.config, k));
  const differs = RESUME_KEYS.filter((k) => was(k) !== JSON.stringify(cfg[k] ?? null));
  if (differs.length > 0) {
    const detail = differs.map((k) => `${k} ${was(k)} → ${JSON.stringify(cfg[k] ?? null)}`).join(', ');
    throw new Error(`--resume: the checkpoint in ${saved.where} was trained with different settings (${detail}); use the same flags or another --out`);
  }
  const { plan, step } = saved.state;
  if (plan !== null && step >= plan.steps) throw new Error(`--resume: the run in ${saved.where} is complete: it planned ${plan.steps} steps for its --max-minutes and made them`);
  if (step >= cfg.steps) throw new Error(`--resume: the checkpoint is already at step ${step}; pass --steps above ${step} to train further`);
  return saved;
}

function paramNames(model: GPT2Model): Map<Tensor, string> {
  return new Map(model.namedParameters().map(([name, p]) => [p, name]));
}

/** Where a run stands beyond its weights, optimizer, RNGs and data: what a resume continues with. */
export interface RunState {
  step: number;
  bestValLoss: number | null;
  plan: SchedulePlan | null;
}

/** The run as it stands after `run.step` steps, for store.saveCheckpoint. */
export async function makeCheckpoint(cfg: TrainConfig, run: RunState, model: GPT2Model, optimizer: Optimizer, data: BatchSource, batchRng: Rng): Promise<Checkpoint> {
  const names = paramNames(model);
  const tensors: NamedArray[] = [];
  let optimizerStep = 0;
  const adamw = optimizer instanceof Muon ? optimizer.adamw : optimizer;
  if (adamw instanceof AdamW) {
    const sd = await adamw.stateDict();
    optimizerStep = sd.step;
    adamw.params().forEach((p, i) => {
      tensors.push({ name: `m.${names.get(p)}`, shape: p.shape, data: sd.m[i] });
      tensors.push({ name: `v.${names.get(p)}`, shape: p.shape, data: sd.v[i] });
    });
  }
  if (optimizer instanceof Muon || optimizer instanceof SGD) {
    const buffers = await optimizer.stateDict(); // one per matrix (Muon) or parameter (SGD)
    (optimizer instanceof Muon ? optimizer.matrixParams() : optimizer.params()).forEach((p, i) => {
      const b = buffers[i];
      if (b !== null) tensors.push({ name: `momentum.${names.get(p)}`, shape: p.shape, data: b });
    });
  }
  const state: TrainingState = {
    version: VERSION,
    step: run.step,
    best_val_loss: run.bestValLoss,
    model_rng: model.rng.getState(),
    batch_rng: batchRng.getState(),
    data: data.state(),
    optimizer_step: optimizerStep,
    plan: run.plan,
    head_ids: model.cfg.head_ids === undefined ? null : [...model.cfg.head_ids],
    config: cfg,
  };
  return { state, model, optimizer: tensors };
}

/** Restores weights, optimizer, RNGs and data position from a checkpoint; returns where the run stood. */
export async function restoreCheckpoint(
  saved: SavedCheckpoint,
  model: GPT2Model,
  optimizer: Optimizer,
  data: BatchSource,
  batchRng: Rng,
): Promise<RunState> {
  const { state } = saved;
  await saved.loadWeights(model);
  const tensors = await saved.optimizer();
  const names = paramNames(model);
  const moment = (kind: string, p: Tensor) => {
    const t = tensors.get(`${kind}.${names.get(p)}`);
    if (t === undefined) throw new Error(`--resume: the optimizer state in ${saved.where} lacks ${kind}.${names.get(p)}`);
    return t;
  };
  const adamw = optimizer instanceof Muon ? optimizer.adamw : optimizer;
  if (adamw instanceof AdamW) {
    const params = adamw.params();
    adamw.loadStateDict({ step: state.optimizer_step, m: params.map((p) => moment('m', p)), v: params.map((p) => moment('v', p)) });
  }
  const momenta = (params: Tensor[]) => params.map((p) => (tensors.has(`momentum.${names.get(p)}`) ? moment('momentum', p) : null));
  if (optimizer instanceof Muon) optimizer.loadStateDict(momenta(optimizer.matrixParams()));
  else if (optimizer instanceof SGD) optimizer.loadStateDict(momenta(optimizer.params()));
  model.rng.setState(state.model_rng);
  batchRng.setState(state.batch_rng);
  data.loadState(state.data);
  return { step: state.step, bestValLoss: state.best_val_loss, plan: state.plan };
}
