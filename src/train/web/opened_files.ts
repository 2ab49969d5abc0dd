// What the files a person gives the page are: folders (a folder input, or the inside of a
// .zip) sorted into model folders (config.json + model.safetensors: a final/ or best/ trained
// in Node or downloaded from the page), checkpoint folders (those files + optimizer.safetensors
// + state.json) and token files (train.bin, val.bin); and folders packed as a .zip for a download.
// Promise: pure; a folder is one directory's files, so picking a whole run folder (checkpoint/,
// best/, final/ in one) gives each apart; a .zip that does not unpack is an error naming it.
import { unzipSync, zipSync } from 'fflate';
import type { Files } from '../../gpt2/hf_files.ts';
import { isCheckpoint } from '../checkpoint_files.ts';

/** A file as picked: its path (a folder input's webkitRelativePath, or its name) and bytes. */
export interface PickedFile {
  path: string;
  bytes: Uint8Array;
}

export interface Folder {
  /** The folder's path, for messages ('out/final', 'run.zip/checkpoint'). */
  where: string;
  files: Files;
}

export interface Sorted {
  models: Folder[];
  checkpoints: Folder[];
  /** .bin files: train.bin and val.bin by name. */
  bins: PickedFile[];
  /** Files that are none of these, by path. */
  ignored: string[];
}

/** The files a model or checkpoint folder may hold. */
const FOLDER_FILES = new Set(['config.json', 'model.safetensors', 'optimizer.safetensors', 'state.json']);

const split = (path: string) => {
  const i = path.lastIndexOf('/');
  return { dir: i < 0 ? '' : path.slice(0, i), name: path.slice(i + 1) };
};

/** Every file, with each .zip replaced by its files (at `name.zip/inner/path`). */
function unpack(picked: PickedFile[]): PickedFile[] {
  return picked.flatMap((f) => {
    if (!f.path.endsWith('.zip')) return [f];
    let entries: Record<string, Uint8Array>;
    try {
      entries = unzipSync(f.bytes);
    } catch (e) {
      throw new Error(`${f.path}: not a .zip file that unpacks (${(e as Error).message})`);
    }
    return Object.entries(entries)
      .filter(([inner]) => !inner.endsWith('/'))
      .map(([inner, bytes]) => ({ path: `${f.path}/${inner}`, bytes }));
  });
}

export function sortFiles(picked: PickedFile[]): Sorted {
  const sorted: Sorted = { models: [], checkpoints: [], bins: [], ignored: [] };
  const folders = new Map<string, Files>();
  for (const f of unpack(picked)) {
    const { dir, name } = split(f.path);
    if (name.endsWith('.bin')) sorted.bins.push(f);
    else if (FOLDER_FILES.has(name)) folders.set(dir, { ...folders.get(dir), [name]: f.bytes });
    else sorted.ignored.push(f.path);
  }
  for (const [dir, files] of folders) {
    const folder = { where: dir === '' ? 'the files picked' : dir, files };
    (isCheckpoint(files) ? sorted.checkpoints : sorted.models).push(folder);
  }
  return sorted;
}

/** A folder as a .zip holding `name/` and its files (stored: weights do not compress). */
export function zipFolder(name: string, files: Files): Uint8Array {
  return zipSync(Object.fromEntries(Object.entries(files).map(([file, bytes]) => [`${name}/${file}`, bytes])), { level: 0 });
}
