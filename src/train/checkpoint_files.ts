// A training checkpoint as the files of the checkpoint/ folder `npm run train` writes
// (./run_dir.node.ts), held in memory: config.json + model.safetensors (the weights, Hugging
// Face layout), optimizer.safetensors (the optimizer's state tensors) and state.json (the
// TrainingState, ./checkpoint.ts). A browser page keeps these bytes in IndexedDB
// (./run_store.web.ts) and downloads or opens them as a folder or a .zip, so a checkpoint moves
// between the page and Node unchanged.
// Promise: pure (no Node API); reading checks state.json field by field at once and the tensors
// when asked; every error names the folder and the file.
import { modelFromFiles, modelToFiles, type Files } from '../gpt2/hf_files.ts';
import { parseHeaderFromBytes, readTensor, serialize } from '../gpt2/safetensors.ts';
import { parseTrainingState } from './checkpoint.ts';
import type { Checkpoint, SavedCheckpoint } from './io.ts';

/** The files of a checkpoint folder. */
export const CHECKPOINT_FILES = ['config.json', 'model.safetensors', 'optimizer.safetensors', 'state.json'] as const;

/** Whether a folder's files are a checkpoint's (rather than only a model's). */
export function isCheckpoint(files: Files): boolean {
  return files['state.json'] !== undefined || files['optimizer.safetensors'] !== undefined;
}

export async function checkpointToFiles({ state, model, optimizer }: Checkpoint): Promise<Files> {
  return {
    ...(await modelToFiles(model)),
    'optimizer.safetensors': serialize(optimizer),
    'state.json': new TextEncoder().encode(JSON.stringify(state, null, 2) + '\n'),
  };
}

/** The checkpoint in a folder's files; `where` names the folder in messages. */
export function checkpointFromFiles(files: Files, where: string): SavedCheckpoint {
  const missing = CHECKPOINT_FILES.filter((name) => files[name] === undefined);
  if (missing.length > 0) throw new Error(`${where}: no ${missing.join(', ')} (a checkpoint folder holds ${CHECKPOINT_FILES.join(', ')})`);
  const statePath = `${where}/state.json`;
  const optimizerPath = `${where}/optimizer.safetensors`;
  return {
    where,
    state: parseTrainingState(new TextDecoder().decode(files['state.json']), statePath),
    loadWeights: async (model) => model.loadStateDict(modelFromFiles(files, where).stateDict()),
    optimizer: async () => {
      const bytes = files['optimizer.safetensors'];
      const header = parseHeaderFromBytes(bytes, optimizerPath);
      return new Map([...header.tensors.keys()].map((name) => [name, readTensor(bytes, header, name, optimizerPath).slice()]));
    },
  };
}
