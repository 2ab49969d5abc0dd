// Compiling and running the kernels of ./kernels.ts with one gpu.js instance (one mode).
// Promise: a kernel is compiled once per (output dims, argument types and classes) and cached, with
// `pipeline` + `immutable` so each call returns a fresh result that stays where gpu.js
// computed it (a GL texture, a WebGPU buffer, or for webasm a host typed array). gpu.js itself
// comes from the platform: load.node.ts (the bundle in dist/vendor) or index.web.ts (its browser build).
import type { ArgType, KernelDef } from './kernels.ts';

/** The gpu.js modes tsgrad uses. */
export type GpuMode = 'webgpu' | 'headlessgl' | 'webasm';

/**
 * A value as gpu.js hands it back: a GL texture or WebGPU buffer handle (both have
 * `toArray` and `delete`), or, for webasm and for host-kept arrays, a Float32Array.
 */
export type Native = Float32Array | DeviceResult;

export interface DeviceResult {
  type: string;
  toArray(): unknown; // nested Float32Arrays for 2-D/3-D outputs; a Promise on webgpu
  delete(): void;
}

/** A compiled kernel: called with its arguments, returns a result (a Promise on webgpu). */
type Compiled = ((...args: (Native | number)[]) => Native | Promise<Native>) & { kernel: { constructor: { name: string } } };

interface GpuInstance {
  createKernel(fn: KernelDef['fn'] | string, settings: object): Compiled;
  destroy(): unknown;
}

/** The gpu.js module: its GPU class and the feature flags tsgrad reads. */
export interface GpuJs {
  GPU: (new (settings: { mode: GpuMode }) => GpuInstance) & {
    isHeadlessGLSupported: boolean;
    isWebAssemblySupported: boolean;
    isWebGPUAvailable(): Promise<boolean>;
  };
}

/**
 * gpu.js stops any loop whose bound is an argument after `loopMaxIterations` (default 1000)
 * without an error. Every size here is an argument, so the cap is set past any real size.
 */
export const LOOP_MAX = 1 << 30;

/** The gpu.js kernel class each mode must run on (gpu.js may silently degrade to 'CPUKernel'). */
export const KERNEL_CLASS: Record<GpuMode, string> = {
  webgpu: 'WebGPUKernel',
  headlessgl: 'HeadlessGLKernel',
  webasm: 'WebAssemblyKernel',
};

export class Launcher {
  readonly gpu: GpuInstance;
  private readonly cache = new Map<string, Compiled>();

  constructor(gpujs: GpuJs, readonly mode: GpuMode) {
    this.gpu = new gpujs.GPU({ mode });
  }

  /** Runs `def` over `output` (gpu.js order: [x, y, z], x fastest) on already-resident arguments. */
  run(def: KernelDef, output: number[], args: (Native | number)[]): Native | Promise<Native> {
    const types = args.map((a, i) => argType(def.types[i], a));
    // GL textures of 1-D, 2-D and 3-D results are different classes, and a compiled GL kernel
    // accepts only the classes it was built for: they are part of the key
    const classes = args.map((a) => (typeof a === 'number' ? '' : a.constructor.name));
    const key = `${def.name}|${output.join(',')}|${types.join(',')}|${classes.join(',')}`;
    let kernel = this.cache.get(key);
    if (!kernel) {
      // WebGL 1 emulates `|` with a loop and its loop counters are exact ints: drop the `| 0`s
      const source = this.mode === 'headlessgl' ? def.fn.toString().replaceAll(' | 0)', ')') : def.fn;
      kernel = this.gpu.createKernel(source, {
        output,
        argumentTypes: types,
        pipeline: true,
        immutable: true,
        dynamicArguments: true, // one kernel per output shape, whatever its inputs' sizes
        precision: 'single',
        tactic: 'precision',
        loopMaxIterations: LOOP_MAX,
      });
      this.cache.set(key, kernel);
    }
    return kernel(...args);
  }

  /** Class names of the gpu.js kernels compiled so far: what actually ran. */
  kernelClasses(): Set<string> {
    return new Set([...this.cache.values()].map((k) => k.kernel.constructor.name));
  }
}

/** The gpu.js argument type of an actual value: textures and buffers carry their own. */
function argType(declared: ArgType, value: Native | number): string {
  if (declared !== 'Array') return declared;
  if (value instanceof Float32Array) return 'Array';
  return (value as DeviceResult).type;
}

/** A result read back as gpu.js shapes it (nested for 2-D/3-D outputs), flattened to n floats. */
export function flatten(x: unknown, n: number): Float32Array {
  if (x instanceof Float32Array) return x.length === n ? x : x.slice(0, n);
  const out = new Float32Array(n);
  let at = 0;
  const walk = (v: unknown): void => {
    if (v instanceof Float32Array) {
      out.set(v.subarray(0, Math.min(v.length, n - at)), at);
      at += v.length;
    } else for (const row of v as unknown[]) walk(row);
  };
  walk(x);
  return out;
}
