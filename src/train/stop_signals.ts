// SIGINT (Ctrl-C) and SIGTERM during a training run. Once the loop is running, the first one
// asks it to stop after the step under way (it then saves a checkpoint and stops); before that,
// or on a second signal, the process exits at once with one line on stderr saying what is on
// disk. Promise: release() restores Node's default handling.
export interface StopSignals {
  /** The signal the loop was asked to stop by, or null. */
  readonly signal: NodeJS.Signals | null;
  /** Set by the loop once it can stop cleanly; told the signal. */
  onFirst: ((signal: NodeJS.Signals) => void) | null;
  /** Before exiting at once: tidies up (a progress bar) and says what is on disk. */
  lastWords: () => string;
  release(): void;
}

export function watchStopSignals(): StopSignals {
  let signal: NodeJS.Signals | null = null;
  const handler = (received: NodeJS.Signals) => {
    if (signal !== null || stop.onFirst === null) {
      process.stderr.write(`${received}: stopping at once; ${stop.lastWords()}\n`);
      process.exit(1);
    }
    signal = received;
    stop.onFirst(received);
  };
  const stop: StopSignals = {
    get signal() {
      return signal;
    },
    onFirst: null,
    lastWords: () => 'training had not started',
    release: () => {
      process.off('SIGINT', handler).off('SIGTERM', handler);
    },
  };
  process.on('SIGINT', handler).on('SIGTERM', handler);
  return stop;
}
