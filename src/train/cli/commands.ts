// The command line of every tsgrad command, one flag table each (parsed and printed by
// ./flags.ts), and how train's flags make a TrainConfig (../config.ts).
// Promise: a command's --help lists exactly the flags it parses.
import { GPT2_SIZES } from '../../gpt2/config.ts';
import { HF_MODELS } from '../../data/pretrained.ts';
import { MAX_STORY_CHARS } from '../../data/sources.ts';
import { BUDGET_TIERS, budgetSettings, checkSettings, TRAIN_PRESETS, type TrainConfig } from '../config.ts';
import { backendFlag, parseCommand, type Command, type Flag, type FlagValue } from './flags.ts';

/** Every `npm run train` flag: the TrainConfig field it sets (key), its meaning and its range. */
export const TRAIN_FLAGS: Flag[] = [
  { name: 'model', key: 'model', group: 'model', type: 'string', arg: 'NAME', choices: Object.keys(GPT2_SIZES), help: 'GPT-2 shape of a fresh model (src/gpt2/config.ts)' },
  { name: 'n-layer', key: 'nLayer', group: 'model', type: 'int', arg: 'N', min: 1, help: "transformer blocks of a fresh model (--model's unless given)" },
  { name: 'd-model', key: 'dModel', group: 'model', type: 'int', arg: 'N', min: 1, help: "width of a fresh model's residual stream; a multiple of --n-heads" },
  { name: 'n-heads', key: 'nHeads', group: 'model', type: 'int', arg: 'N', min: 1, help: 'attention heads per block of a fresh model' },
  { name: 'ctx', key: 'ctx', group: 'model', type: 'int', arg: 'T', min: 1, help: "tokens per training window; a fresh model's n_ctx grows to T if smaller" },
  { name: 'dropout', key: 'dropout', group: 'model', type: 'number', arg: 'P', min: 0, below: 1, help: 'dropout probability (embeddings, attention, residual)' },
  { name: 'head-vocab', key: 'headVocab', group: 'model', type: 'string', arg: 'KIND', choices: ['full', 'data'], help: "a fresh model's embedding and tied head: a row per GPT-2 id (full), or only the ids train.bin holds plus one \"other\" row whose probability the unseen ids share evenly (data: still a distribution over all 50257 ids)" },
  { name: 'init', key: 'init', group: 'model', type: 'string', arg: 'DIR|gpt2', help: 'start from these weights (Hugging Face layout, or a hub name) instead of a fresh model', defaultText: 'none: a fresh model' },
  { name: 'data', key: 'data', group: 'data', type: 'string', arg: 'DIR', help: 'directory with train.bin and val.bin (npm run pretokenize)', defaultText: "none: the seed's sentence × 500" },
  { name: 'batch-size', key: 'batchSize', group: 'data', type: 'int', arg: 'B', min: 1, help: 'windows per micro-batch' },
  { name: 'no-shuffle', key: 'shuffle', sets: false, group: 'data', type: 'switch', help: 'read train.bin windows in order instead of a seeded shuffle' },
  { name: 'steps', key: 'steps', group: 'optimisation', type: 'int', arg: 'N', min: 1, help: 'optimizer steps in the whole run (with --max-minutes: at most N)' },
  { name: 'lr', key: 'lr', group: 'optimisation', type: 'number', arg: 'X', min: 0, help: 'peak learning rate' },
  { name: 'min-lr', key: 'minLr', group: 'optimisation', type: 'number', arg: 'X', min: 0, help: "learning rate of the cosine schedule's last step" },
  { name: 'warmup', key: 'warmup', group: 'optimisation', type: 'int', arg: 'N', min: 0, help: 'steps of linear warm-up to --lr' },
  { name: 'lr-schedule', key: 'lrSchedule', group: 'optimisation', type: 'string', arg: 'NAME', choices: ['constant', 'cosine'], help: 'learning rate after warm-up' },
  { name: 'optimizer', key: 'optimizer', group: 'optimisation', type: 'string', arg: 'NAME', choices: ['adamw', 'sgd', 'muon'], help: 'AdamW; SGD (whose weight decay acts on every tensor); or muon: Muon on the blocks\' weight matrices, AdamW on the rest' },
  { name: 'momentum', key: 'momentum', group: 'optimisation', type: 'number', arg: 'X', min: 0, help: 'SGD momentum' },
  { name: 'muon-lr', key: 'muonLr', group: 'optimisation', type: 'number', arg: 'X', min: 0, help: 'Muon\'s peak learning rate (--optimizer muon; --lr is AdamW\'s, the schedule scales both)' },
  { name: 'weight-decay', key: 'weightDecay', group: 'optimisation', type: 'number', arg: 'X', min: 0, help: 'decoupled weight decay' },
  { name: 'decay-all', key: 'decayAll', group: 'optimisation', type: 'switch', help: "AdamW's weight decay on every tensor, biases and LayerNorm included (PyTorch's default, the seed's), not only on matrices and embeddings" },
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
  { name: 'max-minutes', key: 'maxMinutes', group: 'run', type: 'number', arg: 'X', min: 0, help: 'stop in time to evaluate and save within X minutes; the cosine schedule then ends at the last step that fits, planned from the first steps\' speed; 0 = no limit' },
  { ...backendFlag(), key: 'backend' },
  { name: 'profile', key: 'profile', group: 'run', type: 'switch', help: 'time every kernel of one step and print the table' },
];

/** --help's lines about the presets that size themselves by --max-minutes. */
function budgetNotes(): string[] {
  return Object.entries(BUDGET_TIERS).map(([preset, tiers]) => {
    const said = tiers.map((t, i) => {
      const range = t.upTo === Infinity ? `over ${tiers[i - 1].upTo} min` : `up to ${t.upTo} min`;
      const flags = Object.entries(t.settings).map(([k, v]) => `--${TRAIN_FLAGS.find((f) => f.key === k)!.name} ${v}`);
      return `${range}: ${flags.join(' ')}`;
    });
    return `--preset ${preset} with --max-minutes X takes the settings of its budget (flags given still win): ${said.join('; ')}.`;
  });
}

export const TRAIN_COMMAND: Command = {
  name: 'train',
  synopsis: '[flags]',
  summary: 'Trains GPT-2: one loop for every preset, with checkpoints, metrics.jsonl and loss.svg in --out.',
  flags: TRAIN_FLAGS,
  configFile: true,
  notes: [
    "Defaults shown are those of the preset given (--preset NAME --help shows another's) and, with --max-minutes X, of its tier for X minutes.",
    ...budgetNotes(),
  ],
};

/** The preset's config, then `defaults` (a command's own, e.g. the backend), then its tier for --max-minutes, then the flags. */
function resolve(values: Record<string, FlagValue>, defaults: Partial<TrainConfig>): TrainConfig {
  const presetName = (values.preset as string | undefined) ?? defaults.preset ?? 'overfit';
  const base = { ...TRAIN_PRESETS[presetName], ...defaults, preset: presetName };
  const tier = budgetSettings(presetName, (values['max-minutes'] as number | undefined) ?? base.maxMinutes);
  if (values.model !== undefined || values.init !== undefined) {
    // a model named on the command line keeps its own shape
    for (const key of ['nLayer', 'dModel', 'nHeads'] as const) delete tier[key];
  }
  const cfg: Record<string, unknown> = { ...base, ...tier };
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
  return { cfg: checkSettings(resolve(values, defaults)), values };
}

/** Parses `npm run train` arguments into a full config (preset defaults, --config file, flags). */
export function parseTrainArgs(argv: string[], defaults: Partial<TrainConfig> = {}): TrainConfig {
  return parseTrainCommand(TRAIN_COMMAND, argv, defaults).cfg;
}


export const TINYSTORIES_COMMAND: Command = {
  ...TRAIN_COMMAND,
  name: 'train:tinystories',
  summary:
    "The seed's TinyStories pipeline in one command: download (or read) both splits, pretokenize them into --data " +
    '(kept: a second run reuses the .bin files), then train the tinystories preset with validation loss, best/ and a sample story at every evaluation.',
  flags: [
    ...TRAIN_FLAGS,
    { name: 'source', group: 'data', type: 'string', arg: 'hub|DIR', default: 'hub', help: 'stories from roneneldan/TinyStories on $HF_ENDPOINT, or DIR/train.txt and DIR/valid.txt' },
    { name: 'max-examples', group: 'data', type: 'int', arg: 'N', min: 1, help: 'pretokenize only the first N training stories', defaultText: 'all' },
  ],
  notes: ['Pretokenizing is skipped when --data DIR already holds train.bin. Defaults shown are those of the tinystories preset.'],
};

/** --model of generate and eval: a trained model to load. */
const MODEL_FLAG: Flag = {
  name: 'model',
  group: 'model',
  type: 'string',
  arg: 'DIR|NAME',
  required: true,
  help: `a model directory (Hugging Face layout) or an OpenAI GPT-2 from the hub: ${HF_MODELS.join(', ')}`,
};

export const GENERATE_COMMAND: Command = {
  name: 'generate',
  synopsis: '--model DIR|gpt2 [flags]',
  summary: 'Continues a prompt with a GPT-2, streaming the text to stdout as tokens arrive.',
  flags: [
    MODEL_FLAG,
    { name: 'prompt', group: 'sampling', type: 'string', arg: 'TEXT', help: 'text to continue', defaultText: '<|endoftext|>' },
    { name: 'prompt-ids', group: 'sampling', type: 'string', arg: '1,2,3', help: 'token ids to continue, instead of --prompt', defaultText: 'none' },
    { name: 'max-new-tokens', group: 'sampling', type: 'int', arg: 'N', min: 0, default: 100, help: 'tokens to generate' },
    { name: 'temperature', group: 'sampling', type: 'number', arg: 'X', min: 0, help: 'divides the logits; 0 = always the likeliest token', defaultText: '1' },
    { name: 'top-k', group: 'sampling', type: 'int', arg: 'K', min: 1, help: 'sample among the K likeliest tokens only', defaultText: 'all' },
    { name: 'top-p', group: 'sampling', type: 'number', arg: 'P', above: 0, max: 1, help: 'sample among the likeliest tokens holding probability P', defaultText: 'all' },
    { name: 'seed', group: 'sampling', type: 'int', arg: 'N', min: 0, max: 2 ** 32 - 1, help: 'seeds the sampling (printed on stderr when not given)', defaultText: 'random' },
    { name: 'greedy', group: 'sampling', type: 'switch', help: 'temperature 0' },
    { name: 'stop-at-eot', group: 'sampling', type: 'switch', help: 'stop at <|endoftext|>' },
    { name: 'no-cache', group: 'sampling', type: 'switch', help: 'recompute every position each token (no KV cache)' },
    { name: 'json', group: 'output', type: 'switch', help: 'print only { prompt_ids, ids, text } as JSON' },
    backendFlag(),
  ],
};

export const EVAL_COMMAND: Command = {
  name: 'eval',
  synopsis: '--model DIR --data FILE.bin --ctx T [flags]',
  summary: 'The mean next-token loss of a GPT-2 over the windows of T+1 tokens of a .bin file, taken in order.',
  flags: [
    MODEL_FLAG,
    { name: 'data', group: 'data', type: 'string', arg: 'FILE.bin', required: true, help: 'uint16 GPT-2 token ids (npm run pretokenize)' },
    { name: 'ctx', group: 'data', type: 'int', arg: 'T', min: 1, required: true, help: "tokens per window; at most the model's n_ctx" },
    { name: 'batch-size', group: 'data', type: 'int', arg: 'B', min: 1, default: 8, help: 'windows per forward pass' },
    { name: 'max-batches', group: 'data', type: 'int', arg: 'N', min: 1, help: 'evaluate only the first N batches', defaultText: 'all' },
    { name: 'json', group: 'output', type: 'switch', help: 'print only { "loss": x, "windows": W } as JSON' },
    backendFlag(),
  ],
};

export const PRETOKENIZE_COMMAND: Command = {
  name: 'pretokenize',
  synopsis: '--split train|validation --out DIR [flags]',
  summary: 'Writes DIR/train.bin or DIR/val.bin (uint16 GPT-2 ids, <|endoftext|> after each story, + a .json sidecar) from TinyStories.',
  flags: [
    { name: 'source', group: 'data', type: 'string', arg: 'hub|PATH', default: 'hub', help: 'roneneldan/TinyStories from $HF_ENDPOINT (shards already in the Hugging Face cache are used as they are), or a local .parquet (column text) or .txt (stories between <|endoftext|> lines)' },
    { name: 'split', group: 'data', type: 'string', arg: 'NAME', choices: ['train', 'validation'], required: true, help: 'train → DIR/train.bin, validation → DIR/val.bin' },
    { name: 'max-examples', group: 'data', type: 'int', arg: 'N', min: 1, help: 'stop after N stories', defaultText: 'all' },
    { name: 'max-story-chars', group: 'data', type: 'int', arg: 'N', min: 1, default: MAX_STORY_CHARS, help: 'refuse a story longer than N characters, such as a whole .txt without <|endoftext|> lines' },
    { name: 'out', group: 'output', type: 'string', arg: 'DIR', required: true, help: 'directory of the .bin file' },
  ],
};

export const WEB_COMMAND: Command = {
  name: 'web',
  synopsis: '[--port N] [--data DIR]',
  summary: 'Serves the tsgrad page (GPT-2 training and sampling in the browser, the engine in a Web Worker) on 127.0.0.1, with the COOP/COEP headers the cpu backend\'s threads need.',
  flags: [
    { name: 'port', group: 'server', type: 'int', arg: 'N', min: 0, max: 65535, default: 8000, help: 'port on 127.0.0.1; 0 picks a free one' },
    { name: 'data', group: 'data', type: 'string', arg: 'DIR', help: "serve DIR/train.bin and DIR/val.bin (npm run pretokenize) for the page's tinystories preset", defaultText: 'none: the page asks for the files' },
  ],
};

export const WEB_BUILD_COMMAND: Command = {
  name: 'web:build',
  synopsis: '[--out DIR]',
  summary: 'Writes the tsgrad page to DIR as static files (index.html, main.js, trainer.worker.js, chunks/).',
  flags: [{ name: 'out', group: 'output', type: 'string', arg: 'DIR', default: 'dist/web', help: 'folder to write: new, empty, or an earlier build (replaced)' }],
};

/** Every command, by its npm script name. */
export const COMMANDS: Record<string, Command> = Object.fromEntries(
  [TRAIN_COMMAND, TINYSTORIES_COMMAND, GENERATE_COMMAND, EVAL_COMMAND, PRETOKENIZE_COMMAND, WEB_COMMAND, WEB_BUILD_COMMAND].map((c) => [c.name, c]),
);
