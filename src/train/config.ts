// The training run's settings: presets, and the `npm run train` flags (one table, TRAIN_FLAGS)
// that override them, from the command line or a --config FILE.json.
// Promise: every flag is validated here, before anything is read or written, and a bad
// flag becomes one ConfigError line naming the problem (the CLI prints it, exits 2).
import { isGPT2Size, makeConfig, GPT2_SIZES, type GPT2Config } from '../gpt2/config.ts';
import { ConfigError } from './errors.ts';
import { backendFlag, parseCommand, type Command, type Flag, type FlagValue } from './flags.ts';

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
  optimizer: 'adamw' | 'sgd';
  momentum: number;
  weightDecay: number;
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
  weightDecay: 0.1,
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
  // TinyStories on a 2-core CPU: see README for what it reaches in 10 and 60 minutes.
  tinystories: {
    ...BASE,
    preset: 'tinystories',
    model: 'tinystories',
    data: 'data/tinystories',
    out: 'out/tinystories',
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
  // The seed's exact setting: GPT-2 124M, T = 1024, B = 2, AdamW lr 3e-5, 200 steps.
  // (The seed's optimizer was PyTorch's AdamW default: weight decay 0.01 on every tensor.)
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
    beta2: 0.999,
    gradClip: 0,
    logEvery: 10,
    seedLog: true,
  },
};

/** Every `npm run train` flag: the TrainConfig field it sets (key), its meaning and its range. */
export const TRAIN_FLAGS: Flag[] = [
  { name: 'model', key: 'model', group: 'model', type: 'string', arg: 'NAME', choices: Object.keys(GPT2_SIZES), help: 'GPT-2 shape of a fresh model (src/gpt2/config.ts)' },
  { name: 'n-layer', key: 'nLayer', group: 'model', type: 'int', arg: 'N', min: 1, help: "transformer blocks of a fresh model (--model's unless given)" },
  { name: 'd-model', key: 'dModel', group: 'model', type: 'int', arg: 'N', min: 1, help: "width of a fresh model's residual stream; a multiple of --n-heads" },
  { name: 'n-heads', key: 'nHeads', group: 'model', type: 'int', arg: 'N', min: 1, help: 'attention heads per block of a fresh model' },
  { name: 'ctx', key: 'ctx', group: 'model', type: 'int', arg: 'T', min: 1, help: "tokens per training window; a fresh model's n_ctx grows to T if smaller" },
  { name: 'dropout', key: 'dropout', group: 'model', type: 'number', arg: 'P', min: 0, below: 1, help: 'dropout probability (embeddings, attention, residual)' },
  { name: 'init', key: 'init', group: 'model', type: 'string', arg: 'DIR|gpt2', help: 'start from these weights (Hugging Face layout, or a hub name) instead of a fresh model', defaultText: 'none: a fresh model' },
  { name: 'data', key: 'data', group: 'data', type: 'string', arg: 'DIR', help: 'directory with train.bin and val.bin (npm run pretokenize)', defaultText: "none: the seed's sentence × 500" },
  { name: 'batch-size', key: 'batchSize', group: 'data', type: 'int', arg: 'B', min: 1, help: 'windows per micro-batch' },
  { name: 'no-shuffle', key: 'shuffle', sets: false, group: 'data', type: 'switch', help: 'read train.bin windows in order instead of a seeded shuffle' },
  { name: 'steps', key: 'steps', group: 'optimisation', type: 'int', arg: 'N', min: 1, help: 'optimizer steps in the whole run' },
  { name: 'lr', key: 'lr', group: 'optimisation', type: 'number', arg: 'X', min: 0, help: 'peak learning rate' },
  { name: 'min-lr', key: 'minLr', group: 'optimisation', type: 'number', arg: 'X', min: 0, help: 'learning rate at the end of the cosine schedule' },
  { name: 'warmup', key: 'warmup', group: 'optimisation', type: 'int', arg: 'N', min: 0, help: 'steps of linear warm-up to --lr' },
  { name: 'lr-schedule', key: 'lrSchedule', group: 'optimisation', type: 'string', arg: 'NAME', choices: ['constant', 'cosine'], help: 'learning rate after warm-up' },
  { name: 'optimizer', key: 'optimizer', group: 'optimisation', type: 'string', arg: 'NAME', choices: ['adamw', 'sgd'], help: 'AdamW (decay on matrices and embeddings only) or SGD' },
  { name: 'momentum', key: 'momentum', group: 'optimisation', type: 'number', arg: 'X', min: 0, help: 'SGD momentum' },
  { name: 'weight-decay', key: 'weightDecay', group: 'optimisation', type: 'number', arg: 'X', min: 0, help: 'decoupled weight decay' },
  { name: 'beta1', key: 'beta1', group: 'optimisation', type: 'number', arg: 'X', min: 0, below: 1, help: "AdamW's first-moment decay" },
  { name: 'beta2', key: 'beta2', group: 'optimisation', type: 'number', arg: 'X', min: 0, below: 1, help: "AdamW's second-moment decay" },
  { name: 'eps', key: 'eps', group: 'optimisation', type: 'number', arg: 'X', min: 0, help: "AdamW's epsilon" },
  { name: 'grad-clip', key: 'gradClip', group: 'optimisation', type: 'number', arg: 'X', min: 0, help: 'clip the global gradient norm to X; 0 = off' },
  { name: 'grad-accum', key: 'gradAccum', group: 'optimisation', type: 'int', arg: 'N', min: 1, help: 'micro-batches per step (B·T·N tokens per step)' },
  { name: 'eval-every', key: 'evalEvery', group: 'evaluation', type: 'int', arg: 'N', min: 0, help: 'validation loss every N steps and at the end (keeps best/); 0 = never' },
  { name: 'eval-batches', key: 'evalBatches', group: 'evaluation', type: 'int', arg: 'N', min: 1, help: 'val.bin batches per evaluation' },
  { name: 'sample-prompt', key: 'samplePrompt', group: 'evaluation', type: 'string', arg: 'TEXT', help: "prompt of the sample printed at each evaluation; '' = none" },
  { name: 'sample-tokens', key: 'sampleTokens', group: 'evaluation', type: 'int', arg: 'N', min: 1, help: 'tokens in that sample' },
  { name: 'out', key: 'out', group: 'output', type: 'string', arg: 'DIR', help: 'where the run writes checkpoint/, best/, final/, metrics.jsonl, loss.svg' },
  { name: 'save-every', key: 'saveEvery', group: 'output', type: 'int', arg: 'N', min: 0, help: 'also write checkpoint/ every N steps (it is always written at each evaluation, on SIGINT/SIGTERM and at the end); 0 = only then' },
  { name: 'log-every', key: 'logEvery', group: 'output', type: 'int', arg: 'N', min: 1, help: 'print a loss line every N steps' },
  { name: 'seed-log', key: 'seedLog', group: 'output', type: 'switch', help: "loss lines in the seed notebook's format (step=  10 | Loss: 5.922181)" },
  { name: 'no-progress', key: 'progress', sets: false, group: 'output', type: 'switch', help: 'no live bar on a terminal, only the loss lines' },
  { name: 'resume', key: 'resume', group: 'output', type: 'switch', help: "continue the run in --out from its checkpoint/ (same settings)" },
  { name: 'overwrite', key: 'overwrite', group: 'output', type: 'switch', help: 'start afresh even if --out holds a run' },
  { name: 'preset', key: 'preset', group: 'run', type: 'string', arg: 'NAME', choices: Object.keys(TRAIN_PRESETS), help: 'the defaults every other flag starts from' },
  { name: 'seed', key: 'seed', group: 'run', type: 'int', arg: 'N', min: 0, max: 2 ** 32 - 1, help: 'seeds the initial weights, dropout, batches and samples' },
  { name: 'max-minutes', key: 'maxMinutes', group: 'run', type: 'number', arg: 'X', min: 0, help: 'stop in time to evaluate and save within X minutes; 0 = no limit' },
  { ...backendFlag(), key: 'backend' },
  { name: 'profile', key: 'profile', group: 'run', type: 'switch', help: 'time every kernel of one step and print the table' },
];

export const TRAIN_COMMAND: Command = {
  name: 'train',
  synopsis: '[flags]',
  summary: 'Trains GPT-2: one loop for every preset, with checkpoints, metrics.jsonl and loss.svg in --out.',
  flags: TRAIN_FLAGS,
  configFile: true,
  notes: ['Defaults shown are those of the preset given (--preset NAME --help shows another\'s).'],
};

/** The model shape a fresh run builds: --model's preset, with --n-layer/--d-model/--n-heads, n_ctx ≥ --ctx. */
export function freshModelConfig(cfg: TrainConfig): GPT2Config {
  if (!isGPT2Size(cfg.model)) throw new ConfigError(`--model: unknown GPT-2 size '${cfg.model}' (known: ${Object.keys(GPT2_SIZES).join(', ')})`);
  const base = GPT2_SIZES[cfg.model];
  const dModel = cfg.dModel ?? base.d_model;
  const nHeads = cfg.nHeads ?? base.n_heads;
  if (dModel % nHeads !== 0) throw new ConfigError(`--d-model ${dModel} is not a multiple of --n-heads ${nHeads}`);
  return makeConfig({ n_layers: cfg.nLayer ?? base.n_layers, d_model: dModel, n_heads: nHeads, n_ctx: Math.max(base.n_ctx, cfg.ctx), dropout: cfg.dropout }, cfg.model);
}

/** The preset's config, then `defaults` (a command's own, e.g. the backend), then the flags. */
function resolve(values: Record<string, FlagValue>, defaults: Partial<TrainConfig>): TrainConfig {
  const presetName = (values.preset as string | undefined) ?? defaults.preset ?? 'overfit';
  const cfg: Record<string, unknown> = { ...TRAIN_PRESETS[presetName], ...defaults, preset: presetName };
  for (const f of TRAIN_FLAGS) {
    const v = values[f.name];
    if (v === undefined || f.key === undefined) continue;
    cfg[f.key] = f.type === 'switch' ? (v ? (f.sets ?? true) : !(f.sets ?? true)) : v;
  }
  return cfg as unknown as TrainConfig;
}

/**
 * Parses a training command line (train's flags, or a command with train's flags and its
 * own, like train:tinystories) into a full config; returns the command's own values too.
 */
export function parseTrainCommand(cmd: Command, argv: string[], defaults: Partial<TrainConfig> = {}): { cfg: TrainConfig; values: Record<string, FlagValue> } {
  const values = parseCommand(cmd, argv, (v) => {
    const c = resolve(v, defaults);
    const shape = GPT2_SIZES[c.model as keyof typeof GPT2_SIZES];
    const modelDefault = (n: number | undefined) => (n === undefined ? undefined : `${n} (--model ${c.model})`);
    return {
      ...Object.fromEntries(TRAIN_FLAGS.map((f) => [f.name, c[f.key as keyof TrainConfig]])),
      'n-layer': c.nLayer ?? modelDefault(shape?.n_layers),
      'd-model': c.dModel ?? modelDefault(shape?.d_model),
      'n-heads': c.nHeads ?? modelDefault(shape?.n_heads),
    };
  });
  return { cfg: validate(resolve(values, defaults)), values };
}

/** Parses `npm run train` arguments into a full config (preset defaults, --config file, flags). */
export function parseTrainArgs(argv: string[], defaults: Partial<TrainConfig> = {}): TrainConfig {
  return parseTrainCommand(TRAIN_COMMAND, argv, defaults).cfg;
}

/** Checks between flags (each flag's own range is checked by its table entry). */
function validate(c: TrainConfig): TrainConfig {
  const shapeFlags = (['n-layer', 'd-model', 'n-heads'] as const).filter((_, i) => [c.nLayer, c.dModel, c.nHeads][i] !== null);
  if (c.init !== null && shapeFlags.length > 0) {
    throw new ConfigError(`--${shapeFlags.join(', --')} shape${shapeFlags.length === 1 ? 's' : ''} a fresh model, but --init ${c.init} brings its own shape; drop one or the other`);
  }
  if (c.init === null) freshModelConfig(c);
  return c;
}

/** The settings that must match for --resume to continue a run (everything that shapes the math). */
export const RESUME_KEYS: (keyof TrainConfig)[] = ['model', 'nLayer', 'dModel', 'nHeads', 'data', 'init', 'batchSize', 'ctx', 'optimizer', 'gradAccum', 'seed', 'shuffle', 'lrSchedule', 'lr', 'minLr', 'warmup', 'weightDecay', 'beta1', 'beta2', 'eps', 'momentum', 'gradClip', 'dropout'];
