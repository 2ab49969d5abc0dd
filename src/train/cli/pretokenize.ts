// `npm run pretokenize -- --split train|validation --out DIR [--source hub|PATH] [--max-examples N] [--max-story-chars N]`
// Writes DIR/train.bin or DIR/val.bin (+ .json sidecar) from TinyStories on the hub or a local
// .txt/.parquet file; flags: PRETOKENIZE_COMMAND (./commands.ts).
// Exit codes: 0 done, 1 failed (message on stderr), 2 bad command line.
import { pretokenizeSplit } from './prepare.ts';
import type { Split } from '../../data/sources.ts';
import { parseCommand } from './flags.ts';
import { PRETOKENIZE_COMMAND } from './commands.ts';
import { runCli } from './run_cli.ts';

runCli('pretokenize', async () => {
  const flags = parseCommand(PRETOKENIZE_COMMAND, process.argv.slice(2)) as { source: string; split: Split; out: string; 'max-examples'?: number; 'max-story-chars': number };
  await pretokenizeSplit({ source: flags.source, split: flags.split, out: flags.out, maxExamples: flags['max-examples'], maxStoryChars: flags['max-story-chars'] });
});
