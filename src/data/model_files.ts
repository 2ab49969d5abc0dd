// GPT-2 models on disk: safetensors files read tensor by tensor through a file handle, atomic
// writes, and model directories in the Hugging Face layout (config.json + model.safetensors),
// through gpt2/hf.ts's mapping of that layout onto GPT2Model. ./pretrained.ts fetches OpenAI's.
// Promise: a reader never holds more than one tensor beyond the model, opens only regular files,
// and builds the model only after the config matched the file's header; a failed or
// interrupted save leaves the previous files intact, a finished one is on disk (files and
// directory flushed), and a failed write names its file.
import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { openRegularFile } from './regular_file.ts';
import { saveTensors } from '../gpt2/hf.ts';
import { hfConfigText, modelFromConfig } from '../gpt2/hf_files.ts';
import type { GPT2Model, GPT2ModelOptions } from '../gpt2/model.ts';
import { encodeHeader, parseHeader, readHeaderLength, toFloat32, type SafetensorsHeader } from '../gpt2/safetensors.ts';

/** An open safetensors file: the checked header now, each tensor's numbers when asked. */
export class SafetensorsFile {
  private constructor(
    readonly path: string,
    readonly header: SafetensorsHeader,
    private fd: number,
  ) {}

  static open(path: string): SafetensorsFile {
    const fd = openRegularFile(path);
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
    throw new Error(`${path}: ${(err as Error).message}`); // ENOSPC and EIO name no file
  }
  closeSync(fd);
  return tmp;
}

/** Flushes a directory's entries (names created, renamed, removed) to disk; a no-op on Windows, which cannot open one. */
export function syncDir(dir: string): void {
  if (process.platform === 'win32') return;
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes bytes to path atomically: flushed to a temporary file, renamed into place, directory flushed. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  renameSync(await writeTemp(path, (fd) => writeAll(fd, bytes)), path);
  syncDir(dirname(path));
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
  syncDir(dirname(path));
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
    config = await writeTemp(join(dir, 'config.json'), (fd) => writeAll(fd, new TextEncoder().encode(hfConfigText(model.cfg))));
  } catch (err) {
    rmSync(weights, { force: true });
    throw err;
  }
  renameSync(weights, join(dir, 'model.safetensors'));
  renameSync(config, join(dir, 'config.json'));
  syncDir(dir);
}

/** Loads a Hugging Face GPT-2 model directory (config.json + model.safetensors). */
export function loadModel(dir: string, opts: GPT2ModelOptions = {}): GPT2Model {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`model directory '${dir}' not found (expected config.json and model.safetensors)`);
  const configPath = join(dir, 'config.json');
  const weightsPath = join(dir, 'model.safetensors');
  for (const p of [configPath, weightsPath]) if (!existsSync(p)) throw new Error(`model directory '${dir}' has no ${basename(p)}`);
  return loadModelFiles(configPath, weightsPath, opts);
}

/**
 * A model from its config.json and model.safetensors. The config is checked against the
 * weights file's header (names, shapes, dtypes) before the model is built, so a config that
 * claims a bigger model than the file holds fails at once, allocating nothing.
 */
export function loadModelFiles(configPath: string, weightsPath: string, opts: GPT2ModelOptions): GPT2Model {
  let configText: string;
  try {
    configText = readFileSync(configPath, 'utf8');
  } catch (err) {
    throw new Error(`${configPath}: cannot read it (${(err as Error).message})`);
  }
  const file = SafetensorsFile.open(weightsPath);
  try {
    return modelFromConfig(configText, configPath, { tensors: file.header.tensors, read: (key) => file.read(key) }, weightsPath, opts);
  } finally {
    file.close();
  }
}
