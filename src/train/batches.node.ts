// The batches of a run in Node: the overfit text without --data, else the pretokenized
// --data DIR (train.bin, val.bin) read through TokenDataset.
// Promise: errors about missing or malformed data are thrown by openBatches (and dataFiles, which
// `npm run web -- --data DIR` shares), before training: every id of train.bin and val.bin is
// checked there (one pass over each file, which also lists train.bin's ids for a compact head).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TokenDataset } from '../data/dataset.ts';
import type { TrainConfig } from './config.ts';
import type { BatchSource } from './io.ts';
import { textBatches, windowBatches } from './batches.ts';

/** DIR/train.bin and DIR/val.bin (null when absent), checked to exist; val.bin is required when `needVal`. */
export function dataFiles(dir: string, needVal: string | null): { train: string; val: string | null } {
  const train = join(dir, 'train.bin');
  const val = join(dir, 'val.bin');
  if (!existsSync(dir)) throw new Error(`--data ${dir}: no such directory`);
  if (!existsSync(train)) throw new Error(`--data ${dir}: no train.bin there (make one with npm run pretokenize)`);
  if (needVal !== null && !existsSync(val)) throw new Error(`--data ${dir}: no val.bin there, needed for ${needVal}`);
  return { train, val: existsSync(val) ? val : null };
}

export function openBatches(cfg: TrainConfig): BatchSource {
  if (cfg.data === null) return textBatches(cfg);
  const paths = dataFiles(cfg.data, cfg.evalEvery > 0 ? `--eval-every ${cfg.evalEvery} (or pass --eval-every 0)` : null);
  const train = new TokenDataset(paths.train, cfg.ctx, { fullScan: true });
  let val: TokenDataset | null = null;
  try {
    val = paths.val !== null ? new TokenDataset(paths.val, cfg.ctx, { fullScan: true }) : null;
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
