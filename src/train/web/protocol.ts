// What the page's UI (main.ts) and its engine (trainer.worker.ts, a dedicated Worker) say to
// each other, and the report the page publishes for automation. Plain data: every message
// survives postMessage's structured clone.
import type { CheckValues } from './backend_check.ts';

/** UI → trainer: run the backend check on one backend (a name setBackend knows). */
export type ToTrainer = { type: 'check'; backend: string };

/** Trainer → UI: one answer per request, in order. */
export type FromTrainer =
  | { type: 'checked'; backend: string; detail: string; ms: number; values: CheckValues }
  | { type: 'unavailable'; backend: string; reason: string }
  | { type: 'failed'; backend: string; error: string };

/** One end of a message channel (a Worker, or a worker's global scope). */
export interface Port<In, Out> {
  onmessage: ((e: { data: In }) => void) | null;
  postMessage(message: Out): void;
}

/** The page's findings, published as `window.tsgradReport` when `body[data-state]` is done. */
export interface PageReport {
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  userAgent: string;
  results: FromTrainer[];
}
