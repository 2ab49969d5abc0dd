// The training run's settings: presets, and the `npm run train` flags that override them.
// Promise: every flag is validated here, before anything is read or written, and a bad
// flag becomes one ConfigError line naming the problem (the CLI prints it, exits 2).
import { ConfigError, HelpRequested } from './errors.ts';
import { parseFlags } from './flags.ts';

export interface TrainConfig {
  /** Preset the defaults came from. */
  preset: string;
  /** GPT-2 architecture preset (src/gpt2/config.ts) for a fresh model. */
  model: string;
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
  /** Stop cleanly (evaluate, save) after this many minutes; 0 = no limit. */
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

export const PRESETS: Record<string, TrainConfig> = {
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

/** Flag spec: name → [key in TrainConfig, kind]. Kebab-case flags as a nanoGPT user types them. */
const FLAGS = {
  preset: ['preset', 'string'],
  model: ['model', 'string'],
  data: ['data', 'string'],
  init: ['init', 'string'],
  out: ['out', 'string'],
  steps: ['steps', 'int'],
  'batch-size': ['batchSize', 'int'],
  ctx: ['ctx', 'int'],
  lr: ['lr', 'float'],
  'min-lr': ['minLr', 'float'],
  warmup: ['warmup', 'int'],
  'lr-schedule': ['lrSchedule', 'string'],
  optimizer: ['optimizer', 'string'],
  momentum: ['momentum', 'float'],
  'weight-decay': ['weightDecay', 'float'],
  beta1: ['beta1', 'float'],
  beta2: ['beta2', 'float'],
  eps: ['eps', 'float'],
  'grad-clip': ['gradClip', 'float'],
  'grad-accum': ['gradAccum', 'int'],
  dropout: ['dropout', 'float'],
  seed: ['seed', 'int'],
  'eval-every': ['evalEvery', 'int'],
  'eval-batches': ['evalBatches', 'int'],
  'save-every': ['saveEvery', 'int'],
  'log-every': ['logEvery', 'int'],
  'max-minutes': ['maxMinutes', 'float'],
  'sample-prompt': ['samplePrompt', 'string'],
  'sample-tokens': ['sampleTokens', 'int'],
  backend: ['backend', 'string'],
} as const satisfies Record<string, [keyof TrainConfig, 'string' | 'int' | 'float']>;

const SWITCHES = {
  'no-shuffle': ['shuffle', false],
  resume: ['resume', true],
  overwrite: ['overwrite', true],
  'no-progress': ['progress', false],
  profile: ['profile', true],
  'seed-log': ['seedLog', true],
} as const satisfies Record<string, [keyof TrainConfig, boolean]>;

function parseNumber(flag: string, raw: string, kind: 'int' | 'float'): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || (kind === 'int' && !Number.isInteger(v))) {
    throw new ConfigError(`--${flag}: expected ${kind === 'int' ? 'an integer' : 'a number'}, got '${raw}'`);
  }
  return v;
}

/** Parses `npm run train` arguments into a full config (preset defaults, then flags). */
export function parseTrainArgs(argv: string[], defaults: Partial<TrainConfig> = {}): TrainConfig {
  const parsed = parseFlags(
    {
      ...Object.fromEntries(Object.keys(FLAGS).map((f) => [f, { type: 'string' as const }])),
      ...Object.fromEntries(Object.keys(SWITCHES).map((f) => [f, { type: 'boolean' as const }])),
      help: { type: 'boolean' as const },
    },
    argv,
  );
  const values = parsed as Record<string, string | boolean | undefined>;
  if (values.help) throw new HelpRequested(usage());
  const presetName = (values.preset as string | undefined) ?? defaults.preset ?? 'overfit';
  const preset = PRESETS[presetName];
  if (!preset) throw new ConfigError(`--preset: unknown preset '${presetName}' (known: ${Object.keys(PRESETS).join(', ')})`);
  const cfg: Record<string, unknown> = { ...preset, ...defaults, preset: presetName };
  for (const [flag, [key, kind]] of Object.entries(FLAGS)) {
    const raw = values[flag];
    if (typeof raw !== 'string') continue;
    cfg[key] = kind === 'string' ? raw : parseNumber(flag, raw, kind);
  }
  for (const [flag, [key, value]] of Object.entries(SWITCHES)) if (values[flag]) cfg[key] = value;
  return validate(cfg as unknown as TrainConfig);
}

function validate(c: TrainConfig): TrainConfig {
  const positive: (keyof TrainConfig)[] = ['steps', 'batchSize', 'ctx', 'gradAccum', 'evalBatches', 'logEvery', 'sampleTokens'];
  for (const k of positive) if (!((c[k] as number) > 0)) throw new ConfigError(`--${kebab(k)} must be > 0, got ${c[k]}`);
  const nonNegative: (keyof TrainConfig)[] = ['lr', 'minLr', 'warmup', 'weightDecay', 'gradClip', 'evalEvery', 'saveEvery', 'maxMinutes', 'momentum', 'eps'];
  for (const k of nonNegative) if (!((c[k] as number) >= 0)) throw new ConfigError(`--${kebab(k)} must be ≥ 0, got ${c[k]}`);
  if (!(Number.isInteger(c.seed) && c.seed >= 0 && c.seed <= 0xffffffff)) throw new ConfigError(`--seed must be an integer in [0, 4294967295], got ${c.seed}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new ConfigError(`--dropout must be in [0, 1), got ${c.dropout}`);
  if (!(c.beta1 >= 0 && c.beta1 < 1) || !(c.beta2 >= 0 && c.beta2 < 1)) throw new ConfigError(`--beta1/--beta2 must be in [0, 1)`);
  if (c.lrSchedule !== 'constant' && c.lrSchedule !== 'cosine') throw new ConfigError(`--lr-schedule: expected constant or cosine, got '${c.lrSchedule}'`);
  if (c.optimizer !== 'adamw' && c.optimizer !== 'sgd') throw new ConfigError(`--optimizer: expected adamw or sgd, got '${c.optimizer}'`);
  return c;
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (ch) => '-' + ch.toLowerCase());
}

export function usage(): string {
  const flags = Object.entries(FLAGS).map(([f, [, kind]]) => `--${f} ${kind === 'string' ? 'S' : kind === 'int' ? 'N' : 'X'}`);
  const switches = Object.keys(SWITCHES).map((f) => `--${f}`);
  return `usage: npm run train -- [${[...flags, ...switches].join('] [')}]\npresets: ${Object.keys(PRESETS).join(', ')}`;
}

/** The settings that must match for --resume to continue a run (everything that shapes the math). */
export const RESUME_KEYS: (keyof TrainConfig)[] = ['model', 'data', 'init', 'batchSize', 'ctx', 'optimizer', 'gradAccum', 'seed', 'shuffle', 'lrSchedule', 'lr', 'minLr', 'warmup', 'weightDecay', 'beta1', 'beta2', 'eps', 'momentum', 'gradClip', 'dropout'];
