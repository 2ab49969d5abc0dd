// Where training batches come from, without Node APIs (BatchSource, ./io.ts):
//   - the seed's overfit text ("Hello, I am a large language model." × 500), random windows
//     drawn like the seed's get_batch;
//   - numbered token windows (a .bin read by TokenDataset, ./batches.node.ts), through a
//     resumable, seeded DataLoader, with validation windows in order.
// Promise: errors about data too short for the window are thrown here, before training.
import type { Rng } from '../autograd/random.ts';
import { DataLoader, evalBatches, randomBatch, type TokenWindows } from '../data/loader.ts';
import { encodeOrdinary } from '../data/tokenizer.ts';
import type { TrainConfig } from './config.ts';
import type { BatchSource } from './io.ts';

/** The seed's overfit text: 4,500 GPT-2 tokens. */
export const OVERFIT_TEXT = 'Hello, I am a large language model.'.repeat(500);

/** Random windows of the overfit text, drawn with the loop's Rng (which checkpoints save). */
export function textBatches(cfg: TrainConfig): BatchSource {
  const tokens = encodeOrdinary(OVERFIT_TEXT);
  if (tokens.length < cfg.ctx + 1) throw new Error(`--ctx ${cfg.ctx} is longer than the overfit text (${tokens.length} tokens)`);
  return {
    next: (rng: Rng) => randomBatch(tokens, cfg.ctx, cfg.batchSize, rng),
    vocabulary: () => Int32Array.from(new Set(tokens)).sort(),
    evalBatches: () => null,
    state: () => null,
    loadState: () => {},
    close: () => {},
  };
}

/** Training windows shuffled per epoch with cfg.seed (or in order), validation windows in order. */
export function windowBatches(cfg: TrainConfig, train: TokenWindows, val: TokenWindows | null, close: () => void): BatchSource {
  const loader = new DataLoader(train, { batchSize: cfg.batchSize, shuffle: cfg.shuffle, seed: cfg.seed });
  return {
    next: () => loader.nextBatch(),
    evalBatches: (B, max) => (val === null ? null : evalBatches(val, B, max)),
    state: () => loader.state(),
    loadState: (s) => {
      if (s !== null) loader.loadState(s);
    },
    close,
  };
}
