// GPT-2 checkpoints on disk (Node): safetensors files read tensor by tensor through a file
// handle, atomic writes, model directories in the Hugging Face layout (config.json +
// model.safetensors), and fromPretrained, which fetches OpenAI's weights from the hub.
// Promise: a reader never holds more than one tensor beyond the model; a failed or
// interrupted save leaves the previous files intact.
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { downloadFile, hfCachePath, hfResolveUrl, type DownloadProgress } from '../data/download.ts';
import { startProgress, type Progress } from '../data/progress.ts';
import { fromHfConfig, loadTensors, saveTensors, toHfConfig } from './hf.ts';
import { GPT2Model, type GPT2ModelOptions } from './model.ts';
import { encodeHeader, parseHeader, readHeaderLength, toFloat32, type SafetensorsHeader } from './safetensors.ts';

/** An open safetensors file: the checked header now, each tensor's numbers when asked. */
export class SafetensorsFile {
  private constructor(
    readonly path: string,
    readonly header: SafetensorsHeader,
    private fd: number,
  ) {}

  static open(path: string): SafetensorsFile {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const n = readHeaderLength(readAt(fd, 0, Math.min(8, size)), size, path);
      const header = parseHeader(readAt(fd, 8, n), size - 8 - n, path);
      return new SafetensorsFile(path, header, fd);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** One tensor as float32 (converted from F16, BF16 or F64 if stored so). */
  read(name: string): Float32Array {
    const t = this.header.tensors.get(name);
    if (t === undefined) throw new Error(`${this.path}: no tensor named '${name}'`);
    return toFloat32(readAt(this.fd, this.header.dataStart + t.begin, t.end - t.begin), t.dtype, `${this.path}: tensor '${name}'`);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** `length` bytes at `position`, into a fresh (hence aligned) buffer; short reads are errors. */
function readAt(fd: number, position: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, out, done, Math.min(length - done, 1 << 30), position + done);
    if (n === 0) throw new Error(`unexpected end of file after ${position + done} bytes`);
    done += n;
  }
  return out;
}

/** Every tensor of a file, as float32 (fixtures, small files). */
export function readSafetensors(path: string): Map<string, { shape: number[]; data: Float32Array }> {
  const file = SafetensorsFile.open(path);
  try {
    return new Map([...file.header.tensors].map(([name, t]) => [name, { shape: t.shape, data: file.read(name) }]));
  } finally {
    file.close();
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) {
    done += writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30));
  }
}

/**
 * Writes a file beside `path` (same directory, so the rename cannot cross filesystems),
 * flushed to disk; returns the temporary name for the caller to rename into place.
 */
async function writeTemp(path: string, body: (fd: number) => void | Promise<void>): Promise<string> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${Date.now()}`);
  const fd = openSync(tmp, 'w');
  try {
    await body(fd);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  return tmp;
}

/** A tensor to write; `data()` may read it back from a device (asynchronously on WebGPU). */
type LazyTensor = { name: string; shape: number[]; data: () => Float32Array | Promise<Float32Array> };

async function writeSafetensorsBody(fd: number, tensors: readonly LazyTensor[], metadata: Record<string, string> | null): Promise<void> {
  writeAll(fd, encodeHeader(tensors, metadata));
  for (const t of tensors) {
    const data = await t.data();
    writeAll(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
}

/** Writes float32 tensors atomically; `data()` is called once per tensor, in order. */
export async function writeSafetensors(path: string, tensors: readonly LazyTensor[], metadata: Record<string, string> | null = null): Promise<void> {
  renameSync(await writeTemp(path, (fd) => writeSafetensorsBody(fd, tensors, metadata)), path);
}

/**
 * Saves model as a Hugging Face model directory: config.json and model.safetensors.
 * Both are written in full to temporary files first, then renamed into place.
 */
export async function saveModel(model: GPT2Model, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const weights = await writeTemp(join(dir, 'model.safetensors'), (fd) => writeSafetensorsBody(fd, saveTensors(model), { format: 'pt' }));
  let config: string;
  try {
    config = await writeTemp(join(dir, 'config.json'), (fd) => writeAll(fd, new TextEncoder().encode(JSON.stringify(toHfConfig(model.cfg), null, 2) + '\n')));
  } catch (err) {
    rmSync(weights, { force: true });
    throw err;
  }
  renameSync(weights, join(dir, 'model.safetensors'));
  renameSync(config, join(dir, 'config.json'));
}

/** Loads a Hugging Face GPT-2 model directory (config.json + model.safetensors). */
export function loadModel(dir: string, opts: GPT2ModelOptions = {}): GPT2Model {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(`model directory '${dir}' not found (expected config.json and model.safetensors, or one of ${HF_MODELS.join(', ')})`);
  }
  const configPath = join(dir, 'config.json');
  const weightsPath = join(dir, 'model.safetensors');
  for (const p of [configPath, weightsPath]) if (!existsSync(p)) throw new Error(`model directory '${dir}' has no ${basename(p)}`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (err) {
    throw new Error(`${configPath}: not valid JSON (${(err as Error).message})`);
  }
  const model = new GPT2Model(fromHfConfig(json, configPath), { seed: opts.seed, init: false }); // no draws: the file has every weight
  const file = SafetensorsFile.open(weightsPath);
  try {
    loadTensors(model, { tensors: file.header.tensors, read: (key) => file.read(key) }, weightsPath);
  } finally {
    file.close();
  }
  return model;
}

/** OpenAI's GPT-2 checkpoints, at `openai-community/<name>` on the Hugging Face hub. */
export const HF_MODELS = ['gpt2', 'gpt2-medium', 'gpt2-large', 'gpt2-xl'] as const;

export interface PretrainedOptions extends GPT2ModelOptions {
  /** Download progress per file; default: a progress line on stderr. */
  onProgress?: (file: string, p: DownloadProgress) => void;
}

/**
 * A model from a directory, or one of HF_MODELS by name: config.json and model.safetensors
 * are downloaded from `$HF_ENDPOINT/openai-community/<name>/resolve/main/` into the cache
 * (`$TSGRAD_CACHE`, else the Hugging Face cache); an interrupted download resumes.
 */
export async function fromPretrained(nameOrDir: string, opts: PretrainedOptions = {}): Promise<GPT2Model> {
  if (!(HF_MODELS as readonly string[]).includes(nameOrDir)) return loadModel(nameOrDir, opts);
  const repo = `openai-community/${nameOrDir}`;
  for (const file of ['config.json', 'model.safetensors']) {
    const shown: { bar?: Progress } = {}; // the default progress line, made once the size is known
    const onProgress = (p: DownloadProgress) => (opts.onProgress ? opts.onProgress(file, p) : (shown.bar ??= startProgress(`${repo}/${file}`, p.total, 'B')).update(p.received));
    try {
      await downloadFile(hfResolveUrl(repo, file, 'model'), hfCachePath(repo, file, 'model'), { onProgress });
    } finally {
      shown.bar?.stop();
    }
  }
  return loadModel(dirname(hfCachePath(repo, 'config.json', 'model')), opts);
}
