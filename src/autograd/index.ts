// The autograd engine's public surface: tensors, their creation functions, grad mode,
// the functional ops that are not Tensor methods, the PRNG, backend selection, and what a new
// backend is written against (the Backend interface, completeBackend, docs/backends.md).
export { Tensor, tensor, zeros, ones, full, randn, noGrad, isGradEnabled, type NestedArray, type TensorOptions } from './tensor.ts';
export { concat } from './ops/layout.ts';
export { linear } from './ops/matmul.ts';
export { embedding } from './ops/embedding.ts';
export { dropout } from './ops/dropout.ts';
export { crossEntropy, linearCrossEntropy, type CrossEntropyOptions } from './ops/cross_entropy.ts';
export { layerNorm } from './ops/layernorm.ts';
export { causalAttention } from './ops/attention.ts';
export { Rng, manualSeed, defaultRng } from './random.ts';
export { getBackend, setBackend, ready, registerBackend, registeredBackends, referenceBackend, BackendUnavailable, type BackendOptions } from './backends/registry.ts';
export { completeBackend } from './composed.ts';
export { matmulParams, isHost } from './backend.ts';
export type { Backend, BackendKernels, Primitives, FusedKernels, Storage, HostArray, DeviceArray, DType, UnaryOp, BinaryOp, ReduceOp, MatmulParams, AttentionParams, AdamWParams } from './backend.ts';
