// Where training batches come from. Two sources behind one interface:
//   - the seed's overfit text ("Hello, I am a large language model." × 500), random windows
//     drawn like the seed's get_batch;
//   - a pretokenized directory (train.bin, val.bin), read through TokenDataset/DataLoader.
// Promise: errors about missing or malformed data are thrown by openBatches, before training:
// every id of train.bin and val.bin is checked there (one pass over each file).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Rng } from '../autograd/random.ts';
import { DataLoader, evalBatches, randomBatch, TokenDataset, type Batch, type DataLoaderState } from '../data/dataset.ts';
import { encodeOrdinary } from '../data/tokenizer.ts';
import type { TrainConfig } from './config.ts';

export interface BatchSource {
  /** The next training batch, [B, T] inputs and targets. */
  next(rng: Rng): Batch;
  /** Validation batches in order, or null when there is no validation set. */
  evalBatches(batchSize: number, maxBatches: number): Iterable<Batch> | null;
  /** Position in the data, for checkpoints (null when the Rng alone determines it). */
  state(): DataLoaderState | null;
  loadState(state: DataLoaderState | null): void;
  close(): void;
}

/** The seed's overfit text: 4,500 GPT-2 tokens. */
export const OVERFIT_TEXT = 'Hello, I am a large language model.'.repeat(500);

function textSource(cfg: TrainConfig): BatchSource {
  const tokens = encodeOrdinary(OVERFIT_TEXT);
  if (tokens.length < cfg.ctx + 1) throw new Error(`--ctx ${cfg.ctx} is longer than the overfit text (${tokens.length} tokens)`);
  return {
    next: (rng) => randomBatch(tokens, cfg.ctx, cfg.batchSize, rng),
    evalBatches: () => null,
    state: () => null,
    loadState: () => {},
    close: () => {},
  };
}

function fileSource(cfg: TrainConfig, dir: string): BatchSource {
  const trainPath = join(dir, 'train.bin');
  const valPath = join(dir, 'val.bin');
  if (!existsSync(dir)) throw new Error(`--data ${dir}: no such directory`);
  if (!existsSync(trainPath)) throw new Error(`--data ${dir}: no train.bin there (make one with npm run pretokenize)`);
  if (cfg.evalEvery > 0 && !existsSync(valPath)) throw new Error(`--data ${dir}: no val.bin there, needed for --eval-every ${cfg.evalEvery} (or pass --eval-every 0)`);
  const train = new TokenDataset(trainPath, cfg.ctx, { fullScan: true });
  const val = existsSync(valPath) ? new TokenDataset(valPath, cfg.ctx, { fullScan: true }) : null;
  const loader = new DataLoader(train, { batchSize: cfg.batchSize, shuffle: cfg.shuffle, seed: cfg.seed });
  return {
    next: () => loader.nextBatch(),
    evalBatches: (B, max) => (val === null ? null : evalBatches(val, B, max)),
    state: () => loader.state(),
    loadState: (s) => {
      if (s !== null) loader.loadState(s);
    },
    close: () => {
      train.close();
      val?.close();
    },
  };
}

export function openBatches(cfg: TrainConfig): BatchSource {
  return cfg.data === null ? textSource(cfg) : fileSource(cfg, cfg.data);
}
