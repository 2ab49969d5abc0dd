// A training run's settings (TrainConfig) and the presets they start from: the seed's overfit
// loop, TinyStories on a CPU, and the seed's GPT-2 run. A preset may size itself by the time it
// is given (BUDGET_TIERS): with --max-minutes X, the tier for X applies over the preset. The
// `npm run train` flags set them (TRAIN_FLAGS in ./cli/commands.ts, from the command line or a
// --config FILE.json), over the preset and its tier.
// Promise: checkSettings finds every conflict between settings before anything is read or
// written, as one ConfigError line (a command prints it and exits 2).
import { isGPT2Size, makeConfig, GPT2_SIZES, type GPT2Config } from '../gpt2/config.ts';
import { ConfigError } from './errors.ts';

export interface TrainConfig {
  /** Preset the defaults came from. */
  preset: string;
  /** The named GPT-2 size (GPT2_SIZES in src/gpt2/config.ts) of a fresh model. */
  model: string;
  /** A fresh model's shape where it differs from `model`'s; null = the preset's. */
  nLayer: number | null;
  dModel: number | null;
  nHeads: number | null;
  /** Directory holding train.bin and val.bin; null trains on the seed's repeated sentence. */
  data: string | null;
  /** A fresh model's token embedding and tied head: a row for every GPT-2 id, or ('data') for the ids train.bin holds plus one "other" row (src/gpt2/head_vocab.ts). */
  headVocab: 'full' | 'data';
  /** Start from an HF-layout checkpoint directory or a hub name ('gpt2'); null = fresh init. */
  init: string | null;
  out: string;
  steps: number;
  batchSize: number;
  ctx: number;
  lr: number;
  minLr: number;
  warmup: number;
  lrSchedule: 'constant' | 'cosine';
  /** AdamW; SGD; or Muon on the blocks' matrices with AdamW on the rest (src/nn/optim/muon.ts). */
  optimizer: 'adamw' | 'sgd' | 'muon';
  momentum: number;
  /** Muon's learning rate at the schedule's peak, where --lr is AdamW's (the schedule scales both). */
  muonLr: number;
  weightDecay: number;
  /** AdamW decays every tensor (PyTorch's default for model.parameters()), not only matrices and embeddings. */
  decayAll: boolean;
  beta1: number;
  beta2: number;
  eps: number;
  /** Global-norm gradient clipping; 0 = off. */
  gradClip: number;
  gradAccum: number;
  dropout: number;
  seed: number;
  shuffle: boolean;
  /** Evaluate every N steps (and at the end); 0 = never. */
  evalEvery: number;
  evalBatches: number;
  /** Also write checkpoint/ every N steps; 0 = only at evaluations, on SIGINT/SIGTERM and at the end. */
  saveEvery: number;
  /** Print a loss line every N steps. */
  logEvery: number;
  /** Log in the seed notebook's format (`step=  10 | Loss: 5.922181`). */
  seedLog: boolean;
  /** Stop early enough that the final evaluation and saves finish within this many minutes (src/train/budget.ts); 0 = no limit. */
  maxMinutes: number;
  /** Prompt for the sample printed at each evaluation; '' = no sample. */
  samplePrompt: string;
  sampleTokens: number;
  backend: string;
  resume: boolean;
  overwrite: boolean;
  progress: boolean;
  profile: boolean;
}

const BASE: Omit<TrainConfig, 'preset' | 'model' | 'out'> = {
  nLayer: null,
  dModel: null,
  nHeads: null,
  data: null,
  headVocab: 'full',
  init: null,
  steps: 1000,
  batchSize: 8,
  ctx: 128,
  lr: 1e-3,
  minLr: 1e-4,
  warmup: 0,
  lrSchedule: 'constant',
  optimizer: 'adamw',
  momentum: 0,
  muonLr: 0.02,
  weightDecay: 0.1,
  decayAll: false,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  gradClip: 1,
  gradAccum: 1,
  dropout: 0,
  seed: 1337,
  shuffle: true,
  evalEvery: 0,
  evalBatches: 20,
  saveEvery: 0,
  logEvery: 10,
  seedLog: false,
  maxMinutes: 0,
  samplePrompt: '',
  sampleTokens: 64,
  backend: 'auto',
  resume: false,
  overwrite: false,
  progress: true,
  profile: false,
};

export const TRAIN_PRESETS: Record<string, TrainConfig> = {
  // The seed's first loop, sized for a 2-core CPU: memorise one repeated sentence.
  overfit: {
    ...BASE,
    preset: 'overfit',
    model: 'overfit',
    out: 'out/overfit',
    steps: 60,
    batchSize: 4,
    ctx: 32,
    lr: 3e-3,
    weightDecay: 0,
    beta2: 0.999,
    gradClip: 0,
    logEvery: 10,
    seedLog: true,
  },
  // TinyStories on a 2-core CPU: README shows what it reaches within an hour.
  tinystories: {
    ...BASE,
    preset: 'tinystories',
    model: 'tinystories',
    data: 'data/tinystories',
    out: 'out/tinystories',
    headVocab: 'data',
    steps: 2000,
    batchSize: 8,
    ctx: 128,
    lr: 2e-3,
    minLr: 2e-4,
    warmup: 100,
    lrSchedule: 'cosine',
    evalEvery: 100,
    evalBatches: 10,
    saveEvery: 100,
    logEvery: 25,
    samplePrompt: 'Once upon a time',
  },
  // The seed's first run (cell 10) with its settings: GPT-2 124M without dropout, the sentence
  // × 500 in random windows of T = 1024, B = 2, 200 steps of PyTorch's default AdamW at a
  // constant lr 3e-5 (betas 0.9/0.999, eps 1e-8, weight decay 0.01 on every tensor), no clipping.
  gpt2: {
    ...BASE,
    preset: 'gpt2',
    model: 'gpt2',
    out: 'out/gpt2',
    steps: 200,
    batchSize: 2,
    ctx: 1024,
    lr: 3e-5,
    weightDecay: 0.01,
    decayAll: true,
    beta2: 0.999,
    gradClip: 0,
    logEvery: 10,
    seedLog: true,
  },
};

/** Settings of a preset for budgets of at most `upTo` minutes. */
export interface BudgetTier {
  upTo: number;
  settings: Partial<TrainConfig>;
}

/** What every tinystories tier sets; the tiers differ in their windows (ctx × batchSize). */
const TINYSTORIES_BUDGETED: Partial<TrainConfig> = { steps: 1_000_000, nLayer: 2, dModel: 192, nHeads: 6, lr: 3e-3, minLr: 3e-4, optimizer: 'muon', muonLr: 0.01, evalEvery: 200, saveEvery: 200 };

/**
 * The presets that size themselves by --max-minutes: the first tier whose upTo is at least the
 * budget applies over the preset. Chosen by measurement (bench/sweep.ts, bench/RESULTS.md).
 */
export const BUDGET_TIERS: Record<string, BudgetTier[]> = {
  // Budgets of minutes on a 2-core CPU see a few million tokens: at that scale two wide blocks
  // and Muon on the blocks' matrices lower the loss fastest (PyTorch and tsgrad sweeps,
  // bench/RESULTS.md). Windows of 64 learn faster over the first million tokens; over an hour
  // (~7M tokens) windows of 128, with as many tokens a step, end lower at their own window
  // (2.50 against 2.53 at 64). An evaluation with its sample and checkpoints costs about five
  // steps: every 200 steps, not 100, leaves 2–3% more of the budget to training.
  tinystories: [
    { upTo: 20, settings: { ...TINYSTORIES_BUDGETED, ctx: 64, batchSize: 16 } },
    { upTo: Infinity, settings: { ...TINYSTORIES_BUDGETED, ctx: 128, batchSize: 8 } },
  ],
};

/** What preset's tier for a budget of maxMinutes sets ({} without a budget or tiers). */
export function budgetSettings(preset: string, maxMinutes: number): Partial<TrainConfig> {
  if (!(maxMinutes > 0)) return {};
  return { ...BUDGET_TIERS[preset]?.find((t) => maxMinutes <= t.upTo)?.settings };
}

/**
 * The model shape a fresh run builds: the --model size, with --n-layer/--d-model/--n-heads,
 * n_ctx ≥ --ctx, and a compact head keeping headIds when given.
 */
export function freshModelConfig(cfg: TrainConfig, headIds: readonly number[] | null = null): GPT2Config {
  if (!isGPT2Size(cfg.model)) throw new ConfigError(`--model: unknown GPT-2 size '${cfg.model}' (known: ${Object.keys(GPT2_SIZES).join(', ')})`);
  const base = GPT2_SIZES[cfg.model];
  const dModel = cfg.dModel ?? base.d_model;
  const nHeads = cfg.nHeads ?? base.n_heads;
  if (dModel % nHeads !== 0) throw new ConfigError(`--d-model ${dModel} is not a multiple of --n-heads ${nHeads}`);
  const head = headIds === null ? {} : { head_ids: headIds };
  return makeConfig({ n_layers: cfg.nLayer ?? base.n_layers, d_model: dModel, n_heads: nHeads, n_ctx: Math.max(base.n_ctx, cfg.ctx), dropout: cfg.dropout, ...head }, cfg.model);
}

/** Checks between settings (each flag's own range is checked by its table entry); returns c. */
export function checkSettings(c: TrainConfig): TrainConfig {
  const shapeFlags = (['n-layer', 'd-model', 'n-heads'] as const).filter((_, i) => [c.nLayer, c.dModel, c.nHeads][i] !== null);
  if (c.init !== null && shapeFlags.length > 0) {
    throw new ConfigError(`--${shapeFlags.join(', --')} shape${shapeFlags.length === 1 ? 's' : ''} a fresh model, but --init ${c.init} brings its own shape; drop one or the other`);
  }
  if (c.init === null) freshModelConfig(c);
  if (c.optimizer === 'muon' && !(c.lr > 0)) throw new ConfigError(`--optimizer muon needs --lr above 0: Muon's rate (--muon-lr) follows the schedule of --lr`);
  return c;
}

/** A setting as a checkpoint's config records it; one it does not record (written before the setting existed) had its default. */
export function recordedSetting(config: Partial<TrainConfig>, key: keyof TrainConfig): unknown {
  return config[key] ?? (BASE as Partial<TrainConfig>)[key] ?? null;
}

/** The settings that must match for --resume to continue a run (everything that shapes the math). */
export const RESUME_KEYS: (keyof TrainConfig)[] = ['model', 'nLayer', 'dModel', 'nHeads', 'headVocab', 'data', 'init', 'batchSize', 'ctx', 'optimizer', 'muonLr', 'gradAccum', 'seed', 'shuffle', 'lrSchedule', 'lr', 'minLr', 'warmup', 'weightDecay', 'decayAll', 'beta1', 'beta2', 'eps', 'momentum', 'gradClip', 'dropout'];
