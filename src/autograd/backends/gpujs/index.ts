// The gpu.js backends' platform-neutral part: a 'webgpu' backend over the navigator.gpu the
// platform provides and a 'webasm' backend, each built on a gpu.js module the platform loads,
// running the kernels of ./kernels.ts. The factories that wire a platform in are
// ./index.node.ts (Dawn, headless-gl, the bundle in dist/vendor, 'auto') and ./index.web.ts (a
// browser's WebGPU). Promise: each builder resolves to a working Backend whose kernels really
// ran on the requested gpu.js mode; or rejects with BackendUnavailable saying what is missing
// here and how to get it; or rejects with a plain Error when the backend is there but broken
// (a probe kernel that ran on the wrong mode or computed the wrong numbers).
import { BackendUnavailable } from '../registry.ts';
import { hostKernels, referenceBackend } from '../../reference/index.ts';
import { newArray } from '../../reference/host.ts';
import { completeBackend } from '../../composed.ts';
import type { Backend } from '../../backend.ts';
import { createDeviceBackend } from './device.ts';
import { KERNEL_CLASS, Launcher, flatten, type GpuJs, type GpuMode } from './launch.ts';
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
export function tracked(backend: Backend, launcher: Launcher): Backend {
  launchers.set(backend, launcher);
  return backend;
}

/**
 * Builds a launcher and runs one tiny kernel on it, so that a mode gpu.js would quietly
 * replace with its CPU kernel (or that computes nonsense) fails here, loudly.
 */
export async function checkedLauncher(gpujs: GpuJs, mode: GpuMode): Promise<Launcher> {
  const launcher = new Launcher(gpujs, mode);
  const probe = new Float32Array([1, 2, 3]);
  const result = await launcher.run(copy, [3], [probe]);
  const got = result instanceof Float32Array ? result : flatten(await result.toArray(), 3);
  const classes = [...launcher.kernelClasses()];
  if (classes.join() !== KERNEL_CLASS[mode]) throw new Error(`${mode}: gpu.js ran ${classes.join()} instead of ${KERNEL_CLASS[mode]}`);
  if (got.join() !== '1,2,3') throw new Error(`${mode}: probe kernel returned [${got.join()}], not [1,2,3]`);
  return launcher;
}

/**
 * WebGPU through `navigator.gpu`, which must exist (Node installs Dawn's first); `noAdapter`
 * says how to get an adapter when there is none.
 */
export async function webgpuBackend(gpujs: GpuJs, noAdapter: string): Promise<Backend> {
  const gpu = (globalThis as unknown as { navigator: { gpu?: GPU } }).navigator.gpu;
  const adapter = await gpu?.requestAdapter();
  if (!adapter) throw new BackendUnavailable(`webgpu: no adapter (${noAdapter})`);
  // gpu.js asks for the adapter's own buffer limits; lavapipe's is 128 MiB per storage buffer
  const maxElements = Math.floor(Math.min(adapter.limits.maxStorageBufferBindingSize, adapter.limits.maxBufferSize) / 4);
  const launcher = await checkedLauncher(gpujs, 'webgpu');
  return tracked(createDeviceBackend({ name: 'webgpu', launcher, asyncOnly: true, maxElements, rowSplit: (rows) => [rows, 1] }), launcher);
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
export async function webasmBackend(gpujs: GpuJs): Promise<Backend> {
  if (!gpujs.GPU.isWebAssemblySupported) throw new BackendUnavailable('webasm: this runtime has no WebAssembly');
  const launcher = await checkedLauncher(gpujs, 'webasm');
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

// Just the part of WebGPU this file touches.
interface GPU {
  requestAdapter(): Promise<{ limits: { maxStorageBufferBindingSize: number; maxBufferSize: number } } | null>;
}
