// Training examples from a pretokenized `.bin`: TokenDataset reads fixed windows from the file on
// demand (like np.memmap, so a 2 GB file needs no 2 GB of memory), DataLoader batches them in a
// resumable order, randomBatch samples the seed's get_batch windows from tokens in memory.

import { closeSync, fstatSync, readSync } from 'node:fs';
import { Rng } from '../autograd/random.ts';
import { openRegularFile } from './regular_file.ts';
import { VOCAB_SIZE } from '../gpt2/config.ts';

/** B windows of T tokens: inputs x and next-token targets y, both row-major [B, T]. */
export interface Batch {
  x: Int32Array;
  y: Int32Array;
}

export interface TokenDatasetOptions {
  /** Ids must be below this (default GPT-2's 50257). */
  vocabSize?: number;
  /** Check every id up front instead of only the windows that are read (one pass over the file). */
  fullScan?: boolean;
}

/**
 * Window j is tokens[j·T … j·T+T]: T+1 tokens, the first T are inputs, the last T targets.
 * Windows do not overlap and each needs one token past its T inputs, so there are
 * W = ⌊(N−1)/T⌋ of them. (The seed's TokenDataset said N // T, whose last window could come
 * up one target short.)
 */
export class TokenDataset {
  readonly path: string;
  readonly blockSize: number;
  readonly numTokens: number;
  readonly length: number;
  readonly vocabSize: number;
  private fd: number | undefined;
  private readonly view: DataView; // T+1 tokens of one window, as read from disk

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

  /** Every id of the file, read 1M tokens at a time. */
  private scan(): void {
    const chunk = Math.min(this.numTokens, 1 << 20);
    const view = new DataView(new ArrayBuffer(2 * chunk));
    for (let start = 0; start < this.numTokens; start += chunk) this.read(start, Math.min(chunk, this.numTokens - start), view);
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

export interface DataLoaderOptions {
  batchSize: number;
  shuffle?: boolean;
  seed?: number;
}

/** Where a DataLoader stands; JSON-able, for checkpoints. */
export interface DataLoaderState {
  /** Windows handed out so far, over all epochs. */
  position: number;
  /** Rng state just before this epoch's permutation was drawn (null without shuffle). */
  epochRng: number[] | null;
  numWindows: number;
  shuffle: boolean;
}

/**
 * Endless batches of B windows. The windows are numbered s = 0, 1, 2, … across epochs;
 * window s is order_e[s mod W] with epoch e = ⌊s/W⌋, where order_e is the identity without
 * shuffle and a fresh seeded permutation per epoch with it. So without shuffle, batch k holds
 * windows (k·B + i) mod W, i = 0 … B−1, and a batch may straddle two epochs.
 */
export class DataLoader {
  readonly dataset: TokenDataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  private readonly rng: Rng;
  private position = 0;
  private order: Int32Array | null = null; // this epoch's permutation (shuffle only)
  private orderEpoch = -1;
  private epochRng: number[] | null = null;

  constructor(dataset: TokenDataset, options: DataLoaderOptions, state?: DataLoaderState) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new Error(`DataLoader: batchSize must be a positive integer, got ${options.batchSize}`);
    this.dataset = dataset;
    this.batchSize = options.batchSize;
    this.shuffle = options.shuffle ?? false;
    this.rng = new Rng(options.seed ?? 0);
    if (state) this.loadState(state);
  }

  /** Epoch of the next window to be handed out (0-based). */
  get epoch(): number {
    return Math.floor(this.position / this.dataset.length);
  }

  /** The next batch: x, y of length B·T. */
  nextBatch(): Batch {
    const indices = new Int32Array(this.batchSize);
    for (let i = 0; i < this.batchSize; i++) indices[i] = this.windowAt(this.position++);
    return this.dataset.batch(indices);
  }

  private windowAt(s: number): number {
    const W = this.dataset.length;
    if (!this.shuffle) return s % W;
    const epoch = Math.floor(s / W);
    while (this.orderEpoch < epoch) {
      this.epochRng = this.rng.getState();
      this.order = this.rng.permutation(W);
      this.orderEpoch++;
    }
    return this.order![s % W];
  }

  state(): DataLoaderState {
    // Make sure the permutation of the epoch we are in has been drawn, so epochRng refers to it.
    if (this.shuffle) this.windowAt(this.position);
    return { position: this.position, epochRng: this.epochRng, numWindows: this.dataset.length, shuffle: this.shuffle };
  }

  /** Continue exactly where the DataLoader that produced `state` was. */
  loadState(state: DataLoaderState): void {
    if (state.numWindows !== this.dataset.length || state.shuffle !== this.shuffle) {
      throw new Error(
        `DataLoader state is for ${state.numWindows} windows with shuffle=${state.shuffle}, ` +
          `but this loader has ${this.dataset.length} windows with shuffle=${this.shuffle}`,
      );
    }
    this.position = state.position;
    if (this.shuffle) {
      if (!state.epochRng) throw new Error('DataLoader state for a shuffled loader lacks epochRng');
      this.rng.setState(state.epochRng);
      this.epochRng = state.epochRng;
      this.order = this.rng.permutation(this.dataset.length);
      this.orderEpoch = this.epoch;
    }
  }
}

/**
 * Validation batches: windows 0, 1, 2, … in order, B at a time, each window once (the last
 * batch may be smaller), stopping after maxBatches. Unlike DataLoader it never wraps around,
 * so an average over these batches weighs every window the same.
 */
export function* evalBatches(dataset: TokenDataset, batchSize: number, maxBatches = Infinity): Generator<Batch> {
  for (let k = 0; k < maxBatches && k * batchSize < dataset.length; k++) {
    const count = Math.min(batchSize, dataset.length - k * batchSize);
    yield dataset.batch(Int32Array.from({ length: count }, (_, i) => k * batchSize + i));
  }
}

/**
 * B random windows of T+1 tokens from tokens held in memory (the seed's get_batch, used by the
 * overfit-one-text loop). Starts are uniform in [0, N−T−1], the same bound as the seed's
 * torch.randint(0, N−T), so the last target is at most token N−1.
 */
export function randomBatch(tokens: ArrayLike<number>, blockSize: number, batchSize: number, rng: Rng): Batch {
  const N = tokens.length;
  const T = blockSize;
  if (N < T + 1) throw new Error(`randomBatch: ${N} tokens is too few for a window of ${T} inputs + 1 target`);
  const x = new Int32Array(batchSize * T);
  const y = new Int32Array(batchSize * T);
  for (let b = 0; b < batchSize; b++) {
    const start = rng.int(N - T);
    for (let t = 0; t < T; t++) {
      x[b * T + t] = tokens[start + t];
      y[b * T + t] = tokens[start + t + 1];
    }
  }
  return { x, y };
}
