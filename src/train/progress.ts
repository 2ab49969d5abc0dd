// What a person watching a training run sees: on a terminal, a live bar (step/total, loss,
// tokens/s, ETA) with the run's lines scrolling above it; every logEvery steps a loss line, in
// the seed notebook's format (`step=  10 | Loss: 5.922181`) for the presets that port its
// loops. Off a terminal (CI, pipes, --no-progress) only the lines, through `log`.
// Promise: every line reaches the screen when it is made, while the run goes on.
import { liveBar } from '../data/progress.ts';
import type { TrainConfig } from './config.ts';
import type { StepMetrics } from './metrics.ts';

export interface TrainProgress {
  update(stepsDone: number, m: StepMetrics): void;
  /** Prints a line (above the bar, if there is one). */
  interrupt(line: string): void;
  stop(): void;
}

export function formatStep(cfg: TrainConfig, m: StepMetrics): string {
  if (cfg.seedLog) return `step=${String(m.step).padStart(4)} | Loss: ${m.loss.toFixed(6)}`;
  return `step ${String(m.step).padStart(5)} | loss ${m.loss.toFixed(4)} | lr ${m.lr.toExponential(2)} | grad norm ${m.grad_norm.toFixed(3)} | ${m.tokens_per_s.toFixed(0)} tok/s | ${m.elapsed_s.toFixed(1)} s`;
}

/**
 * The bar goes to stderr when it is a terminal. Lines go above it when stdout is a terminal
 * too (one screen); otherwise to `log` (stdout: a file or pipe keeps every line).
 */
export function startTrainProgress(cfg: TrainConfig, firstStep: number, log: (line: string) => void): TrainProgress {
  const wantsLine = (m: StepMetrics) => m.step % cfg.logEvery === 0;
  if (!cfg.progress || !process.stderr.isTTY) {
    return {
      update: (_done, m) => {
        if (wantsLine(m)) log(formatStep(cfg, m));
      },
      interrupt: log,
      stop: () => {},
    };
  }
  const bar = liveBar('step {value}/{total} | loss {loss} | {tps} tok/s | ETA {eta_formatted} [{bar}]', cfg.steps, firstStep, { loss: '-', tps: '-' });
  const print = process.stdout.isTTY ? bar.print : log;
  return {
    update: (done, m) => {
      bar.update(done, { loss: m.loss.toFixed(4), tps: m.tokens_per_s.toFixed(0) });
      if (wantsLine(m)) print(formatStep(cfg, m));
    },
    interrupt: print,
    stop: () => bar.stop(),
  };
}
