// `npm run eval -- --model DIR --data FILE.bin --ctx T [--batch-size B] [--max-batches N] [--json]`
// The mean next-token loss of a GPT-2 on a file of uint16 token ids, cut into windows of T+1
// tokens: window j is tokens[j·T … j·T+T], so W = ⌊(N−1)/T⌋ windows, taken in order.
// Promise: the loss is the mean over every token of every window evaluated; --json prints
// exactly { "loss": x, "windows": W } on stdout; a loss that is not finite is an error (exit 1).
import { existsSync } from 'node:fs';
import { evaluate } from '../evaluate.ts';
import { TokenDataset } from '../../data/dataset.ts';
import { evalBatches } from '../../data/loader.ts';
import { fromPretrained } from '../../data/pretrained.ts';
import { downloadBar, startProgress } from './progress.ts';
import { parseCommand, selectBackend } from './flags.ts';
import { EVAL_COMMAND } from './commands.ts';
import { runCli } from './run_cli.ts';
import { ConfigError } from '../errors.ts';

async function main(args: string[]): Promise<void> {
  const flags = parseCommand(EVAL_COMMAND, args) as { model: string; data: string; ctx: number; 'batch-size': number; 'max-batches'?: number; json?: boolean; backend?: string };
  const T = flags.ctx;
  const B = flags['batch-size'];
  const maxBatches = flags['max-batches'] ?? Infinity;
  if (!existsSync(flags.data)) throw new Error(`data file '${flags.data}' not found`);

  await selectBackend(flags.backend);
  const model = await fromPretrained(flags.model, { onDownload: downloadBar });
  if (T > model.cfg.n_ctx) throw new ConfigError(`--ctx ${T} exceeds the model's n_ctx ${model.cfg.n_ctx}`);

  const data = new TokenDataset(flags.data, T, { vocabSize: model.cfg.vocab_size });
  try {
    const bar = process.stderr.isTTY ? startProgress('eval', Math.min(data.length, B * maxBatches), 'windows') : undefined;
    const { loss, windows: W } = await evaluate(model, evalBatches(data, B, maxBatches), T, (n) => bar?.update(n));
    bar?.stop();
    if (!Number.isFinite(loss)) throw new Error(`${flags.model}: the loss on ${flags.data} is ${loss}: the model's weights hold NaN/Inf or overflow`);
    process.stdout.write((flags.json ? JSON.stringify({ loss, windows: W }) : `loss ${loss.toFixed(4)} over ${W} windows of ${T} tokens`) + '\n');
  } finally {
    data.close();
  }
}

runCli('eval', () => main(process.argv.slice(2)));
