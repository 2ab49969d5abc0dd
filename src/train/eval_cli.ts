// `npm run eval -- --model DIR --data FILE.bin --ctx T --batch-size B [--max-batches N] [--json]`
// The mean next-token loss of a GPT-2 on a file of uint16 token ids, cut into windows of T+1
// tokens: window j is tokens[j·T … j·T+T], so W = ⌊(N−1)/T⌋ windows, taken in order.
// Promise: the loss is the mean over every token of every window evaluated; --json prints
// exactly { "loss": x, "windows": W } on stdout; a loss that is not finite is an error (exit 1).
import { existsSync } from 'node:fs';
import { meanLoss } from './evaluate.ts';
import { evalBatches, TokenDataset } from '../data/dataset.ts';
import { fromPretrained } from '../gpt2/checkpoint.node.ts';
import { numberFlag, parseFlags, selectBackend } from './flags.ts';
import { runCli } from './cli.ts';
import { ConfigError } from './errors.ts';

async function main(args: string[]): Promise<void> {
  const flags = parseFlags(
    {
      model: { type: 'string' },
      data: { type: 'string' },
      ctx: { type: 'string' },
      'batch-size': { type: 'string' },
      'max-batches': { type: 'string' },
      json: { type: 'boolean' },
      backend: { type: 'string' },
    },
    args,
  );
  if (flags.model === undefined || flags.data === undefined || flags.ctx === undefined) {
    throw new ConfigError('--model DIR, --data FILE.bin and --ctx T are required');
  }
  const T = numberFlag('ctx', flags.ctx, 0, { min: 1, integer: true });
  const B = numberFlag('batch-size', flags['batch-size'], 8, { min: 1, integer: true });
  const maxBatches = numberFlag('max-batches', flags['max-batches'], Infinity, { min: 1, integer: true });
  if (!existsSync(flags.data)) throw new Error(`data file '${flags.data}' not found`);

  await selectBackend(flags.backend);
  const model = await fromPretrained(flags.model);
  if (T > model.cfg.n_ctx) throw new ConfigError(`--ctx ${T} exceeds the model's n_ctx ${model.cfg.n_ctx}`);

  const data = new TokenDataset(flags.data, T, { vocabSize: model.cfg.vocab_size });
  try {
    const progress = process.stderr.isTTY ? (n: number) => process.stderr.write(`\rwindows ${n}`) : undefined;
    const { loss, windows: W } = await meanLoss(model, evalBatches(data, B, maxBatches), T, progress);
    if (progress) process.stderr.write('\n');
    if (!Number.isFinite(loss)) throw new Error(`${flags.model}: the loss on ${flags.data} is ${loss}: the model's weights hold NaN/Inf or overflow`);
    process.stdout.write((flags.json ? JSON.stringify({ loss, windows: W }) : `loss ${loss.toFixed(4)} over ${W} windows of ${T} tokens`) + '\n');
  } finally {
    data.close();
  }
}

runCli('eval', () => main(process.argv.slice(2)));
