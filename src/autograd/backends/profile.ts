// A kernel profiler: wraps a backend so every kernel call is timed, grouped by kernel name
// and by phase: 'forward', or 'backward' while the caller runs `profiler.during('backward', …)`
// (the training loop does, around loss.backward()).
// Promise: `profiler.start()` / `profiler.stop(title)` bracket one training step and return
// a table of milliseconds per kernel and the step's host↔device transfers (gpujs backends);
// outside start/stop the wrapper costs one flag test. On a device backend a kernel returns
// before the GPU finishes, so times are launch costs.
import type { Backend } from '../backend.ts';
import { resetTransferStats, transferStats } from './gpujs/transfers.ts';

type Phase = 'forward' | 'backward';

class Profiler {
  private active = false;
  private phase: Phase = 'forward';
  private times = new Map<string, { ms: number; calls: number }>();

  start(): void {
    this.times.clear();
    resetTransferStats();
    this.active = true;
    this.phase = 'forward';
  }

  /** Runs fn with its kernel calls counted under `phase`, then returns to the phase before. */
  during<T>(phase: Phase, fn: () => T): T {
    const before = this.phase;
    this.phase = phase;
    try {
      return fn();
    } finally {
      this.phase = before;
    }
  }

  record(kernel: string, ms: number): void {
    if (!this.active) return;
    const key = `${this.phase.padEnd(8)} ${kernel}`;
    const t = this.times.get(key) ?? { ms: 0, calls: 0 };
    t.ms += ms;
    t.calls++;
    this.times.set(key, t);
  }

  get recording(): boolean {
    return this.active;
  }

  /** Ends the window and formats its table, slowest kernels first. */
  stop(title: string): string {
    this.active = false;
    const rows = [...this.times].sort((a, b) => b[1].ms - a[1].ms);
    const total = rows.reduce((s, [, t]) => s + t.ms, 0);
    const lines = rows.map(([k, t]) => `  ${k.padEnd(32)} ${t.ms.toFixed(2).padStart(10)} ms ${String(t.calls).padStart(6)} calls ${((100 * t.ms) / total).toFixed(1).padStart(5)}%`);
    const t = transferStats(); // device backends only: host ↔ device crossings
    const moved = `${t.uploads} uploads (${(t.uploadBytes / 2 ** 20).toFixed(2)} MiB), ${t.readbacks} readbacks (${(t.readbackBytes / 2 ** 20).toFixed(2)} MiB)`;
    return [`profile (${title}): ${total.toFixed(1)} ms in kernels; ${moved}`, ...lines].join('\n');
  }
}

export const profiler = new Profiler();

/** The same backend with every kernel call timed into `profiler` while it records. */
export function withProfiling(backend: Backend): Backend {
  return new Proxy(backend, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (!profiler.recording) return value.apply(target, args);
        const t0 = performance.now();
        const out = value.apply(target, args);
        profiler.record(String(prop), performance.now() - t0);
        return out;
      };
    },
  });
}
