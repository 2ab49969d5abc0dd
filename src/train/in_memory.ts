// A run kept in memory: the RunStore (./io.ts) for a test or a browser page, with no Node API
// (an IndexedDB store keeps the same things, as bytes). `npm run train` keeps its runs on disk
// instead (./run_dir.node.ts).
// Promise: what is saved is a copy, so training on does not change it; a checkpoint replaces
// the previous one only once it is complete; a resume keeps the metrics made before its step.
import { tensor, type Tensor } from '../autograd/tensor.ts';
import type { GPT2Model } from '../gpt2/model.ts';
import type { TrainingState } from './checkpoint.ts';
import type { Checkpoint, MetricsSink, RunStore, SavedCheckpoint } from './io.ts';
import { recordsBefore, type MetricsRecord } from './metrics.ts';

/** A model's weights by parameter name, copied out of its tensors. */
export type Weights = Map<string, { shape: number[]; data: Float32Array }>;

async function copyWeights(model: GPT2Model): Promise<Weights> {
  const weights: Weights = new Map();
  for (const [name, p] of model.namedParameters()) weights.set(name, { shape: [...p.shape], data: Float32Array.from(await p.toArray()) });
  return weights;
}

export class MemoryRunStore implements RunStore {
  readonly checkpointName: string;
  /** The latest checkpoint: its state, weights and optimizer tensors. */
  checkpoint: { state: TrainingState; weights: Weights; optimizer: Map<string, Float32Array> } | null = null;
  /** The best and final weights, once saved. */
  readonly models = new Map<'best' | 'final', Weights>();
  /** The metrics, in order. */
  records: MetricsRecord[] = [];
  private hasMetrics = false;

  constructor(readonly name = 'memory') {
    this.checkpointName = `${name}/checkpoint`;
  }

  async outputs(): Promise<string[]> {
    return [...(this.checkpoint ? ['checkpoint'] : []), ...this.models.keys(), ...(this.hasMetrics ? ['metrics'] : [])];
  }

  async clear(): Promise<void> {
    this.checkpoint = null;
    this.models.clear();
    this.records = [];
    this.hasMetrics = false;
  }

  async latestCheckpoint(): Promise<SavedCheckpoint | null> {
    const saved = this.checkpoint;
    if (saved === null) return null;
    return {
      where: this.checkpointName,
      state: saved.state,
      loadWeights: async (model) => model.loadStateDict(new Map<string, Tensor>([...saved.weights].map(([name, w]) => [name, tensor(w.data, { shape: w.shape })]))),
      optimizer: async () => new Map(saved.optimizer),
    };
  }

  async saveCheckpoint({ state, model, optimizer }: Checkpoint): Promise<string> {
    const weights = await copyWeights(model);
    this.checkpoint = { state: JSON.parse(JSON.stringify(state)), weights, optimizer: new Map(optimizer.map((t) => [t.name, t.data.slice()])) };
    return this.checkpointName;
  }

  async saveModel(which: 'best' | 'final', model: GPT2Model): Promise<void> {
    this.models.set(which, await copyWeights(model));
  }

  async openMetrics(fromStep: number): Promise<MetricsSink> {
    this.records = recordsBefore(this.records, fromStep);
    this.hasMetrics = true;
    return { write: (record) => void this.records.push({ ...record }), finish: async () => {} };
  }
}
