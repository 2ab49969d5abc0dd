// The autograd engine's public surface: tensors, their creation functions, grad mode,
// the functional ops that are not Tensor methods, the PRNG and backend selection.
export { Tensor, tensor, zeros, ones, full, randn, noGrad, isGradEnabled, type NestedArray, type TensorOptions } from './tensor.ts';
export { concat } from './ops/layout.ts';
export { linear } from './ops/matmul.ts';
export { embedding } from './ops/embedding.ts';
export { dropout } from './ops/dropout.ts';
export { crossEntropy, linearCrossEntropy, type CrossEntropyOptions } from './ops/cross_entropy.ts';
export { layerNorm } from './ops/layernorm.ts';
export { causalAttention } from './ops/attention.ts';
export { Rng, manualSeed, defaultRng } from './random.ts';
export { getBackend, setBackend, ready, registerBackend, registeredBackends, withFallback, referenceBackend, type BackendOptions } from './backends/registry.ts';
export type { Backend, Storage, HostArray, DeviceArray, DType } from './backend.ts';
