// What the page's UI (main.ts) and its engine (trainer.worker.ts, a dedicated Worker) say to
// each other, and what the page publishes for automation. Plain data: every message survives
// postMessage's structured clone.
// Promise: the trainer answers every request but 'stop' with exactly one 'done' or 'error' of
// the same job (a stopped training run answers 'stopped'), in the order asked; 'stop' acts at
// once, between two steps.
import type { CheckValues } from './backend_check.ts';
import type { TrainConfig } from '../config.ts';
import type { MetricsRecord, StepMetrics } from '../metrics.ts';
import type { PickedFile } from './opened_files.ts';

/** The presets the page trains. */
export const PAGE_PRESETS = ['overfit', 'tinystories'] as const;
export type PagePreset = (typeof PAGE_PRESETS)[number];

export type Job = 'check' | 'backend' | 'open' | 'train' | 'generate' | 'download' | 'status';

/** UI → trainer. */
export type ToTrainer =
  /** The backend check (./backend_check.ts) on one backend; answered by a CheckResult. */
  | { type: 'check'; backend: string }
  /** 'auto' or a backend's name. */
  | { type: 'backend'; choice: string }
  /** Files or a folder the person picked (./opened_files.ts sorts them). */
  | { type: 'open'; files: PickedFile[] }
  /** A fresh run of the preset with that model (replacing the one kept in this browser), or its continuation (on its own model). */
  | { type: 'train'; preset: PagePreset; steps: number; resume: boolean; fresh: FreshModel }
  | { type: 'stop' }
  /** Continues the prompt with the model Generate uses (the last trained or opened). */
  | { type: 'generate'; preset: PagePreset; prompt: string; maxNewTokens: number; temperature: number; topK: number }
  /** A .zip of the run's checkpoint/ or final/ folder. */
  | { type: 'download'; preset: PagePreset; folder: 'checkpoint' | 'final' }
  /** What is kept in this browser; answered by 'status', then 'done'. */
  | { type: 'status' };

/** The backend check's answer. */
export type CheckResult =
  | { type: 'checked'; backend: string; detail: string; ms: number; values: CheckValues }
  | { type: 'unavailable'; backend: string; reason: string }
  | { type: 'failed'; backend: string; error: string };

/**
 * What the page chooses of a fresh run's model, as `npm run train`'s --head-vocab, --n-layer,
 * --d-model and --n-heads do (null: the preset's); a resumed run keeps its checkpoint's.
 */
export const FRESH_MODEL_KEYS = ['headVocab', 'nLayer', 'dModel', 'nHeads'] as const;
export type FreshModel = Pick<TrainConfig, (typeof FRESH_MODEL_KEYS)[number]>;

/** A preset's run as this browser keeps it. */
export interface SavedRun {
  preset: PagePreset;
  /** The checkpoint's step, the steps its run was set to and its head (full or data), or null without a checkpoint. */
  checkpoint: { step: number; steps: number; headVocab: FreshModel['headVocab'] } | null;
  final: boolean;
}

/** Trainer → UI. */
export type FromTrainer =
  | CheckResult
  | { type: 'backend'; name: string; detail: string; why: string }
  /** A line for the person (the loop's lines, what a file was). */
  | { type: 'log'; line: string }
  /** A training run starts at `from` of `steps`, after the records it keeps (a resume's). */
  | { type: 'start'; from: number; steps: number; records: MetricsRecord[]; tokensPerStep: number }
  | { type: 'step'; m: StepMetrics }
  | { type: 'sample'; step: number; text: string }
  /** The prompt and the tokens generated so far, decoded (one message per token). */
  | { type: 'token'; text: string; tokens: number }
  | { type: 'status'; runs: SavedRun[]; model: string | null; data: string | null }
  | { type: 'file'; name: string; bytes: Uint8Array }
  | { type: 'done'; job: Job; message: string }
  | { type: 'stopped'; job: 'train'; message: string }
  | { type: 'error'; job: Job; message: string };

/** One end of a message channel (a Worker, or a worker's global scope). */
export interface Port<In, Out> {
  onmessage: ((e: { data: In }) => void) | null;
  postMessage(message: Out, transfer?: ArrayBuffer[]): void;
}

/** The check page's findings (?check=1), published as `window.tsgradReport` when `body[data-state]` is done. */
export interface PageReport {
  crossOriginIsolated: boolean;
  hardwareConcurrency: number;
  userAgent: string;
  results: CheckResult[];
}

/** The training page's run, published as `window.tsgradRun` and kept current. */
export interface RunReport {
  backend: string;
  detail: string;
  /** Loss of each step, by step index (a resumed run's earlier steps included). */
  losses: number[];
  /** tokens/s of each step this page ran. */
  stepRates: number[];
  samples: { step: number; text: string }[];
  /** The loop's closing line ('done: 60 steps, …, 410 tokens/s, …'). */
  doneLine: string | null;
  /** The last generation's text and the number of token messages that built it. */
  generated: string;
  tokenMessages: number;
  /** What the page said last ('done: …', an error). */
  message: string;
}
