// Turns a stream of stories into a `.bin` of GPT-2 token ids (little-endian uint16), each story
// followed by <|endoftext|>, the format TokenDataset reads. Port of the seed's pretokenize_and_save.
// Promise: the .bin appears only when complete (temp file, fsync, rename) and not empty, with a
// `.bin.json` sidecar; a re-run with the same source and max-examples reuses it instead of
// redoing the work.

import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StorySource } from './sources.ts';
import { encodeOrdinary } from './tokenizer.ts';
import { EOT } from '../gpt2/config.ts';

export const BIN_FORMAT = 'gpt2 token ids, uint16 little-endian, <|endoftext|> after each story';
const CHUNK_TOKENS = 1 << 20; // tokens buffered between writes (2 MiB)

export interface PretokenizeOptions {
  /** Stop after this many stories (the seed's DatasetConfig.max_examples). */
  maxExamples?: number;
  /** Called every few hundred stories and once at the end. */
  onProgress?: (stories: number, tokens: number) => void;
}

export interface PretokenizeResult {
  path: string;
  stories: number;
  tokens: number;
  /** True when a finished file from an earlier run matched and was kept. */
  reused: boolean;
  seconds: number;
}

/** What the sidecar records; a finished .bin is reused only if this matches exactly. */
function recipe(source: StorySource, maxExamples: number | undefined) {
  return { format: BIN_FORMAT, source: source.identity, maxExamples: maxExamples ?? null };
}

async function reusable(outPath: string, wanted: ReturnType<typeof recipe>): Promise<{ stories: number; tokens: number } | undefined> {
  try {
    const sidecar = JSON.parse(await readFile(outPath + '.json', 'utf8'));
    const { stories, tokens, ...rest } = sidecar;
    const bin = await stat(outPath);
    if (JSON.stringify(rest) === JSON.stringify(wanted) && bin.size === 2 * tokens) return { stories, tokens };
  } catch {
    // no sidecar, unreadable sidecar or no .bin: build afresh
  }
  return undefined;
}

/** Tokenize `source` into `outPath` (see the file header). */
export async function pretokenizeAndSave(source: StorySource, outPath: string, options: PretokenizeOptions = {}): Promise<PretokenizeResult> {
  const { maxExamples } = options;
  if (maxExamples !== undefined && !(Number.isInteger(maxExamples) && maxExamples > 0)) {
    throw new Error(`maxExamples must be a positive integer, got ${maxExamples}`);
  }
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const wanted = recipe(source, maxExamples);
  const previous = await reusable(outPath, wanted);
  if (previous) return { path: outPath, ...previous, reused: true, seconds: seconds() };

  await mkdir(dirname(outPath), { recursive: true });
  await rm(outPath + '.json', { force: true }); // an old sidecar must never vouch for a new .bin
  const tmpPath = outPath + '.tmp';
  const file = await open(tmpPath, 'w');
  // Tokens are buffered and written when the buffer fills. (The seed wrote every
  // write_batch_size stories; its second version inverted that test, `if (i+1) % n:`, and so
  // wrote after every story except each n-th.)
  const chunk = new DataView(new ArrayBuffer(2 * CHUNK_TOKENS));
  let inChunk = 0;
  let written = 0;
  let stories = 0;
  const flush = async () => {
    await file.write(new Uint8Array(chunk.buffer, 0, 2 * inChunk));
    written += inChunk;
    inChunk = 0;
  };
  const append = async (ids: number[]) => {
    for (const id of ids) {
      chunk.setUint16(2 * inChunk++, id, true);
      if (inChunk === CHUNK_TOKENS) await flush();
    }
  };

  try {
    for await (const story of source.stories()) {
      const ids = encodeOrdinary(story);
      ids.push(EOT); // the seed's first version forgot this, so its stories ran into each other
      await append(ids);
      stories++;
      if (stories % 256 === 0) options.onProgress?.(stories, written + inChunk);
      if (stories === maxExamples) break; // before reading one more story (maybe a whole row group)
    }
    if (stories === 0) throw new Error(`${source.name}: no stories in it (0 tokens); nothing was written to ${outPath}`);
    // The seed's first version wrote `np.array(chunk)` here instead of the leftover batch_tokens:
    // the previous chunk a second time, or a NameError when no chunk had been written yet.
    await flush();
    await file.sync();
  } catch (err) {
    await file.close();
    await rm(tmpPath, { force: true });
    throw err;
  }
  await file.close();
  await rename(tmpPath, outPath);
  await writeFile(outPath + '.json.tmp', JSON.stringify({ ...wanted, stories, tokens: written }, null, 2) + '\n');
  await rename(outPath + '.json.tmp', outPath + '.json');
  options.onProgress?.(stories, written);
  return { path: outPath, stories, tokens: written, reused: false, seconds: seconds() };
}
