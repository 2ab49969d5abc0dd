// OpenAI's GPT-2 weights from the Hugging Face hub (`--model gpt2`, `--init gpt2`), or a model
// directory: fromPretrained(name or path) → GPT2Model.
// Promise: a hub model is taken from tsgrad's cache or the hub library's cache ($HF_HOME/hub)
// without a network request when both files are there, else downloaded through ./hub.ts
// (checked against the hub's listing, resumed if interrupted); what is not a hub name must be a
// model directory, and a name that is neither says so in one line.
import { existsSync } from 'node:fs';
import type { GPT2Model, GPT2ModelOptions } from '../gpt2/model.ts';
import { cachedHubFile, hfEndpoint, hubFile, hubListing, type DownloadReporter } from './hub.ts';
import { loadModel, loadModelFiles } from './model_files.ts';

/** OpenAI's GPT-2 checkpoints, at `openai-community/<name>` on the Hugging Face hub. */
export const HF_MODELS = ['gpt2', 'gpt2-medium', 'gpt2-large', 'gpt2-xl'] as const;

export interface PretrainedOptions extends GPT2ModelOptions {
  /** Called when a file download starts (not for a cached file), with its name and size; default: quiet. */
  onDownload?: (file: string, size: number) => DownloadReporter;
}

/** A model from a directory (config.json + model.safetensors), or one of HF_MODELS by name. */
export async function fromPretrained(nameOrDir: string, opts: PretrainedOptions = {}): Promise<GPT2Model> {
  const { onDownload, ...modelOpts } = opts;
  if (!(HF_MODELS as readonly string[]).includes(nameOrDir)) {
    if (!existsSync(nameOrDir)) throw new Error(`model directory '${nameOrDir}' not found (expected config.json and model.safetensors, or one of ${HF_MODELS.join(', ')})`);
    return loadModel(nameOrDir, modelOpts);
  }
  const repo = `openai-community/${nameOrDir}`;
  const names = ['config.json', 'model.safetensors'];
  let paths = names.map((name) => cachedHubFile(repo, 'model', name));
  if (paths.includes(undefined)) {
    const listing = await hubListing(repo, 'model', '');
    paths = [];
    for (const name of names) {
      const file = listing.find((f) => f.path === name);
      if (file === undefined) throw new Error(`${repo} on ${hfEndpoint()} has no ${name}`);
      paths.push(await hubFile(repo, 'model', file, { onDownload: onDownload && (() => onDownload(`${repo}/${name}`, file.size)) }));
    }
  }
  return loadModelFiles(paths[0]!, paths[1]!, modelOpts);
}
