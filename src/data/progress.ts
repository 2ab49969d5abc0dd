// Progress reporting for the long data jobs (downloads, pretokenizing): a cli-progress bar when
// stderr is a terminal, otherwise a plain line every few seconds (CI logs, pipes) and one at the end.
// Promise: update(value) is cheap to call often; stop() prints the final state once.

import cliProgress from 'cli-progress';

export interface Progress {
  /** Set the current value (bytes, stories, …), not an increment. */
  update(value: number): void;
  stop(): void;
}

/** Counts in bytes ('B') are shown in MiB; anything else as a plain number. */
function show(n: number, unit: string): string {
  return unit === 'B' ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${Math.round(n).toLocaleString('en-US')} ${unit}`;
}

/** Start reporting progress towards `total` (0 when the total is unknown). */
export function startProgress(
  label: string,
  total: number,
  unit: string,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
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
        ? `${label} [{bar}] {percentage}% | {shown} | {rate} | ETA {eta_formatted}`
        : `${label} {shown} | {rate} | {duration_formatted}`;
    const bar = new cliProgress.SingleBar({ format, stream, hideCursor: null }, cliProgress.Presets.shades_classic);
    const payload = () => ({ shown: show(value, unit), rate: rate() });
    bar.start(total > 0 ? total : 1, 0, payload());
    return {
      update(v) {
        value = v;
        bar.update(total > 0 ? Math.min(v, total) : 0, payload());
      },
      stop() {
        bar.update(total > 0 ? Math.min(value, total) : 0, payload());
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
