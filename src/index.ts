// tsgrad's public API on every platform (the package's `browser` and default entry): the
// autograd engine (tensors, ops, backends), the nn layers and optimizers, GPT-2 (model,
// generation, the safetensors / Hugging Face layout), the GPT-2 tokenizer, and the training
// loop with its IO interfaces and an in-memory run store, e.g.
// `import { tensor, Linear, AdamW, GPT2Model } from 'tsgrad'`. Promise: nothing reachable
// from here uses a Node API, so a browser bundle of it builds; the only backend here is the
// reference 'js' (register others with registerBackend). Node adds its backends and the
// file and network parts in ./index.node.ts. See docs/tour.md for a reading order.
export * from './autograd/index.ts';
export * from './nn/index.ts';
export * from './gpt2/index.ts';
export { encodeOrdinary, decode } from './data/tokenizer.ts';
export { DataLoader, evalBatches, randomBatch, type Batch, type TokenWindows, type DataLoaderState } from './data/loader.ts';
export { train, buildModel, lineProgress, TrainingStopped, type TrainResult } from './train/loop.ts';
export { TRAIN_PRESETS, type TrainConfig } from './train/config.ts';
export { textBatches, windowBatches } from './train/batches.ts';
export { MemoryRunStore } from './train/in_memory.ts';
export type { TrainIO, BatchSource, Checkpoint, MetricsSink, RunStore, SavedCheckpoint, StopRequests, TrainProgress } from './train/io.ts';
