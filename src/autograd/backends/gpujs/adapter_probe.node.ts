// Which WebGPU adapter this machine offers, asked in a child process, so that loading Dawn to
// find out prints nothing in the user's terminal (Dawn writes its warnings straight to the
// process's stderr) and costs nothing in this process. The answer is cached in
// $TSGRAD_PROBE_CACHE (default $XDG_CACHE_HOME/tsgrad, else ~/.cache/tsgrad), keyed by what
// decides it: Node's version, the `webgpu` package, the OS release and the Vulkan drivers
// installed (their ICD files and libraries), so installing or upgrading any of them probes again.
// Promise: never throws; an adapter that cannot be asked for is 'none', with the reason.
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir, release } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

export interface AdapterProbe {
  /** software: a CPU rasterizer such as lavapipe or SwiftShader (isFallbackAdapter). */
  adapter: 'hardware' | 'software' | 'none';
  /** Why there is none, or the adapter's description. */
  detail: string;
}

/** The directory of the probe's cache file. */
export function probeCacheDir(): string {
  return process.env.TSGRAD_PROBE_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tsgrad');
}

/** Size and modification time of a file, or null when it is not there. */
function stamp(path: string): string | null {
  try {
    const s = statSync(path);
    return `${s.size}@${s.mtimeMs}`;
  } catch {
    return null;
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Vulkan's installable client drivers: each ICD file with the library it names. */
function vulkanDrivers(): Record<string, string | null> {
  const listed = process.env.VK_DRIVER_FILES || process.env.VK_ICD_FILENAMES;
  const dataHome = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  const dirs = ['/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/usr/share/vulkan/icd.d', join(dataHome, 'vulkan', 'icd.d')];
  const files = listed ? listed.split(':') : dirs.flatMap((d) => listDir(d).map((f) => join(d, f)));
  const libDirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
  const drivers: Record<string, string | null> = {};
  for (const file of files) {
    drivers[file] = stamp(file);
    try {
      const lib: string = JSON.parse(readFileSync(file, 'utf8')).ICD.library_path;
      const path = isAbsolute(lib) ? lib : libDirs.map((d) => join(d, lib)).find((p) => stamp(p) !== null);
      if (path) drivers[path] = stamp(path);
    } catch {
      // not an ICD file we can read: its own stamp is in the key
    }
  }
  return drivers;
}

/** Where the `webgpu` package's entry point is, or null when it is not installed. */
function webgpuEntry(): string | null {
  try {
    return createRequire(import.meta.url).resolve('webgpu');
  } catch {
    return null;
  }
}

/** What decides the probe's answer; a cached answer holds for exactly this key. */
export function probeKey(): string {
  const entry = webgpuEntry();
  const webgpu = entry === null ? null : { entry, package: stamp(join(dirname(entry), 'package.json')) };
  return JSON.stringify({ node: process.version, platform: process.platform, arch: process.arch, os: release(), webgpu, vulkan: vulkanDrivers() });
}

// Runs in the child: the adapter as JSON on stdout.
const CHILD = `
const { create, globals } = await import(process.argv[1]);
Object.assign(globalThis, globals);
const adapter = await create([]).requestAdapter();
const info = adapter?.info ?? {};
process.stdout.write(JSON.stringify(adapter === null
  ? { adapter: 'none', detail: 'no adapter (install Mesa >= 25 lavapipe or a GPU driver with Vulkan)' }
  : { adapter: info.isFallbackAdapter ? 'software' : 'hardware', detail: info.description || info.vendor || 'unnamed adapter' }));
process.exit(0);
`;

/** Asks a child process; `answered` is false when it crashed or hung (not worth caching). */
function askChild(entry: string): Promise<{ result: AdapterProbe; answered: boolean }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', CHILD, pathToFileURL(entry).href], { timeout: 120_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err === null) {
        try {
          return resolve({ result: JSON.parse(stdout) as AdapterProbe, answered: true });
        } catch {
          // printed no answer: reported below
        }
      }
      const why = err === null ? 'printed no answer' : err.killed ? 'timed out' : `exited with ${err.code}`;
      const last = stderr.trim().split('\n').filter((l) => !l.startsWith('Warning:')).pop();
      resolve({ result: { adapter: 'none', detail: `webgpu: the adapter probe ${why}${last ? `: ${last}` : ''}` }, answered: false });
    });
  });
}

/** The machine's WebGPU adapter: from the cache when its key matches, else from a child process. */
export async function probeWebGPUAdapter(): Promise<AdapterProbe> {
  const entry = webgpuEntry();
  if (entry === null) return { adapter: 'none', detail: "webgpu: the Dawn module (npm 'webgpu') is not installed" };
  const file = join(probeCacheDir(), 'webgpu-adapter.json');
  const key = probeKey();
  try {
    const cached = JSON.parse(readFileSync(file, 'utf8'));
    if (cached.key === key) return cached.result as AdapterProbe;
  } catch {
    // no cache yet, or unreadable: probe
  }
  const { result, answered } = await askChild(entry);
  if (answered) {
    try {
      mkdirSync(dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ key, result }, null, 2) + '\n');
      renameSync(tmp, file);
    } catch {
      // a cache we cannot write only means probing again next time
    }
  }
  return result;
}
