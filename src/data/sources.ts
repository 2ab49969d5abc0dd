// Where stories come from: a TinyStories-style .txt (stories separated by `<|endoftext|>` lines),
// a parquet file with a `text` column, or the Hugging Face dataset roneneldan/TinyStories.
// Promise: every source yields stories one at a time, reading files in pieces (text in stream
// chunks, parquet one row group at a time), so memory stays bounded by the longest story, which
// may hold at most maxStoryChars characters (a .txt without separators is refused, not read
// whole); each source names itself with an identity for caching.

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { asyncBufferFromFile, parquetMetadataAsync, parquetRead, parquetSchema } from 'hyparquet';
import { hfEndpoint, hubFile, hubListing, type DownloadReporter, type HubFile } from './hub.ts';

export const TINYSTORIES_REPO = 'roneneldan/TinyStories';
export type Split = 'train' | 'validation';

/**
 * The TinyStories sample kept beside the repository for offline use and tests
 * (`<repo>/../shared/data/tinystories/`): 12,688 train and 1,727 validation stories.
 */
export function sharedTinyStoriesPath(file: 'train.txt' | 'valid.txt'): string {
  return fileURLToPath(new URL(`../../../shared/data/tinystories/${file}`, import.meta.url));
}

export interface StorySource {
  /** What to call it in messages: a path, or the hub repository and split. */
  name: string;
  /** JSON-able description that changes whenever the stories could (path+size+mtime, file ids). */
  identity: unknown;
  /** Number of stories, where known without reading them all (parquet row counts). */
  count?: number;
  stories(): AsyncGenerator<string>;
}

const SEPARATOR = '<|endoftext|>';

/** The longest story a source accepts by default, in characters (TinyStories' longest: ~7,000). */
export const MAX_STORY_CHARS = 1_000_000;

export interface StoryOptions {
  /** Refuse a story longer than this many characters (default MAX_STORY_CHARS). */
  maxStoryChars?: number;
}

function storyTooLong(where: string, story: number, max: number): Error {
  return new Error(
    `${where}: story ${story.toLocaleString('en-US')} is longer than ${max.toLocaleString('en-US')} characters ` +
      `(stories in a .txt are separated by ${SEPARATOR} lines); raise --max-story-chars if your stories really are this long`,
  );
}

/**
 * Stories of a .txt file, split on `<|endoftext|>`, trimmed; empty pieces are skipped. Text is
 * held only up to the next separator, and a story that runs past maxStoryChars is an error.
 */
export async function* textFileStories(path: string, options: StoryOptions = {}): AsyncGenerator<string> {
  const max = options.maxStoryChars ?? MAX_STORY_CHARS;
  let pending = '';
  let index = 0;
  const take = (piece: string) => {
    const story = piece.trim();
    if (story.length > max) throw storyTooLong(path, index + 1, max);
    if (story) index++;
    return story;
  };
  // 'utf8' decoding in the stream keeps characters split across chunks intact
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const pieces = (pending + chunk).split(SEPARATOR);
    pending = pieces.pop()!; // may be the start of a story (or separator) continuing in the next chunk
    for (const piece of pieces) {
      const story = take(piece);
      if (story) yield story;
    }
    // the unfinished story, which may end in the first characters of a separator cut in two
    if (pending.trim().length - (SEPARATOR.length - 1) > max) throw storyTooLong(path, index + 1, max);
  }
  const last = take(pending);
  if (last) yield last;
}

async function openParquet(path: string) {
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file).catch((err: Error) => {
    throw new Error(`${path}: not a readable parquet file (${err.message})`, { cause: err });
  });
  return { file, metadata };
}

async function parquetRowCount(path: string): Promise<number> {
  return Number((await openParquet(path)).metadata.num_rows);
}

/** The `text` column of a parquet file, read one row group at a time. */
export async function* parquetStories(path: string, options: StoryOptions = {}): AsyncGenerator<string> {
  const max = options.maxStoryChars ?? MAX_STORY_CHARS;
  const { file, metadata } = await openParquet(path);
  const columns = parquetSchema(metadata).children.map((c) => c.element.name);
  if (!columns.includes('text')) throw new Error(`${path}: parquet file has no 'text' column (it has: ${columns.join(', ')})`);

  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    let rows: unknown[][] = [];
    await parquetRead({ file, metadata, columns: ['text'], rowStart, rowEnd, onComplete: (r) => (rows = r) }).catch((err: Error) => {
      throw new Error(`${path}: cannot read rows ${rowStart}–${rowEnd} (${err.message})`, { cause: err });
    });
    for (let i = 0; i < rows.length; i++) {
      const text = rows[i][0];
      if (typeof text !== 'string') throw new Error(`${path}: row ${rowStart + i} has no text (${String(text)})`);
      if (text.length > max) throw storyTooLong(path, rowStart + i + 1, max);
      yield text;
    }
    rowStart = rowEnd;
  }
}

/** A local .parquet or text file. */
export async function localSource(path: string, options: StoryOptions = {}): Promise<StorySource> {
  const abs = resolve(path);
  const info = await stat(abs).catch(() => {
    throw new Error(`source file not found: ${abs}`);
  });
  if (!info.isFile()) throw new Error(`${abs} is ${info.isDirectory() ? 'a directory' : 'not a regular file'}; a source is a .txt or .parquet file of stories`);
  const isParquet = abs.endsWith('.parquet');
  return {
    name: abs,
    identity: { kind: isParquet ? 'parquet' : 'text', path: abs, size: info.size, mtimeMs: info.mtimeMs },
    count: isParquet ? await parquetRowCount(abs) : undefined,
    stories: () => (isParquet ? parquetStories(abs, options) : textFileStories(abs, options)),
  };
}

/** The parquet shards of one split, from the hub's tree API (sorted: train-00000…, train-00001…). */
export async function hubSplitFiles(repo: string, split: Split, revision = 'main'): Promise<HubFile[]> {
  const files = (await hubListing(repo, 'dataset', 'data', revision))
    .filter((f) => f.path.startsWith(`data/${split}-`) && f.path.endsWith('.parquet'))
    .sort((a, b) => a.path.localeCompare(b.path));
  if (files.length === 0) throw new Error(`${repo} has no parquet files for split '${split}' under data/ (listed at ${hfEndpoint()})`);
  return files;
}

export interface HubSourceOptions extends StoryOptions {
  repo?: string;
  revision?: string;
  /** Fetch only as many shards as needed for this many stories. */
  maxExamples?: number;
  /** Called when a shard download starts (not for cached shards); returns its progress callbacks. */
  onDownload?: (file: string, size: number) => DownloadReporter;
}

/**
 * One split of a hub dataset. Shards are downloaded into the cache up front (so downloading and
 * tokenizing do not share the terminal), but only as many as `maxExamples` needs:
 * `--max-examples 1000` fetches one shard, not four.
 */
export async function hubSource(split: Split, options: HubSourceOptions = {}): Promise<StorySource> {
  const repo = options.repo ?? TINYSTORIES_REPO;
  const revision = options.revision ?? 'main';
  const files = await hubSplitFiles(repo, split, revision);
  const local: string[] = [];
  let count = 0;
  for (const file of files) {
    if (options.maxExamples !== undefined && count >= options.maxExamples) break;
    const onDownload = options.onDownload && (() => options.onDownload!(file.path, file.size)); // no bar for a cached shard
    const path = await hubFile(repo, 'dataset', file, { revision, onDownload });
    local.push(path);
    count += await parquetRowCount(path);
  }
  async function* stories(): AsyncGenerator<string> {
    for (const path of local) yield* parquetStories(path, options);
  }
  return { name: `${repo} (${split})`, identity: { kind: 'hub', repo, revision, files }, count, stories };
}
