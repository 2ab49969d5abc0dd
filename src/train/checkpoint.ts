// Training checkpoints: everything needed to continue a run exactly where it stopped.
//   out/checkpoint/  config.json + model.safetensors   the weights (Hugging Face layout)
//                    optimizer.safetensors             AdamW moments m.<name>, v.<name> (or SGD momentum)
//                    state.json                        step, RNG states, data position, best val loss,
//                                                      and the resolved training config
//   out/best/, out/final/                              model directories (Hugging Face layout)
// Promise: a checkpoint is written in full under a temporary name and swapped in by rename,
// so a run killed at any moment leaves the previous checkpoint readable.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Rng } from '../autograd/random.ts';
import type { Tensor } from '../autograd/tensor.ts';
import { AdamW } from '../nn/optim/adamw.ts';
import { SGD } from '../nn/optim/sgd.ts';
import type { Optimizer } from '../nn/optim/optimizer.ts';
import type { GPT2Model } from '../gpt2/model.ts';
import { loadModel, readSafetensors, saveModel, writeSafetensors } from '../gpt2/checkpoint.node.ts';
import type { DataLoaderState } from '../data/dataset.ts';
import { RESUME_KEYS, type TrainConfig } from './config.ts';
import type { BatchSource } from './batches.ts';

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

/** The checkpoint directory to resume from: checkpoint/, or checkpoint.old/ if a swap was cut short. */
export function checkResumable(cfg: TrainConfig): { dir: string; state: TrainingState } {
  const dir = [join(cfg.out, 'checkpoint'), join(cfg.out, 'checkpoint.old')].find((d) => existsSync(join(d, 'state.json')));
  if (dir === undefined) throw new Error(`--resume: no checkpoint in ${cfg.out} (expected ${join(cfg.out, 'checkpoint', 'state.json')})`);
  let state: TrainingState;
  try {
    state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
  } catch (err) {
    throw new Error(`--resume: ${join(dir, 'state.json')} is not valid JSON (${(err as Error).message})`);
  }
  if (state.version !== VERSION) throw new Error(`--resume: ${dir} is checkpoint format ${state.version}, this tsgrad reads ${VERSION}`);
  const differs = RESUME_KEYS.filter((k) => JSON.stringify(state.config[k]) !== JSON.stringify(cfg[k]));
  if (differs.length > 0) {
    const detail = differs.map((k) => `${k} ${JSON.stringify(state.config[k])} → ${JSON.stringify(cfg[k])}`).join(', ');
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
  resume: { dir: string; state: TrainingState },
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

export async function saveTrainingCheckpoint(cfg: TrainConfig, step: number, model: GPT2Model, optimizer: Optimizer, data: BatchSource, batchRng: Rng, bestValLoss: number | null): Promise<void> {
  const final = join(cfg.out, 'checkpoint');
  const tmp = join(cfg.out, 'checkpoint.tmp');
  const old = join(cfg.out, 'checkpoint.old');
  rmSync(tmp, { recursive: true, force: true });
  await saveModel(model, tmp);

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
  await writeSafetensors(join(tmp, 'optimizer.safetensors'), tensors);
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
  writeFileSync(join(tmp, 'state.json'), JSON.stringify(state, null, 2) + '\n');

  // swap: checkpoint → checkpoint.old, tmp → checkpoint, drop old. At every instant one of
  // checkpoint/ or checkpoint.old/ is complete (checkResumable looks at both).
  rmSync(old, { recursive: true, force: true });
  if (existsSync(final)) renameSync(final, old);
  renameSync(tmp, final);
  rmSync(old, { recursive: true, force: true });
}

export async function saveBest(model: GPT2Model, out: string): Promise<void> {
  await saveModel(model, join(out, 'best'));
}

export async function saveFinal(model: GPT2Model, out: string): Promise<void> {
  await saveModel(model, join(out, 'final'));
}
