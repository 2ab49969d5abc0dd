// The training loop's IO (./loop.ts): everything a run reads or writes outside memory, as small
// interfaces. In Node, `npm run train` wires in the adapters in the *.node.ts files (--out on
// disk, .bin token files, SIGINT/SIGTERM; see ./run.node.ts); ./in_memory.ts keeps a run in
// memory, as a test or a browser page may. Storage is async, so a store can be IndexedDB.
// Promise: the loop reads and writes only through these, so it runs wherever they do.
import type { Rng } from '../autograd/random.ts';
import type { GPT2Model } from '../gpt2/model.ts';
import type { Batch, DataLoaderState } from '../data/loader.ts';
import type { TrainingState } from './checkpoint.ts';
import type { TrainConfig } from './config.ts';
import type { MetricsRecord, StepMetrics } from './metrics.ts';

/** Everything train() reads and writes outside memory, and how it reports. */
export interface TrainIO {
  /** Where the checkpoint, the best and final weights and the metrics go. */
  store: RunStore;
  /** Opens the batches; called once the store has been checked, before anything is written. */
  openData: (cfg: TrainConfig) => BatchSource | Promise<BatchSource>;
  /** The weights `--init NAME` starts from; without it, --init is refused. */
  loadModel?: (name: string, seed: number) => Promise<GPT2Model>;
  /** Lines for a person (progress, summaries). */
  log: (line: string) => void;
  /** What the person sees of the steps; default: every logEvery-th step as a line, through log. */
  progress?: (cfg: TrainConfig, firstStep: number) => TrainProgress;
  /** Requests to stop after the step under way; default: none. */
  stop?: StopRequests;
  /** The clock --max-minutes is kept on, in ms (default performance.now), and the run's start on it (default: now). */
  now?: () => number;
  startedAt?: number;
}

/** Training and validation batches, [B, T] windows of token ids. */
export interface BatchSource {
  /** The next training batch. */
  next(rng: Rng): Batch | Promise<Batch>;
  /** Validation batches in order (at most maxBatches), or null when there is no validation set. */
  evalBatches(batchSize: number, maxBatches: number): Iterable<Batch> | AsyncIterable<Batch> | null;
  /** The ids the training data holds, ascending: what a compact head keeps (--head-vocab data). Absent: the source cannot tell. */
  vocabulary?(): Int32Array;
  /** Position in the data, for checkpoints (null when the Rng alone determines it). */
  state(): DataLoaderState | null;
  loadState(state: DataLoaderState | null): void;
  close(): void;
}

/** A named float32 array of a checkpoint: an optimizer moment such as `m.h.0.attn.c_attn.weight`. */
export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** What a checkpoint holds: the state (JSON), the weights, the optimizer's state tensors. */
export interface Checkpoint {
  state: TrainingState;
  /** Its weights are read as the store writes them. */
  model: GPT2Model;
  optimizer: NamedArray[];
}

/** A checkpoint as a store gives it back. */
export interface SavedCheckpoint {
  /** Where it is, for messages (a directory, a database key). */
  where: string;
  /** Already checked field by field (checkpoint.ts's parseTrainingState, for a store that parses). */
  state: TrainingState;
  /** Copies the saved weights into model's parameters. */
  loadWeights(model: GPT2Model): Promise<void>;
  /** The optimizer's state tensors by name. */
  optimizer(): Promise<Map<string, Float32Array>>;
}

/** Where a run keeps its checkpoint, its best and final weights and its metrics (--out). */
export interface RunStore {
  /** The run's name in messages: --out's path. */
  readonly name: string;
  /** Where a checkpoint would be found, for the message when there is none. */
  readonly checkpointName: string;
  /** What an earlier run left here, by name ([] when nothing). */
  outputs(): Promise<string[]>;
  /** Removes exactly those outputs (--overwrite), nothing else. */
  clear(): Promise<void>;
  /** The newest complete checkpoint, or null when there is none. */
  latestCheckpoint(): Promise<SavedCheckpoint | null>;
  /**
   * Replaces the checkpoint and resolves to where it now is (for messages). Until it resolves,
   * latestCheckpoint finds the previous one, whatever happens (a failure, a kill).
   */
  saveCheckpoint(checkpoint: Checkpoint): Promise<string>;
  /** Keeps the weights as the run's best (lowest validation loss so far) or final model. */
  saveModel(which: 'best' | 'final', model: GPT2Model): Promise<void>;
  /** The run's metrics, keeping the records made before `fromStep` (0: none). */
  openMetrics(fromStep: number): Promise<MetricsSink>;
}

/** The run's record: one per step, one per evaluation. */
export interface MetricsSink {
  write(record: MetricsRecord): void | Promise<void>;
  /** After the last step: e.g. draw the loss curve. */
  finish(): Promise<void>;
}

/** Requests to stop the run (Ctrl-C, a Stop button). */
export interface StopRequests {
  /** What asked the run to stop ('SIGINT'), or null. */
  readonly reason: string | null;
  /** Set by the loop once it can stop cleanly (after the step under way); called at the first request. */
  onFirst: ((reason: string) => void) | null;
  /** Set by the loop: what is saved, for a stop that cannot wait (a second Ctrl-C). */
  lastWords: () => string;
}

/** What a person watching the run sees. */
export interface TrainProgress {
  /** After each step: steps done, and that step's record. */
  update(stepsDone: number, m: StepMetrics): void;
  /** A line for the person (validation loss, a sample, a stop). */
  interrupt(line: string): void;
  /** The run's steps in all, once a --max-minutes run has planned them. */
  plan?(steps: number): void;
  stop(): void;
}
