// tsgrad's public API in Node (the package's `node` entry): everything in ./index.ts, plus the
// backends that need Node — 'cpu' (wasm SIMD on worker threads), 'webgpu' (Dawn), 'headlessgl',
// 'webasm' and 'auto', which `await ready()` picks from — and the parts that touch files or the
// network: saveModel / loadModel / fromPretrained (Hugging Face layout, hub download) and
// trainOnDisk, the training loop as `npm run train` runs it (the run kept in cfg.out).
import './autograd/backends/available.ts';
export * from './index.ts';
export { saveModel, loadModel } from './data/model_files.ts';
export { fromPretrained, HF_MODELS, type PretrainedOptions } from './data/pretrained.ts';
export { trainOnDisk, type DiskRunOptions } from './train/run.node.ts';
