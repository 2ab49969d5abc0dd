// CLI: npm run pretokenize -- [--source hub|PATH] --split train|validation --out DIR [--max-examples N]
// Writes DIR/train.bin or DIR/val.bin (+ .json sidecar) from TinyStories on the hub or a local
// .txt/.parquet file. Exit codes: 0 done, 1 failed (message on stderr), 2 bad command line.

import { parseArgs } from 'node:util';
import { pretokenizeSplit } from './prepare.ts';
import type { Split } from './sources.ts';

const USAGE = `usage: npm run pretokenize -- [--source hub|PATH] --split train|validation --out DIR [--max-examples N]

  --source hub     roneneldan/TinyStories from $HF_ENDPOINT (default https://huggingface.co),
                   cached in $TSGRAD_CACHE (default ~/.cache/huggingface/tsgrad); shards already
                   in the Hugging Face cache ($HF_HOME/hub) are used as they are [default]
  --source PATH    a local .parquet file (column 'text') or a .txt of stories separated by
                   <|endoftext|> lines, e.g. ../shared/data/tinystories/train.txt
  --split          train → DIR/train.bin, validation → DIR/val.bin
  --max-examples   stop after N stories`;

function usageError(message: string): never {
  process.stderr.write(`pretokenize: ${message} (--help for usage)\n`);
  process.exit(2);
}

function parseCommandLine() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        source: { type: 'string', default: 'hub' },
        split: { type: 'string' },
        out: { type: 'string' },
        'max-examples': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    usageError((err as Error).message.split('\n')[0]);
  }
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  if (values.split !== 'train' && values.split !== 'validation') usageError(`--split must be train or validation, got ${values.split ?? 'nothing'}`);
  if (!values.out) usageError('--out DIR is required');
  const max = values['max-examples'];
  if (max !== undefined && !/^[1-9]\d*$/.test(max)) usageError(`--max-examples must be a positive integer, got '${max}'`);
  return { source: values.source, split: values.split as Split, out: values.out, maxExamples: max === undefined ? undefined : Number(max) };
}

async function main() {
  await pretokenizeSplit(parseCommandLine());
}

main().catch((err: Error) => {
  process.stderr.write(`pretokenize: ${err.message}\n`);
  process.exit(1);
});
