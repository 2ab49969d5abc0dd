// Training examples from a pretokenized `.bin`: TokenDataset reads fixed windows from the file on
// demand (like np.memmap, so a 2 GB file needs no 2 GB of memory); ./loader.ts batches them.
// Promise: every id read is checked against the vocabulary, and every error names the file; a
// full scan also lists the ids the file holds (idsSeen), what a compact head keeps.

import { closeSync, fstatSync, readSync } from 'node:fs';
import { openRegularFile } from './regular_file.ts';
import { VOCAB_SIZE } from '../gpt2/config.ts';
import type { Batch, TokenWindows } from './loader.ts';

export interface TokenDatasetOptions {
  /** Ids must be below this (default GPT-2's 50257). */
  vocabSize?: number;
  /** Check every id up front instead of only the windows that are read (one pass over the file, which also lists the ids seen). */
  fullScan?: boolean;
}

/**
 * Window j is tokens[j·T … j·T+T]: T+1 tokens, the first T are inputs, the last T targets.
 * Windows do not overlap and each needs one token past its T inputs, so there are
 * W = ⌊(N−1)/T⌋ of them. (The seed's TokenDataset said N // T, whose last window could come
 * up one target short.)
 */
export class TokenDataset implements TokenWindows {
  readonly path: string;
  readonly blockSize: number;
  readonly numTokens: number;
  readonly length: number;
  readonly vocabSize: number;
  private fd: number | undefined;
  private readonly view: DataView; // T+1 tokens of one window, as read from disk
  private seen: Uint8Array | null = null; // [vocabSize] 1 where the full scan met the id

  constructor(path: string, blockSize: number, options: TokenDatasetOptions = {}) {
    if (!Number.isInteger(blockSize) || blockSize < 1) throw new Error(`TokenDataset: block size must be a positive integer, got ${blockSize}`);
    this.path = path;
    this.blockSize = blockSize;
    this.vocabSize = options.vocabSize ?? VOCAB_SIZE;
    this.fd = openRegularFile(path);
    try {
      const size = fstatSync(this.fd).size;
      if (size % 2 !== 0) throw new Error(`${path}: ${size} bytes is an odd length, so not a file of uint16 tokens`);
      this.numTokens = size / 2;
      this.length = Math.floor((this.numTokens - 1) / blockSize);
      if (this.length < 1) {
        throw new Error(`${path}: ${this.numTokens} tokens is too few for one window of ${blockSize} inputs + 1 target`);
      }
      this.view = new DataView(new ArrayBuffer(2 * (blockSize + 1)));
      if (options.fullScan) this.scan();
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Read `count` tokens from token offset `start` into `view` (this window's by default) and check their ids. */
  private read(start: number, count: number, view = this.view): void {
    if (this.fd === undefined) throw new Error(`${this.path}: dataset is closed`);
    const got = readSync(this.fd, view, 0, 2 * count, 2 * start);
    if (got !== 2 * count) throw new Error(`${this.path}: short read at token ${start} (file changed?)`);
    for (let i = 0; i < count; i++) {
      const id = view.getUint16(2 * i, true);
      if (id >= this.vocabSize) throw new Error(`${this.path}: token ${start + i} is ${id}, not below vocab size ${this.vocabSize}`);
    }
  }

  /** Every id of the file, read 1M tokens at a time, checked and marked as seen. */
  private scan(): void {
    const chunk = Math.min(this.numTokens, 1 << 20);
    const view = new DataView(new ArrayBuffer(2 * chunk));
    const seen = new Uint8Array(this.vocabSize);
    for (let start = 0; start < this.numTokens; start += chunk) {
      const count = Math.min(chunk, this.numTokens - start);
      this.read(start, count, view);
      for (let i = 0; i < count; i++) seen[view.getUint16(2 * i, true)] = 1;
    }
    this.seen = seen;
  }

  /** The ids the file holds, ascending (needs the full scan: options.fullScan). */
  idsSeen(): Int32Array {
    if (this.seen === null) throw new Error(`${this.path}: the ids it holds are listed by a full scan (TokenDataset option fullScan)`);
    const ids: number[] = [];
    this.seen.forEach((s, id) => s && ids.push(id));
    return Int32Array.from(ids);
  }

  /** Copy window j's inputs and targets into x and y at element offset `at`. */
  private fill(j: number, x: Int32Array, y: Int32Array, at: number): void {
    if (!Number.isInteger(j) || j < 0 || j >= this.length) throw new Error(`${this.path}: window ${j} out of range [0, ${this.length})`);
    const T = this.blockSize;
    this.read(j * T, T + 1);
    for (let t = 0; t < T; t++) {
      x[at + t] = this.view.getUint16(2 * t, true);
      y[at + t] = this.view.getUint16(2 * t + 2, true);
    }
  }

  /** Window j as T inputs and the T targets that follow each. */
  window(j: number): Batch {
    return this.batch([j]);
  }

  /** The windows `indices`, stacked: x and y of length indices.length · T. */
  batch(indices: ArrayLike<number>): Batch {
    const T = this.blockSize;
    const x = new Int32Array(indices.length * T);
    const y = new Int32Array(indices.length * T);
    for (let b = 0; b < indices.length; b++) this.fill(indices[b], x, y, b * T);
    return { x, y };
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
