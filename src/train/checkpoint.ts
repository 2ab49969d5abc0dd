// Training checkpoints: everything needed to continue a run exactly where it stopped, and the
// checks before a run starts. A checkpoint is a TrainingState (step, RNG states, data position,
// best validation loss, the resolved training config), the weights, and the optimizer's state
// (AdamW moments m.<param> and v.<param>, or SGD momentum.<param>); a RunStore (./io.ts) keeps
// it, e.g. as out/checkpoint/ (./run_dir.node.ts).
// Promise: a run writes over nothing it should not: a fresh run refuses a store holding another
// run's outputs (unless --overwrite), and --resume refuses a checkpoint that is not a tsgrad
// training state or was made with settings that shape the math differently; each refusal is
// one line. A resumed run logs the same losses as an uninterrupted one, step for step.
import type { Rng } from '../autograd/random.ts';
import type { Tensor } from '../autograd/tensor.ts';
import { AdamW } from '../nn/optim/adamw.ts';
import { SGD } from '../nn/optim/sgd.ts';
import type { Optimizer } from '../nn/optim/optimizer.ts';
import type { GPT2Model } from '../gpt2/model.ts';
import type { DataLoaderState } from '../data/loader.ts';
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
  config: TrainConfig;
}

const isInt = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
const isRngState = (v: unknown) => Array.isArray(v) && v.length === 4 && v.every((x) => Number.isInteger(x));
const STATE_FIELDS: Record<keyof TrainingState, (v: unknown) => boolean> = {
  version: (v) => v === VERSION,
  step: isInt,
  best_val_loss: (v) => v === null || Number.isFinite(v),
  model_rng: isRngState,
  batch_rng: isRngState,
  data: (v) => v === null || isObject(v),
  optimizer_step: isInt,
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
  if (saved.state.step >= cfg.steps) throw new Error(`--resume: the checkpoint is already at step ${saved.state.step}; pass --steps above ${saved.state.step} to train further`);
  return saved;
}

function paramNames(model: GPT2Model): Map<Tensor, string> {
  return new Map(model.namedParameters().map(([name, p]) => [p, name]));
}

/** The run as it stands after `step` steps, for store.saveCheckpoint. */
export async function makeCheckpoint(cfg: TrainConfig, step: number, model: GPT2Model, optimizer: Optimizer, data: BatchSource, batchRng: Rng, bestValLoss: number | null): Promise<Checkpoint> {
  const names = paramNames(model);
  const tensors: NamedArray[] = [];
  let optimizerStep = 0;
  if (optimizer instanceof AdamW) {
    const sd = await optimizer.stateDict();
    optimizerStep = sd.step;
    optimizer.params().forEach((p, i) => {
      tensors.push({ name: `m.${names.get(p)}`, shape: p.shape, data: sd.m[i] });
      tensors.push({ name: `v.${names.get(p)}`, shape: p.shape, data: sd.v[i] });
    });
  } else if (optimizer instanceof SGD) {
    const buffers = await optimizer.stateDict();
    optimizer.params().forEach((p, i) => {
      const b = buffers[i];
      if (b !== null) tensors.push({ name: `momentum.${names.get(p)}`, shape: p.shape, data: b });
    });
  }
  const state: TrainingState = {
    version: VERSION,
    step,
    best_val_loss: bestValLoss,
    model_rng: model.rng.getState(),
    batch_rng: batchRng.getState(),
    data: data.state(),
    optimizer_step: optimizerStep,
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
): Promise<{ step: number; bestValLoss: number | null }> {
  const { state } = saved;
  await saved.loadWeights(model);
  const tensors = await saved.optimizer();
  const names = paramNames(model);
  const moment = (kind: string, p: Tensor) => {
    const t = tensors.get(`${kind}.${names.get(p)}`);
    if (t === undefined) throw new Error(`--resume: the optimizer state in ${saved.where} lacks ${kind}.${names.get(p)}`);
    return t;
  };
  if (optimizer instanceof AdamW) {
    const params = optimizer.params();
    optimizer.loadStateDict({ step: state.optimizer_step, m: params.map((p) => moment('m', p)), v: params.map((p) => moment('v', p)) });
  } else if (optimizer instanceof SGD) {
    optimizer.loadStateDict(optimizer.params().map((p) => (tensors.has(`momentum.${names.get(p)}`) ? moment('momentum', p) : null)));
  }
  model.rng.setState(state.model_rng);
  batchRng.setState(state.batch_rng);
  data.loadState(state.data);
  return { step: state.step, bestValLoss: state.best_val_loss };
}
