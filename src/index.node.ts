// tsgrad's public API in Node (the package's `node` entry): everything in ./index.ts, plus the
// backends that need Node — 'cpu' (wasm SIMD on worker threads), 'webgpu' (Dawn), 'headlessgl',
// 'webasm' and 'auto', which `await ready()` picks from — and the parts that touch files or the
// network: saveModel / loadModel / fromPretrained (Hugging Face layout, hub download) and the
// training loop `train` (checkpoints, metrics, best/).
import './autograd/backends/available.ts';
export * from './index.ts';
export { saveModel, loadModel, fromPretrained, HF_MODELS, type PretrainedOptions } from './gpt2/checkpoint.node.ts';
export { train, TrainingStopped, type TrainResult, type TrainIO } from './train/loop.ts';
export { PRESETS as TRAIN_PRESETS, type TrainConfig } from './train/config.ts';
