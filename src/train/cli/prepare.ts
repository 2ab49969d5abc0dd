// One split of TinyStories, from wherever its stories are to DIR/train.bin or DIR/val.bin,
// with download and tokenize progress on stderr and a one-line summary. Shared by
// `npm run pretokenize` (one split) and `npm run train:tinystories` (both splits).
// Promise: a finished .bin from the same source is reused, not rebuilt.
import { join } from 'node:path';
import { pretokenizeAndSave, type PretokenizeResult } from '../../data/pretokenize.ts';
import { hubSource, localSource, type Split, type StorySource } from '../../data/sources.ts';
import { downloadBar, startProgress, type Progress } from './progress.ts';

export interface PrepareOptions {
  /** 'hub' (roneneldan/TinyStories) or a local .txt/.parquet path. */
  source: string;
  split: Split;
  /** Output directory; the file is train.bin or val.bin inside it. */
  out: string;
  maxExamples?: number;
  /** Refuse stories longer than this many characters (default MAX_STORY_CHARS). */
  maxStoryChars?: number;
  /** Where the summary line goes. */
  log?: (line: string) => void;
}

export async function pretokenizeSplit(opts: PrepareOptions): Promise<PretokenizeResult> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const source: StorySource =
    opts.source === 'hub'
      ? await hubSource(opts.split, {
          maxExamples: opts.maxExamples,
          maxStoryChars: opts.maxStoryChars,
          onDownload: downloadBar,
        })
      : await localSource(opts.source, { maxStoryChars: opts.maxStoryChars });
  const outPath = join(opts.out, opts.split === 'train' ? 'train.bin' : 'val.bin');

  const total = Math.min(opts.maxExamples ?? Infinity, source.count ?? Infinity);
  let bar: Progress | undefined; // started on the first report, so a reused file shows none
  const result = await pretokenizeAndSave(source, outPath, {
    maxExamples: opts.maxExamples,
    onProgress: (stories) => {
      bar ??= startProgress(`tokenize ${opts.split}`, Number.isFinite(total) ? total : 0, 'stories');
      bar.update(stories);
    },
  });
  bar?.stop();
  const n = result.tokens.toLocaleString('en-US');
  if (result.reused) {
    log(`${outPath} is up to date (${n} tokens, ${result.stories} stories); delete it to rebuild`);
  } else {
    const rate = (x: number) => Math.round(x / result.seconds).toLocaleString('en-US');
    log(`Wrote ${n} tokens to ${outPath} (${result.stories.toLocaleString('en-US')} stories in ${result.seconds.toFixed(1)} s: ${rate(result.stories)} stories/s, ${rate(result.tokens)} tokens/s)`);
  }
  return result;
}
