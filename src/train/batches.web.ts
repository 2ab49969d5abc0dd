// The batches of a run in a browser page: the overfit text when the run has no data, else a
// train.bin (and val.bin) the page holds in memory (../data/token_array.ts), from a file
// input or from `npm run web -- --data DIR`.
// Promise: the same batches as ./batches.node.ts gives for the same files and settings.
import type { TokenArray } from '../data/token_array.ts';
import type { TrainConfig } from './config.ts';
import type { BatchSource } from './io.ts';
import { textBatches, windowBatches } from './batches.ts';

export interface PageData {
  train: TokenArray;
  val: TokenArray | null;
}

/** TrainIO.openData for a page holding `data` (null: none picked or served). */
export function pageBatches(data: PageData | null): (cfg: TrainConfig) => BatchSource {
  return (cfg) => {
    if (cfg.data === null) return textBatches(cfg);
    if (data === null) throw new Error(`the ${cfg.preset} preset trains on a train.bin: pick one (and its val.bin), or start the page with npm run web -- --data DIR`);
    const batches = windowBatches(cfg, data.train.windows(cfg.ctx), data.val?.windows(cfg.ctx) ?? null, () => {});
    return { ...batches, vocabulary: () => data.train.idsSeen() };
  };
}
