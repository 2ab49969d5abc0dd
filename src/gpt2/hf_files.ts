// A Hugging Face model directory's two files, config.json and model.safetensors, to and from a
// GPT2Model without touching a disk: the model as bytes in memory (a browser page keeps and
// downloads them), and a model built from a config text and a tensor source (bytes in memory
// here, a file read tensor by tensor in src/data/model_files.ts).
// Promise: pure (no Node API); the bytes are what saveModel writes on disk; a model is built
// only after the config matched the weights' header, and every error names the file.
import { checkCheckpoint, fromHfConfig, loadTensors, saveTensors, toHfConfig, type TensorSource } from './hf.ts';
import type { GPT2Config } from './config.ts';
import { GPT2Model, type GPT2ModelOptions } from './model.ts';
import { parseHeaderFromBytes, readTensor, serialize } from './safetensors.ts';

/** Files of a folder by name (`model.safetensors` → its bytes). */
export type Files = Record<string, Uint8Array>;

/** config.json's text for a model of this shape, as transformers writes it. */
export function hfConfigText(cfg: GPT2Config): string {
  return JSON.stringify(toHfConfig(cfg), null, 2) + '\n';
}

/** The model as its directory's files: config.json and model.safetensors (float32). */
export async function modelToFiles(model: GPT2Model): Promise<Files> {
  const tensors = await Promise.all(saveTensors(model).map(async (t) => ({ name: t.name, shape: t.shape, data: await t.data() })));
  return { 'config.json': new TextEncoder().encode(hfConfigText(model.cfg)), 'model.safetensors': serialize(tensors, { format: 'pt' }) };
}

/**
 * A model from its config.json text and its weights. The config is checked against the
 * weights' header (names, shapes, dtypes) before the model is built, so a config that claims
 * a bigger model than the weights hold fails at once, allocating nothing.
 */
export function modelFromConfig(configText: string, configWhere: string, weights: TensorSource, weightsWhere: string, opts: GPT2ModelOptions = {}): GPT2Model {
  let json: unknown;
  try {
    json = JSON.parse(configText);
  } catch (err) {
    throw new Error(`${configWhere}: not valid JSON (${(err as Error).message})`);
  }
  const cfg = fromHfConfig(json, configWhere);
  checkCheckpoint(cfg, weights.tensors, `${weightsWhere} (with ${configWhere})`);
  const model = new GPT2Model(cfg, { seed: opts.seed, init: false }); // no draws: the file has every weight
  loadTensors(model, weights, weightsWhere);
  return model;
}

/** A model from its directory's files in memory; `where` (the folder's name) prefixes every error. */
export function modelFromFiles(files: Files, where: string, opts: GPT2ModelOptions = {}): GPT2Model {
  for (const name of ['config.json', 'model.safetensors']) {
    if (files[name] === undefined) throw new Error(`${where}: no ${name} (a model folder holds config.json and model.safetensors)`);
  }
  const weightsWhere = `${where}/model.safetensors`;
  const bytes = files['model.safetensors'];
  const header = parseHeaderFromBytes(bytes, weightsWhere);
  // a copy of each tensor: the reference backend keeps the array it is given, which must not be the files' bytes
  const weights: TensorSource = { tensors: header.tensors, read: (key) => readTensor(bytes, header, key, weightsWhere).slice() };
  return modelFromConfig(new TextDecoder().decode(files['config.json']), `${where}/config.json`, weights, weightsWhere, opts);
}
