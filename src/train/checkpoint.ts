// Training checkpoints: everything needed to continue a run exactly where it stopped.
//   out/checkpoint/  config.json + model.safetensors   the weights (Hugging Face layout)
//                    optimizer.safetensors             AdamW moments m.<name>, v.<name> (or SGD momentum)
//                    state.json                        step, RNG states, data position, best val loss,
//                                                      and the resolved training config
//   out/best/, out/final/                              model directories (Hugging Face layout)
// A save replaces checkpoint/ in these steps (SAVE_STEPS; each is a crash point, crash_points.ts):
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
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Rng } from '../autograd/random.ts';
import type { Tensor } from '../autograd/tensor.ts';
import { AdamW } from '../nn/optim/adamw.ts';
import { SGD } from '../nn/optim/sgd.ts';
import type { Optimizer } from '../nn/optim/optimizer.ts';
import type { GPT2Model } from '../gpt2/model.ts';
import { loadModel, readSafetensors, saveModel, syncDir, writeFileAtomic, writeSafetensors } from '../data/model_files.ts';
import type { DataLoaderState } from '../data/dataset.ts';
import { RESUME_KEYS, type TrainConfig } from './config.ts';
import type { BatchSource } from './batches.ts';
import { crashPoints } from './crash_points.ts';

const VERSION = 1;

interface TrainingState {
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

/** state.json, checked field by field; every problem is one line naming the file. */
function readState(path: string): TrainingState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`--resume: cannot read ${path} (${(err as Error).message})`);
  }
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

/** A checkpoint to resume from: its directory and state. */
export interface ResumePoint {
  dir: string;
  state: TrainingState;
}

/** The checkpoint to resume from: checkpoint/, or checkpoint.old/ when a save was killed between its renames. */
export function checkResumable(cfg: TrainConfig): ResumePoint {
  const dir = [join(cfg.out, 'checkpoint'), join(cfg.out, 'checkpoint.old')].find((d) => existsSync(d));
  if (dir === undefined) throw new Error(`--resume: no checkpoint in ${cfg.out} (expected ${join(cfg.out, 'checkpoint', 'state.json')})`);
  const state = readState(join(dir, 'state.json'));
  // a setting the checkpoint does not record (written before the setting existed) had its default, null
  const saved = (k: (typeof RESUME_KEYS)[number]) => JSON.stringify(state.config[k] ?? null);
  const differs = RESUME_KEYS.filter((k) => saved(k) !== JSON.stringify(cfg[k] ?? null));
  if (differs.length > 0) {
    const detail = differs.map((k) => `${k} ${saved(k)} → ${JSON.stringify(cfg[k] ?? null)}`).join(', ');
    throw new Error(`--resume: the checkpoint in ${dir} was trained with different settings (${detail}); use the same flags or another --out`);
  }
  if (state.step >= cfg.steps) throw new Error(`--resume: the checkpoint is already at step ${state.step}; pass --steps above ${state.step} to train further`);
  return { dir, state };
}

function paramNames(model: GPT2Model): Map<Tensor, string> {
  return new Map(model.namedParameters().map(([name, p]) => [p, name]));
}

/** Restores weights, optimizer, RNGs and data position; returns where the run stood. */
export async function loadTrainingCheckpoint(
  resume: ResumePoint,
  model: GPT2Model,
  optimizer: Optimizer,
  data: BatchSource,
  batchRng: Rng,
): Promise<{ step: number; bestValLoss: number | null }> {
  const { dir, state } = resume;
  model.loadStateDict(loadModel(dir).stateDict());
  const saved = readSafetensors(join(dir, 'optimizer.safetensors'));
  const names = paramNames(model);
  const moment = (kind: string, p: Tensor) => {
    const t = saved.get(`${kind}.${names.get(p)}`);
    if (t === undefined) throw new Error(`--resume: ${dir}/optimizer.safetensors lacks ${kind}.${names.get(p)}`);
    return t.data;
  };
  if (optimizer instanceof AdamW) {
    const params = optimizer.params();
    optimizer.loadStateDict({ step: state.optimizer_step, m: params.map((p) => moment('m', p)), v: params.map((p) => moment('v', p)) });
  } else if (optimizer instanceof SGD) {
    optimizer.loadStateDict(optimizer.params().map((p) => (saved.has(`momentum.${names.get(p)}`) ? moment('momentum', p) : null)));
  }
  model.rng.setState(state.model_rng);
  batchRng.setState(state.batch_rng);
  data.loadState(state.data);
  return { step: state.step, bestValLoss: state.best_val_loss };
}

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

/** Saves the run as it stands after `step` steps into out/checkpoint/ (the steps at the top of this file). */
export async function saveTrainingCheckpoint(cfg: TrainConfig, step: number, model: GPT2Model, optimizer: Optimizer, data: BatchSource, batchRng: Rng, bestValLoss: number | null): Promise<void> {
  const reached = crashPoints('save', SAVE_STEPS);
  const current = join(cfg.out, 'checkpoint');
  const tmp = join(cfg.out, 'checkpoint.tmp');
  const old = join(cfg.out, 'checkpoint.old');
  rmSync(tmp, { recursive: true, force: true });
  reached('checkpoint.tmp removed');
  await saveModel(model, tmp);
  reached('weights written');

  const names = paramNames(model);
  const tensors: { name: string; shape: number[]; data: () => Float32Array }[] = [];
  let optimizerStep = 0;
  if (optimizer instanceof AdamW) {
    const sd = await optimizer.stateDict();
    optimizerStep = sd.step;
    optimizer.params().forEach((p, i) => {
      tensors.push({ name: `m.${names.get(p)}`, shape: p.shape, data: () => sd.m[i] });
      tensors.push({ name: `v.${names.get(p)}`, shape: p.shape, data: () => sd.v[i] });
    });
  } else if (optimizer instanceof SGD) {
    const buffers = await optimizer.stateDict();
    optimizer.params().forEach((p, i) => {
      const b = buffers[i];
      if (b !== null) tensors.push({ name: `momentum.${names.get(p)}`, shape: p.shape, data: () => b });
    });
  }
  const half = tensors.length >> 1;
  await writeSafetensors(
    join(tmp, 'optimizer.safetensors'),
    tensors.map((t, i) => (i === half ? { ...t, data: () => (reached('optimizer state half written'), t.data()) } : t)),
  );
  reached('optimizer state written');
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
  await writeFileAtomic(join(tmp, 'state.json'), new TextEncoder().encode(JSON.stringify(state, null, 2) + '\n'));
  reached('state.json written');

  const hasCurrent = existsSync(current);
  if (hasCurrent) rmSync(old, { recursive: true, force: true });
  reached('checkpoint.old removed before the swap');
  if (hasCurrent) {
    renameSync(current, old);
    syncDir(cfg.out);
  }
  reached('checkpoint renamed to checkpoint.old');
  renameSync(tmp, current);
  syncDir(cfg.out);
  reached('checkpoint.tmp renamed to checkpoint');
  rmSync(old, { recursive: true, force: true });
  syncDir(cfg.out);
  reached('checkpoint.old removed');
}

export async function saveBest(model: GPT2Model, out: string): Promise<void> {
  await saveModel(model, join(out, 'best'));
}

export async function saveFinal(model: GPT2Model, out: string): Promise<void> {
  await saveModel(model, join(out, 'final'));
}
