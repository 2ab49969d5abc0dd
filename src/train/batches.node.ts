// The batches of a run in Node: the overfit text without --data, else the pretokenized
// --data DIR (train.bin, val.bin) read through TokenDataset.
// Promise: errors about missing or malformed data are thrown by openBatches, before training:
// every id of train.bin and val.bin is checked there (one pass over each file, which also lists
// train.bin's ids for a compact head).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TokenDataset } from '../data/dataset.ts';
import type { TrainConfig } from './config.ts';
import type { BatchSource } from './io.ts';
import { textBatches, windowBatches } from './batches.ts';

export function openBatches(cfg: TrainConfig): BatchSource {
  const dir = cfg.data;
  if (dir === null) return textBatches(cfg);
  const trainPath = join(dir, 'train.bin');
  const valPath = join(dir, 'val.bin');
  if (!existsSync(dir)) throw new Error(`--data ${dir}: no such directory`);
  if (!existsSync(trainPath)) throw new Error(`--data ${dir}: no train.bin there (make one with npm run pretokenize)`);
  if (cfg.evalEvery > 0 && !existsSync(valPath)) throw new Error(`--data ${dir}: no val.bin there, needed for --eval-every ${cfg.evalEvery} (or pass --eval-every 0)`);
  const train = new TokenDataset(trainPath, cfg.ctx, { fullScan: true });
  let val: TokenDataset | null = null;
  try {
    val = existsSync(valPath) ? new TokenDataset(valPath, cfg.ctx, { fullScan: true }) : null;
  } catch (err) {
    train.close();
    throw err;
  }
  const batches = windowBatches(cfg, train, val, () => {
    train.close();
    val?.close();
  });
  return { ...batches, vocabulary: () => train.idsSeen() };
}
