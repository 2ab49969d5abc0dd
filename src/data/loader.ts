// Batches of token windows, in memory and without Node APIs: DataLoader hands out a dataset's
// windows (TokenDataset reads them from a .bin, ./dataset.ts) in a resumable order,
// evalBatches goes through them once in order, randomBatch samples the seed's get_batch
// windows from tokens held in memory.
import { Rng } from '../autograd/random.ts';

/** B windows of T tokens: inputs x and next-token targets y, both row-major [B, T]. */
export interface Batch {
  x: Int32Array;
  y: Int32Array;
}

/** Numbered windows of T + 1 tokens, as TokenDataset reads them from a file. */
export interface TokenWindows {
  /** Number of windows, W. */
  readonly length: number;
  /** The windows `indices`, stacked: x and y of length indices.length · T. */
  batch(indices: ArrayLike<number>): Batch;
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
  readonly dataset: TokenWindows;
  readonly batchSize: number;
  readonly shuffle: boolean;
  private readonly rng: Rng;
  private position = 0;
  private order: Int32Array | null = null; // this epoch's permutation (shuffle only)
  private orderEpoch = -1;
  private epochRng: number[] | null = null;

  constructor(dataset: TokenWindows, options: DataLoaderOptions, state?: DataLoaderState) {
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
export function* evalBatches(dataset: TokenWindows, batchSize: number, maxBatches = Infinity): Generator<Batch> {
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
