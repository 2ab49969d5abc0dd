// A training run as `npm run train` makes it, as a function: the loop (./loop.ts) with Node's
// IO. The run lives in the --out directory (./run_dir.node.ts), batches come from the overfit
// text or --data's .bin files (./batches.node.ts), `--init` loads a model directory or OpenAI's
// GPT-2 from the hub, SIGINT/SIGTERM stop it after the step under way, and a terminal shows a
// live bar (./cli/progress.ts).
import { fromPretrained } from '../data/pretrained.ts';
import { openBatches } from './batches.node.ts';
import { downloadBar, trainProgress } from './cli/progress.ts';
import type { TrainConfig } from './config.ts';
import { train, type TrainResult } from './loop.ts';
import { runDir } from './run_dir.node.ts';
import { watchStopSignals } from './stop_signals.node.ts';

export interface DiskRunOptions {
  /** Human-readable lines (progress, summaries). */
  log: (line: string) => void;
  /** The clock --max-minutes is kept on, in ms (default performance.now). */
  now?: () => number;
}

/** Trains as cfg says, keeping the run in cfg.out. */
export async function trainOnDisk(cfg: TrainConfig, opts: DiskRunOptions): Promise<TrainResult> {
  const now = opts.now ?? (() => performance.now());
  const startedAt = now();
  const stop = watchStopSignals();
  try {
    return await train(cfg, {
      store: runDir(cfg.out),
      openData: openBatches,
      loadModel: (name, seed) => fromPretrained(name, { seed, onDownload: downloadBar }),
      log: opts.log,
      progress: (c, firstStep) => trainProgress(c, firstStep, opts.log),
      stop,
      now,
      startedAt,
    });
  } finally {
    stop.release();
  }
}
