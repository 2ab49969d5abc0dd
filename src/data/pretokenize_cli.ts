// CLI: npm run pretokenize -- [--source hub|PATH] --split train|validation --out DIR [--max-examples N]
// Writes DIR/train.bin or DIR/val.bin (+ .json sidecar) from TinyStories on the hub or a local
// .txt/.parquet file. Exit codes: 0 done, 1 failed (message on stderr), 2 bad command line.

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Progress } from './progress.ts';
import type { Split, StorySource } from './sources.ts';

const USAGE = `usage: npm run pretokenize -- [--source hub|PATH] --split train|validation --out DIR [--max-examples N]

  --source hub     roneneldan/TinyStories from $HF_ENDPOINT (default https://huggingface.co),
                   cached in $TSGRAD_CACHE (default ~/.cache/huggingface/tsgrad) [default]
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
  const args = parseCommandLine();
  // Loaded only now, so --help and a bad command line answer at once (the tokenizer takes ~0.5 s to load).
  const { pretokenizeAndSave } = await import('./pretokenize.ts');
  const { startProgress } = await import('./progress.ts');
  const { hubSource, localSource } = await import('./sources.ts');
  const source: StorySource =
    args.source === 'hub'
      ? await hubSource(args.split, {
          maxExamples: args.maxExamples,
          onDownload: (file, size) => {
            const bar = startProgress(`download ${file}`, size, 'B');
            return { onProgress: ({ received }) => bar.update(received), done: () => bar.stop() };
          },
        })
      : await localSource(args.source);
  const outPath = join(args.out, args.split === 'train' ? 'train.bin' : 'val.bin');

  const total = Math.min(args.maxExamples ?? Infinity, source.count ?? Infinity);
  let bar: Progress | undefined; // started on the first report, so a reused file shows none
  const result = await pretokenizeAndSave(source, outPath, {
    maxExamples: args.maxExamples,
    onProgress: (stories) => {
      bar ??= startProgress(`tokenize ${args.split}`, Number.isFinite(total) ? total : 0, 'stories');
      bar.update(stories);
    },
  });
  bar?.stop();
  const n = result.tokens.toLocaleString('en-US');
  if (result.reused) {
    console.log(`${outPath} is up to date (${n} tokens, ${result.stories} stories); delete it to rebuild`);
  } else {
    const rate = (x: number) => Math.round(x / result.seconds).toLocaleString('en-US');
    console.log(`Wrote ${n} tokens to ${outPath} (${result.stories.toLocaleString('en-US')} stories in ${result.seconds.toFixed(1)} s: ${rate(result.stories)} stories/s, ${rate(result.tokens)} tokens/s)`);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`pretokenize: ${err.message}\n`);
  process.exit(1);
});
