// The command line of every tsgrad command, one flag table each (parsed and printed by
// ./flags.ts): train's lives with its settings in ./config.ts, the others here.
// Promise: a command's --help lists exactly the flags it parses.
import { HF_MODELS } from '../data/pretrained.ts';
import { MAX_STORY_CHARS } from '../data/sources.ts';
import { backendFlag, type Command, type Flag } from './flags.ts';
import { TRAIN_COMMAND, TRAIN_FLAGS } from './config.ts';

export { TRAIN_COMMAND };

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

/** Every command, by its npm script name. */
export const COMMANDS: Record<string, Command> = Object.fromEntries(
  [TRAIN_COMMAND, TINYSTORIES_COMMAND, GENERATE_COMMAND, EVAL_COMMAND, PRETOKENIZE_COMMAND].map((c) => [c.name, c]),
);
