// tsgrad's public API on every platform (the package's `browser` and default entry): the
// autograd engine (tensors, ops, backends), the nn layers and optimizers, GPT-2 (model,
// generation, the safetensors / Hugging Face layout) and the GPT-2 tokenizer, e.g.
// `import { tensor, Linear, AdamW, GPT2Model } from 'tsgrad'`. Promise: nothing reachable
// from here uses a Node API, so a browser bundle of it builds; the only backend here is the
// reference 'js' (register others with registerBackend). Node adds its backends and the
// file and network parts in ./index.node.ts. See docs/tour.md for a reading order.
export * from './autograd/index.ts';
export * from './nn/index.ts';
export * from './gpt2/index.ts';
export { encodeOrdinary, decode } from './data/tokenizer.ts';
