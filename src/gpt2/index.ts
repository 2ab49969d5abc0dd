// GPT-2 in tsgrad: config and named sizes, the model, generation, and the Hugging Face checkpoint
// layout over the pure safetensors codec. Promise: nothing here uses a Node API or imports
// src/data; disk and network loading (saveModel, loadModel, fromPretrained) live in src/data.
export { makeConfig, validateConfig, isGPT2Size, GPT2_SIZES, VOCAB_SIZE, EOT, type GPT2Config, type GPT2Size } from './config.ts';
export { GPT2Model, GPT2Block, GPT2MLP, CausalSelfAttention, type GPT2ModelOptions, type ForwardOptions, type AttentionOptions, type KVCache } from './model.ts';
export { generate, sampleNext, type GenerateOptions, type SamplingOptions } from './generate.ts';
export { toHfConfig, fromHfConfig, saveTensors, loadTensors, type TensorSource } from './hf.ts';
export * as safetensors from './safetensors.ts';
