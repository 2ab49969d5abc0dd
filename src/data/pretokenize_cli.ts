// CLI: npm run pretokenize -- [--source hub|PATH] --split train|validation --out DIR [--max-examples N] [--max-story-chars N]
// Writes DIR/train.bin or DIR/val.bin (+ .json sidecar) from TinyStories on the hub or a local
// .txt/.parquet file. Exit codes: 0 done, 1 failed (message on stderr), 2 bad command line.

import { parseArgs } from 'node:util';
import { pretokenizeSplit } from './prepare.ts';
import { MAX_STORY_CHARS, type Split } from './sources.ts';

const USAGE = `usage: npm run pretokenize -- [--source hub|PATH] --split train|validation --out DIR [--max-examples N] [--max-story-chars N]

  --source hub       roneneldan/TinyStories from $HF_ENDPOINT (default https://huggingface.co),
                     cached in $TSGRAD_CACHE (default ~/.cache/huggingface/tsgrad); shards already
                     in the Hugging Face cache ($HF_HOME/hub) are used as they are [default]
  --source PATH      a local .parquet file (column 'text') or a .txt of stories separated by
                     <|endoftext|> lines, e.g. ../shared/data/tinystories/train.txt
  --split            train → DIR/train.bin, validation → DIR/val.bin
  --max-examples     stop after N stories
  --max-story-chars  refuse a story longer than N characters (default ${MAX_STORY_CHARS.toLocaleString('en-US')}),
                     such as a whole .txt without <|endoftext|> lines`;

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
        'max-story-chars': { type: 'string' },
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
  const positive = (flag: 'max-examples' | 'max-story-chars') => {
    const v = values[flag];
    if (v !== undefined && !/^[1-9]\d*$/.test(v)) usageError(`--${flag} must be a positive integer, got '${v}'`);
    return v === undefined ? undefined : Number(v);
  };
  return { source: values.source, split: values.split as Split, out: values.out, maxExamples: positive('max-examples'), maxStoryChars: positive('max-story-chars') };
}

async function main() {
  await pretokenizeSplit(parseCommandLine());
}

main().catch((err: Error) => {
  process.stderr.write(`pretokenize: ${err.message}\n`);
  process.exit(1);
});
