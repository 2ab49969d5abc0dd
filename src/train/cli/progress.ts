// What a person sees of every long job (downloads, pretokenizing, evaluation, training): on a
// terminal a live cli-progress bar on stderr with lines printed above it, elsewhere (CI logs,
// pipes, --no-progress) plain lines.
// Promise: the bar is redrawn as values arrive, not by a timer, so a loop that never yields
// to the event loop still shows it; a line printed above the bar appears at once; stop()
// leaves the final state on screen and the terminal's settings as they were.
import cliProgress from 'cli-progress';
import type { DownloadReporter } from '../../data/hub.ts';
import type { TrainConfig } from '../config.ts';
import type { TrainProgress } from '../io.ts';
import { lineProgress } from '../loop.ts';
import { formatStep, type StepMetrics } from '../metrics.ts';

/** A live bar on a terminal stream. */
export interface LiveBar {
  update(value: number, payload?: Record<string, string>): void;
  setTotal(total: number): void;
  /** Prints a line above the bar and redraws the bar under it. */
  print(line: string): void;
  stop(): void;
}

/** The bar is redrawn at most this often by update() (cli-progress's default 10 frames/s). */
const REDRAW_MS = 100;

/** Starts a bar on `stream` (a terminal) at `value` of `total`; `format` is cli-progress's. */
export function liveBar(format: string, total: number, value: number, payload: Record<string, string>, stream: NodeJS.WriteStream = process.stderr): LiveBar {
  // cursor shown, line wrapping on: the terminal's settings are left alone, so a run that dies
  // mid-bar leaves a working terminal behind
  const multi = new cliProgress.MultiBar({ format, stream, hideCursor: false, linewrap: true, clearOnComplete: false, barsize: 24, etaBuffer: 20 }, cliProgress.Presets.shades_classic);
  const bar = multi.create(total, value, payload);
  let drawnAt = performance.now();
  const draw = () => {
    drawnAt = performance.now();
    multi.update(); // writes the lines logged since the last frame, then the bar
  };
  return {
    update(v, p) {
      bar.update(v, p);
      if (performance.now() - drawnAt >= REDRAW_MS) draw();
    },
    setTotal(total) {
      bar.setTotal(total);
      draw();
    },
    print(line) {
      multi.log(line + '\n');
      draw();
      (bar as cliProgress.GenericBar).render(true); // the line took the bar's place; cli-progress redraws only a changed bar
    },
    stop() {
      draw();
      multi.stop();
    },
  };
}

export interface Progress {
  /** Set the current value (bytes, stories, …), not an increment. */
  update(value: number): void;
  stop(): void;
}

/** Counts in bytes ('B') are shown in MiB; anything else as a plain number. */
function show(n: number, unit: string): string {
  return unit === 'B' ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${Math.round(n).toLocaleString('en-US')} ${unit}`;
}

/**
 * Progress of a data job towards `total` (0 when the total is unknown): a bar on a terminal,
 * otherwise a line every few seconds and one at the end.
 */
export function startProgress(label: string, total: number, unit: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  const start = performance.now();
  let value = 0;
  const rate = () => show(value / Math.max(1e-9, (performance.now() - start) / 1000), unit) + '/s';
  const line = () =>
    total > 0
      ? `${label}: ${show(value, unit)} of ${show(total, unit)} (${((100 * value) / total).toFixed(1)}%), ${rate()}`
      : `${label}: ${show(value, unit)}, ${rate()}`;

  if (stream.isTTY) {
    const format =
      total > 0
        ? `${label} {percentage}% | {shown} | {rate} | ETA {eta_formatted} [{bar}]`
        : `${label} {shown} | {rate} | {duration_formatted}`;
    const payload = () => ({ shown: show(value, unit), rate: rate() });
    const barValue = () => (total > 0 ? Math.min(value, total) : 0);
    const bar = liveBar(format, total > 0 ? total : 1, 0, payload(), stream);
    return {
      update(v) {
        value = v;
        bar.update(barValue(), payload());
      },
      stop() {
        bar.update(barValue(), payload());
        bar.stop();
      },
    };
  }

  let lastPrinted = start;
  return {
    update(v) {
      value = v;
      const now = performance.now();
      if (now - lastPrinted >= 5000) {
        lastPrinted = now;
        stream.write(line() + '\n');
      }
    },
    stop() {
      stream.write(line() + '\n');
    },
  };
}

/** A download's progress (`onDownload` of hubSource and fromPretrained): a bar of bytes, labelled with the file. */
export function downloadBar(file: string, size: number): DownloadReporter {
  const bar = startProgress(`download ${file}`, size, 'B');
  return { onProgress: ({ received }) => bar.update(received), done: () => bar.stop() };
}

/**
 * A training run's progress (the loop's TrainProgress): on a terminal, a live bar on stderr
 * (step/total, loss, tokens/s, ETA) with every logEvery-th step's line and the run's other lines
 * above it when stdout is that terminal too (to `log` otherwise, so a file or pipe keeps every
 * line); off a terminal or with --no-progress, the lines alone through `log`.
 */
export function trainProgress(cfg: TrainConfig, firstStep: number, log: (line: string) => void): TrainProgress {
  if (!cfg.progress || !process.stderr.isTTY) return lineProgress(cfg, log);
  const bar = liveBar('step {value}/{total} | loss {loss} | {tps} tok/s | ETA {eta_formatted} [{bar}]', cfg.steps, firstStep, { loss: '-', tps: '-' });
  const print = process.stdout.isTTY ? bar.print : log;
  return {
    update: (done: number, m: StepMetrics) => {
      bar.update(done, { loss: m.loss.toFixed(4), tps: m.tokens_per_s.toFixed(0) });
      if (m.step % cfg.logEvery === 0) print(formatStep(cfg, m));
    },
    interrupt: print,
    plan: (steps: number) => bar.setTotal(steps),
    stop: () => bar.stop(),
  };
}
