// The gpu.js backends: 'webgpu' (Dawn over Vulkan), 'headlessgl' (WebGL 1 in Node, under a
// display) and 'webasm' (WebAssembly + SIMD on the CPU), all running the kernels of
// ./kernels.ts. Promise: each factory resolves to a working Backend whose kernels really ran
// on the requested gpu.js mode; or rejects with BackendUnavailable saying what is missing here
// and how to get it (no WebGPU adapter, `gl` not built, no GL context, no WebAssembly); or
// rejects with a plain Error when the backend is there but broken (a probe kernel that ran on
// the wrong mode or computed the wrong numbers, a module that fails to load).
import { createRequire } from 'node:module';
import { BackendUnavailable, registeredBackends, setBackend, type BackendOptions } from '../registry.ts';
import { hostKernels, referenceBackend } from '../../reference/index.ts';
import { newArray } from '../../reference/host.ts';
import { completeBackend } from '../../composed.ts';
import type { Backend } from '../../backend.ts';
import { createDeviceBackend } from './device.ts';
import { KERNEL_CLASS, Launcher, flatten, loadGpuJs, type GpuMode } from './launch.ts';
import { hotOps } from './ops.ts';
import { copy } from './kernels.ts';

export { transferStats, resetTransferStats, type TransferStats } from './transfers.ts';

const launchers = new WeakMap<Backend, Launcher>();

/** The gpu.js kernel classes a backend made here has compiled: which mode really computed. */
export function kernelClassesOf(backend: Backend): string[] {
  const launcher = launchers.get(backend);
  if (!launcher) throw new Error(`kernelClassesOf: '${backend.name}' is not a gpu.js backend`);
  return [...launcher.kernelClasses()];
}

/** Remembers which launcher runs a backend's kernels (see kernelClassesOf). */
function tracked(backend: Backend, launcher: Launcher): Backend {
  launchers.set(backend, launcher);
  return backend;
}

/**
 * Builds a launcher and runs one tiny kernel on it, so that a mode gpu.js would quietly
 * replace with its CPU kernel (or that computes nonsense) fails here, loudly.
 */
async function checkedLauncher(mode: GpuMode): Promise<Launcher> {
  const launcher = new Launcher(mode);
  const probe = new Float32Array([1, 2, 3]);
  const result = await launcher.run(copy, [3], [probe]);
  const got = result instanceof Float32Array ? result : flatten(await result.toArray(), 3);
  const classes = [...launcher.kernelClasses()];
  if (classes.join() !== KERNEL_CLASS[mode]) throw new Error(`${mode}: gpu.js ran ${classes.join()} instead of ${KERNEL_CLASS[mode]}`);
  if (got.join() !== '1,2,3') throw new Error(`${mode}: probe kernel returned [${got.join()}], not [1,2,3]`);
  return launcher;
}

/** WebGPU through Dawn; on a CPU-only Linux machine, Mesa ≥ 25's lavapipe Vulkan driver. */
export async function createWebGPUBackend(): Promise<Backend> {
  const { installNodeWebGPU } = await import('./webgpu.node.ts');
  await installNodeWebGPU();
  const gpu = (globalThis as unknown as { navigator: { gpu: GPU } }).navigator.gpu;
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new BackendUnavailable('webgpu: no adapter (install Mesa ≥ 25 lavapipe: mesa-vulkan-drivers libvulkan1 from bookworm-backports, see .ci/install-gpu-deps.sh)');
  // gpu.js asks for the adapter's own buffer limits; lavapipe's is 128 MiB per storage buffer
  const maxElements = Math.floor(Math.min(adapter.limits.maxStorageBufferBindingSize, adapter.limits.maxBufferSize) / 4);
  const launcher = await checkedLauncher('webgpu');
  return tracked(createDeviceBackend({ name: 'webgpu', launcher, asyncOnly: true, maxElements, rowSplit: (rows) => [rows, 1] }), launcher);
}

/** WebGL 1 through the npm `gl` package; needs an X display (xvfb-run -a on a server). */
export async function createHeadlessGLBackend(): Promise<Backend> {
  let createContext: (w: number, h: number) => WebGLRenderingContextLike | null;
  try {
    createContext = createRequire(import.meta.url)('gl');
  } catch (e) {
    if (!isNotBuilt(e)) throw e;
    throw new BackendUnavailable(`headlessgl: headless-gl (npm 'gl', opt-in: it compiles for minutes) is not installed or not built: run \`npm run setup:headlessgl\` in a tsgrad checkout, or \`npm install gl\` in a project that uses tsgrad (${(e as Error).message.split('\n')[0]})`);
  }
  const ctx = createContext(1, 1);
  if (!ctx) throw new BackendUnavailable(`headlessgl: no GL context opens${process.env.DISPLAY ? '' : ' (DISPLAY is unset: run under xvfb-run -a)'}`);
  const maxTex: number = ctx.getParameter(ctx.MAX_TEXTURE_SIZE);
  ctx.getExtension('STACKGL_destroy_context')?.destroy();
  if (!loadGpuJs().GPU.isHeadlessGLSupported) throw new Error('headlessgl: gpu.js cannot open a headless-gl context');
  const launcher = await checkedLauncher('headlessgl');
  return tracked(createDeviceBackend({
    name: 'headlessgl',
    launcher,
    asyncOnly: false,
    // the texture of a [rows, cols] result must fit maxTex × maxTex
    maxElements: maxTex * maxTex,
    rowSplit: (rows, cols) => glRowSplit(rows, cols, maxTex),
  }), launcher);
}

/** `gl` is absent (not installed) or its native part was never compiled: not a broken backend. */
function isNotBuilt(e: unknown): boolean {
  const { code, message } = e as { code?: string; message?: string };
  return code === 'MODULE_NOT_FOUND' || /Could not locate the bindings file/.test(message ?? '');
}

/**
 * gpu.js gives a 2-D output [cols, rows] a texture exactly cols wide, and a 3-D output with
 * depth > 1 a square one. A [rows, cols] result wider or taller than the texture limit (the
 * vocabulary: 50257 columns) therefore goes out as [cols, rows/RB, RB] with RB the smallest
 * divisor ≥ 2 of rows; a prime row count that needs splitting cannot be laid out (null).
 */
export function glRowSplit(rows: number, cols: number, maxTex: number): [number, number] | null {
  if (cols <= maxTex && rows <= maxTex) return [rows, 1];
  for (let rb = 2; rb * rb <= rows; rb++) if (rows % rb === 0) return [rows / rb, rb];
  return null;
}

/** WebAssembly (f32x4 SIMD) on the CPU: host memory, so no handles and no transfers. */
export async function createWebAsmBackend(): Promise<Backend> {
  if (!loadGpuJs().GPU.isWebAssemblySupported) throw new BackendUnavailable('webasm: this runtime has no WebAssembly');
  const launcher = await checkedLauncher('webasm');
  // the hot ops as gpu.js kernels, every other kernel the reference's
  const backend = completeBackend({ ...hostKernels('webasm', newArray), ...hotOps({
    run(def, output, args) {
      const n = output.reduce((p, d) => p * d, 1);
      if (n === 0) return new Float32Array(0);
      // webasm results are host typed arrays already (nested for 2-D/3-D outputs)
      return flatten(launcher.run(def, output, args as (Float32Array | number)[]), n);
    },
    rowSplit: (rows) => [rows, 1],
    partLength: Infinity, // host memory: a tensor is always one array
    parts: (s) => [s],
    join: (_length, parts) => parts[0],
  }, referenceBackend) });
  return tracked(backend, launcher);
}

// Just the parts of WebGPU and WebGL this file touches.
interface GPU {
  requestAdapter(): Promise<{ limits: { maxStorageBufferBindingSize: number; maxBufferSize: number } } | null>;
}
interface WebGLRenderingContextLike {
  MAX_TEXTURE_SIZE: number;
  getParameter(p: number): number;
  getExtension(name: string): { destroy(): void } | null;
}

/**
 * 'auto': webgpu if a hardware adapter answers, else headlessgl if a GL context opens, else
 * the 'cpu' backend (or the reference 'js' where 'cpu' is not registered). Tells `opts.log`
 * which, and why. The adapter is asked for in a child process (adapter_probe.node.ts), so
 * Dawn is loaded here only when it will run the kernels. A software WebGPU adapter (lavapipe:
 * `info.isFallbackAdapter`) is passed over: it runs at about 1 GFLOP/s, far below 'cpu'; ask
 * for `--backend webgpu` to use it anyway.
 */
export async function createAutoBackend(opts: BackendOptions = {}): Promise<Backend> {
  const reasons: string[] = [];
  const firstLine = (e: unknown) => (e as Error).message.split('\n')[0];
  const picked = (name: string): void => {
    opts.log?.(`tsgrad: backend auto → ${name}${reasons.length ? ` (${reasons.join('; ')})` : ''}`);
  };
  const { probeWebGPUAdapter } = await import('./adapter_probe.node.ts');
  const probe = await probeWebGPUAdapter();
  if (probe.adapter === 'hardware') {
    try {
      const backend = await createWebGPUBackend();
      picked(backend.name);
      return backend;
    } catch (e) {
      reasons.push(firstLine(e));
    }
  } else {
    reasons.push(probe.adapter === 'software' ? `webgpu: software adapter only (${probe.detail})` : probe.detail);
  }
  try {
    const backend = await createHeadlessGLBackend();
    picked(backend.name);
    return backend;
  } catch (e) {
    reasons.push(firstLine(e));
  }
  const name = registeredBackends().includes('cpu') ? 'cpu' : 'js';
  picked(name);
  return setBackend(name); // setBackend('auto') makes the result current right after
}
