// SIGINT (Ctrl-C) and SIGTERM as the training loop's StopRequests (./io.ts). Once the loop is
// running, the first one asks it to stop after the step under way (it then saves a checkpoint
// and stops); before that, or on a second signal, the process exits at once with one line on
// stderr saying what is saved. Promise: release() restores Node's default handling.
import type { StopRequests } from './io.ts';

export function watchStopSignals(): StopRequests & { release(): void } {
  let reason: NodeJS.Signals | null = null;
  const handler = (received: NodeJS.Signals) => {
    if (reason !== null || stop.onFirst === null) {
      process.stderr.write(`${received}: stopping at once; ${stop.lastWords()}\n`);
      process.exit(1);
    }
    reason = received;
    stop.onFirst(received);
  };
  const stop = {
    get reason() {
      return reason;
    },
    onFirst: null as StopRequests['onFirst'],
    lastWords: () => 'training had not started',
    release: () => {
      process.off('SIGINT', handler).off('SIGTERM', handler);
    },
  };
  process.on('SIGINT', handler).on('SIGTERM', handler);
  return stop;
}
