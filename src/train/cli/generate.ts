// `npm run generate -- --model DIR|gpt2 --prompt "Once upon a time" --max-new-tokens 100`
// Loads a GPT-2 (a Hugging Face model directory, or OpenAI's by name) and continues a prompt,
// streaming the text to stdout as tokens arrive. Promise: with --json, stdout holds exactly
// one JSON object { prompt_ids, ids, text } and nothing else; mistakes exit with code 2.
import { decode, encodeOrdinary } from '../../data/tokenizer.ts';
import { EOT } from '../../gpt2/config.ts';
import { fromPretrained } from '../../data/pretrained.ts';
import { generate } from '../../gpt2/generate.ts';
import { downloadBar } from './progress.ts';
import { parseCommand, selectBackend } from './flags.ts';
import { GENERATE_COMMAND } from './commands.ts';
import { runCli } from './run_cli.ts';
import { ConfigError } from '../errors.ts';

/** "1, 2,3" → [1, 2, 3]. */
function parseIds(list: string): number[] {
  return list.split(',').map((s) => {
    const id = Number(s.trim());
    if (s.trim() === '' || !Number.isInteger(id) || id < 0) throw new ConfigError(`--prompt-ids must be comma-separated token ids, got '${list}'`);
    return id;
  });
}

async function main(args: string[]): Promise<void> {
  const flags = parseCommand(GENERATE_COMMAND, args) as {
    model: string; prompt?: string; 'prompt-ids'?: string; 'max-new-tokens': number; temperature?: number; 'top-k'?: number; 'top-p'?: number;
    seed?: number; greedy?: boolean; 'stop-at-eot'?: boolean; 'no-cache'?: boolean; json?: boolean; backend?: string;
  };
  if (flags.prompt !== undefined && flags['prompt-ids'] !== undefined) throw new ConfigError('give --prompt or --prompt-ids, not both');
  if (flags.greedy && flags.temperature !== undefined) throw new ConfigError('--greedy means temperature 0; drop --temperature');
  const temperature = flags.greedy ? 0 : (flags.temperature ?? 1);
  const seed = flags.seed ?? Math.floor(Math.random() * 2 ** 31);
  const promptIds = flags['prompt-ids'] !== undefined ? parseIds(flags['prompt-ids']) : flags.prompt !== undefined ? encodeOrdinary(flags.prompt) : [EOT];
  if (promptIds.length === 0) throw new ConfigError('--prompt is empty');

  await selectBackend(flags.backend);
  const model = await fromPretrained(flags.model, { onDownload: downloadBar });
  if (flags.seed === undefined && temperature > 0) process.stderr.write(`seed ${seed}\n`); // to reproduce this run

  // Stream: decode everything so far and print what is new, holding back a trailing U+FFFD
  // (a character whose UTF-8 bytes are split across tokens, completed by the next token).
  const ids: number[] = [];
  let printed = '';
  const promptText = decode(promptIds);
  if (!flags.json) process.stdout.write(promptText);
  const onToken = (id: number) => {
    ids.push(id);
    if (flags.json) return;
    const text = decode(ids);
    if (text.endsWith('\uFFFD')) return;
    process.stdout.write(text.slice(printed.length));
    printed = text;
  };
  try {
    await generate(model, promptIds, { maxNewTokens: flags['max-new-tokens'], temperature, topK: flags['top-k'] ?? null, topP: flags['top-p'] ?? null, seed, stopAtEot: flags['stop-at-eot'], onToken, useCache: !flags['no-cache'] });
  } catch (err) {
    throw new Error(`${flags.model}: ${(err as Error).message}`); // the options were checked above: what fails here is the model
  }
  const text = decode(ids);
  if (flags.json) process.stdout.write(JSON.stringify({ prompt_ids: promptIds, ids, text }) + '\n');
  else process.stdout.write(text.slice(printed.length) + '\n');
}

runCli('generate', () => main(process.argv.slice(2)));
