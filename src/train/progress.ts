// What a person watching a training run sees: a live bar on a terminal (step/total, loss,
// tokens/s, ETA) and, every logEvery steps, a loss line — in the seed notebook's format
// (`step=  10 | Loss: 5.922181`) for the presets that port its loops. Off a terminal
// (CI, pipes, --no-progress) only the lines are printed.
import cliProgress from 'cli-progress';
import type { TrainConfig } from './config.ts';
import type { StepMetrics } from './metrics.ts';

export interface TrainProgress {
  update(stepsDone: number, m: StepMetrics): void;
  /** Prints a line above the bar. */
  interrupt(line: string): void;
  stop(): void;
}

export function formatStep(cfg: TrainConfig, m: StepMetrics): string {
  if (cfg.seedLog) return `step=${String(m.step).padStart(4)} | Loss: ${m.loss.toFixed(6)}`;
  return `step ${String(m.step).padStart(5)} | loss ${m.loss.toFixed(4)} | lr ${m.lr.toExponential(2)} | grad norm ${m.grad_norm.toFixed(3)} | ${m.tokens_per_s.toFixed(0)} tok/s | ${m.elapsed_s.toFixed(1)} s`;
}

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
  const multi = new cliProgress.MultiBar(
    { format: 'step {value}/{total} [{bar}] loss {loss} | {tps} tok/s | ETA {eta_formatted}', hideCursor: true, clearOnComplete: false, etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
  const bar = multi.create(cfg.steps, firstStep, { loss: '-', tps: '-' });
  return {
    update: (done, m) => {
      if (wantsLine(m)) multi.log(formatStep(cfg, m) + '\n');
      bar.update(done, { loss: m.loss.toFixed(4), tps: m.tokens_per_s.toFixed(0) });
    },
    interrupt: (line) => multi.log(line + '\n'),
    stop: () => multi.stop(),
  };
}
