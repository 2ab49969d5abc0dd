// GPT-2 in tsgrad: config and presets, the model, generation, and the Hugging Face checkpoint
// layout over the pure safetensors codec. Promise: nothing here touches the file system; disk
// and network loading (saveModel, loadModel, fromPretrained) live in ./checkpoint.node.ts.
export { makeConfig, validateConfig, isPresetName, PRESETS, type GPT2Config, type PresetName } from './config.ts';
export { GPT2Model, GPT2Block, GPT2MLP, CausalSelfAttention, type GPT2ModelOptions, type ForwardOptions, type AttentionOptions, type KVCache } from './model.ts';
export { generate, sampleNext, type GenerateOptions, type SamplingOptions } from './generate.ts';
export { toHfConfig, fromHfConfig, saveTensors, loadTensors, type TensorSource } from './hf.ts';
export * as safetensors from './safetensors.ts';
