// tsgrad's public API: the autograd engine (tensors, ops, backends) and the nn layers and
// optimizers, e.g. `import { tensor, Linear, AdamW } from 'tsgrad'`. GPT-2 is in ./gpt2/index.ts;
// data loading and training in ./data and ./train (see docs/tour.md for a reading order).
import './autograd/backend/available.ts'; // setBackend('cpu' | 'webgpu' | …) by name
export * from './autograd/index.ts';
export * from './nn/index.ts';
