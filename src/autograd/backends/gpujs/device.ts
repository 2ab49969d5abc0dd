// A gpu.js device backend (webgpu, headlessgl): tensors live in device memory as GpuArray
// handles, kernels chain on them without reading back, and only toHost/toHostAsync
// transfer. A tensor longer than one device array may be is a PartedArray of consecutive
// GpuArrays (see ./ops.ts). Promise: every Backend op works — the hot ops as kernels
// (./ops.ts), newtonSchulz composed of them, the rest on the reference kernels through the
// host, each crossing counted in ./transfers.ts — and a handle nobody references frees its
// device memory.
import { isHost, type Backend, type DeviceArray, type HostArray, type Storage } from '../../backend.ts';
import { referenceBackend } from '../../reference/index.ts';
import { composedKernels } from '../../composed.ts';
import * as K from './kernels.ts';
import { flatten, type DeviceResult, type Launcher, type Native } from './launch.ts';
import { hotOps, partRanges, type Exec } from './ops.ts';
import { countReadback, countUpload } from './transfers.ts';

type Maybe<T> = T | Promise<T>;

/** f(values) now if no value is pending, else once they all resolve (the async chain). */
function when<T extends readonly unknown[], R>(values: T, f: (v: { [I in keyof T]: Awaited<T[I]> }) => Maybe<R>): Maybe<R> {
  if (values.some((v) => v instanceof Promise)) return Promise.all(values).then((v) => f(v as { [I in keyof T]: Awaited<T[I]> }));
  return f(values as { [I in keyof T]: Awaited<T[I]> });
}

/**
 * A tensor's numbers on the device. `value` is what gpu.js returned (a texture or buffer
 * handle; an empty Float32Array for an empty tensor), or, on webgpu, a promise of it: the
 * next kernel chains on that promise.
 */
export class GpuArray implements DeviceArray {
  /** The inputs of the kernel making this value, kept alive until it is made (then dropped). */
  pendingInputs: GpuArray[] | null;

  constructor(
    readonly backend: string,
    readonly length: number,
    readonly value: Maybe<Native>,
    inputs: GpuArray[],
  ) {
    this.pendingInputs = null;
    if (value instanceof Promise && inputs.length > 0) {
      this.pendingInputs = inputs;
      void value.then(() => (this.pendingInputs = null), () => (this.pendingInputs = null));
    }
  }
}

/** A tensor longer than one device array may hold: consecutive parts (see ./ops.ts). */
export class PartedArray implements DeviceArray {
  constructor(
    readonly backend: string,
    readonly length: number,
    readonly parts: GpuArray[],
  ) {}
}

/**
 * Parts are a multiple of this many values: 76800 = lcm(768, 1024, 1280, 1600), the widths of
 * GPT-2 small … XL (and of every width dividing it: 64, 128, 256, …), so each part of a
 * [V, C] weight holds whole rows.
 */
export const PART_ALIGN = 76800;

export interface DeviceOptions {
  name: string;
  launcher: Launcher;
  asyncOnly: boolean;
  /** Most float32 values one device buffer or texture may hold (the device's limit). */
  maxElements: number;
  /** Parts of longer tensors are a multiple of this many values (default PART_ALIGN; tests use less). */
  partAlign?: number;
  /** See Exec.rowSplit. */
  rowSplit(rows: number, cols: number): [number, number] | null;
}

export function createDeviceBackend(o: DeviceOptions): Backend {
  const { name, launcher } = o;
  // One device array holds at most partLength values: the device's limit, and 2²⁴, so that an
  // index computed in float32 (an id read from an array, times C) is exact; a multiple of partAlign.
  const align = o.partAlign ?? PART_ALIGN;
  const partLength = Math.floor(Math.min(o.maxElements, 2 ** 24) / align) * align;
  if (partLength < 1) throw new Error(`${name}: a device array of ${o.maxElements} values cannot hold one part of ${align}`);
  /** [start, end) of each part of a tensor of n values (one part per partLength; never null with cols = 1). */
  const partBounds = (n: number): [number, number][] => partRanges(n, 1, partLength)!;

  // When a handle is collected, its texture/buffer is released (after it was made).
  const registry = new FinalizationRegistry<Maybe<Native>>((value) => {
    void when([value], ([v]) => {
      if (!(v instanceof Float32Array)) v.delete();
    });
  });
  const adopt = (length: number, value: Maybe<Native>, inputs: GpuArray[] = []): GpuArray => {
    const a = new GpuArray(name, length, value, inputs);
    registry.register(a, value);
    return a;
  };

  /** The gpu.js argument for a storage: a device handle's value, or a host array (uploaded by the call). */
  const argOf = (s: Storage): Maybe<Native> => {
    if (s instanceof GpuArray) return s.value;
    if (s instanceof PartedArray) throw new Error(`${name}: a tensor in ${s.parts.length} parts reached a kernel that takes one array`);
    if (!isHost(s)) throw new Error(`${name}: got a device array of backend '${s.backend}'`);
    countUpload(s.length);
    return s instanceof Float32Array ? s : Float32Array.from(s);
  };

  const exec: Exec = {
    run(def, output, args) {
      const n = output.reduce((p, d) => p * d, 1);
      if (n === 0) return adopt(0, new Float32Array(0));
      const values = args.map((a) => (typeof a === 'number' ? a : argOf(a)));
      const inputs = args.filter((a): a is GpuArray => a instanceof GpuArray);
      return adopt(n, when(values, (v) => launcher.run(def, output, v)), inputs);
    },
    rowSplit: o.rowSplit,
    partLength,
    parts: (s) => (s instanceof PartedArray ? s.parts : [s]),
    join: (length, parts) => (parts.length === 1 ? parts[0] : new PartedArray(name, length, parts as GpuArray[])),
  };

  /**
   * Host → device (counted) by copy kernels, in parts when longer than partLength. `h` may
   * still be on its way (webgpu: the result of a host op); the handles exist at once.
   */
  const upload = (n: number, h: Maybe<HostArray>): Storage => {
    const part = (a: number, b: number): GpuArray =>
      adopt(b - a, when([h], ([arr]) => {
        const f = (arr instanceof Float32Array ? arr : Float32Array.from(arr)).subarray(a, b);
        if (f.length === 0) return new Float32Array(0);
        countUpload(f.length);
        return launcher.run(K.copy, [f.length], [f]);
      }));
    return n <= partLength ? part(0, n) : new PartedArray(name, n, partBounds(n).map(([a, b]) => part(a, b)));
  };

  /** Device → host, counted; nested gpu.js results are flattened, parts put end to end. */
  const read = (s: Storage): Maybe<HostArray> => {
    if (isHost(s)) return s;
    if (s instanceof PartedArray) {
      return when(s.parts.map(read), (parts) => {
        const out = new Float32Array(s.length);
        partBounds(s.length).forEach(([a], i) => out.set(parts[i], a));
        return out;
      });
    }
    if (!(s instanceof GpuArray)) throw new Error(`${name}: got a device array of backend '${s.backend}'`);
    return when([s.value], ([v]) => {
      if (v instanceof Float32Array) return v;
      countReadback(s.length);
      return when([(v as DeviceResult).toArray()], ([arr]) => flatten(arr, s.length));
    });
  };
  const isDevice = (a: unknown): a is GpuArray | PartedArray => a instanceof GpuArray || a instanceof PartedArray;
  /** A kernel's argument object (not an array of numbers). */
  const isArgObject = (a: unknown): a is Record<string, unknown> => typeof a === 'object' && a !== null && !Array.isArray(a) && !ArrayBuffer.isView(a) && !isDevice(a);
  /** An argument with every device array in it (itself, or a field of an argument object) read back. */
  const onHost = (a: unknown): Maybe<unknown> => {
    if (isDevice(a)) return read(a);
    if (!isArgObject(a)) return a;
    const keys = Object.keys(a);
    return when(keys.map((k) => onHost(a[k])), (values) => Object.fromEntries(keys.map((k, i) => [k, values[i]])));
  };
  /** The storages among a kernel's arguments. */
  const storagesIn = (args: unknown[]): Storage[] =>
    args.flatMap((a) => (isDevice(a) || (ArrayBuffer.isView(a) && isHost(a as Storage)) ? [a as Storage] : isArgObject(a) ? storagesIn(Object.values(a)) : []));

  /**
   * An op run by the reference kernels on the host: inputs read back, outputs uploaded.
   * `sizes` gives each output's length up front, because on webgpu the handles are made
   * before the numbers exist.
   */
  function viaHost<A extends unknown[]>(op: (...a: A) => unknown, sizes: (...a: A) => number | Record<string, number | null>) {
    return (...args: A): never => {
      const result = when(args.map(onHost), (hostArgs) => op(...(hostArgs as A)));
      // on webgpu `result` is pending: the handles exist now, their buffers once it is there
      const uploadOf = (len: number, pick: (r: unknown) => HostArray): Storage => upload(len, when([result], ([r]) => pick(r)));
      const shape = sizes(...args);
      if (typeof shape === 'number') return uploadOf(shape, (r) => r as HostArray) as never;
      return Object.fromEntries(Object.entries(shape).map(([key, len]) => [key, len === null ? null : uploadOf(len, (r) => (r as Record<string, HostArray>)[key])])) as never;
    };
  }

  const ref = referenceBackend;
  const numel = (s: number[]): number => s.reduce((p, d) => p * d, 1);
  const fb: Backend = {
    ...ref,
    name,
    asyncOnly: o.asyncOnly,
    unary: viaHost(ref.unary, (_op, x) => x.length),
    binary: viaHost(ref.binary, (a) => numel(a.outShape)),
    maskedFill: viaHost(ref.maskedFill, (a) => a.x.length),
    permute: viaHost(ref.permute, (a) => a.x.length),
    slice: viaHost(ref.slice, (a) => numel(a.size)),
    pad: viaHost(ref.pad, (a) => numel(a.outShape)),
    reduce: viaHost(ref.reduce, (a) => numel(a.shape) / a.shape[a.axis]),
    matmul: viaHost(ref.matmul, (_a, _b, p) => p.batch * p.m * p.n),
    softmax: viaHost(ref.softmax, (a) => a.rows * a.cols),
    softmaxBackward: viaHost(ref.softmaxBackward, (a) => a.rows * a.cols),
    logSoftmax: viaHost(ref.logSoftmax, (a) => a.rows * a.cols),
    logSoftmaxBackward: viaHost(ref.logSoftmaxBackward, (a) => a.rows * a.cols),
    crossEntropy: viaHost(ref.crossEntropy, (a) => ({ loss: a.rows, lse: a.rows })),
    crossEntropyBackward: viaHost(ref.crossEntropyBackward, (a) => a.rows * a.cols),
    layerNorm: viaHost(ref.layerNorm, (a) => ({ y: a.rows * a.cols, mean: a.rows, rstd: a.rows })),
    layerNormBackward: viaHost(ref.layerNormBackward, (a) => ({ dx: a.rows * a.cols, dweight: a.cols, dbias: a.cols })),
    attention: viaHost(ref.attention, (a) => ({ out: a.BH * a.Tq * a.D, lse: a.BH * a.Tq })),
    attentionBackward: viaHost(ref.attentionBackward, (a) => ({ dq: a.BH * a.Tq * a.D, dk: a.BH * a.Tk * a.D, dv: a.BH * a.Tk * a.D })),
    embedding: viaHost(ref.embedding, (a) => a.ids.length * a.C),
    embeddingBackward: viaHost(ref.embeddingBackward, (a) => a.V * a.C),
    linearCrossEntropy: viaHost(ref.linearCrossEntropy, (a) => ({ loss: a.N, dx: a.withGrad ? a.N * a.C : null, dw: a.withGrad ? a.V * a.C : null })),
    adamw: viaHost(ref.adamw, (a) => ({ param: a.param.length, m: a.param.length, v: a.param.length })),
  };

  // The hot ops run as kernels unless an operand is longer than one device array; the ops that
  // walk parts (or check their sizes) themselves, PARTWISE, take any length.
  const hot = hotOps(exec, fb);
  const PARTWISE = new Set(['unary', 'binary', 'adamw', 'embedding', 'embeddingBackward', 'linearCrossEntropy', 'reduce', 'matmul']);
  const fits = (op: string, args: unknown[]): boolean => PARTWISE.has(op) || storagesIn(args).every((a) => a.length <= partLength);
  const guarded: Partial<Backend> = {};
  for (const [op, kernel] of Object.entries(hot) as [keyof Backend, (...a: unknown[]) => unknown][]) {
    const host = fb[op] as (...a: unknown[]) => unknown;
    Object.assign(guarded, { [op]: (...args: unknown[]) => (fits(op, args) ? kernel : host)(...args) });
  }

  const backend: Backend = {
    ...fb,
    ...guarded,
    // matmuls and elementwise ops: composed of this backend's kernels, on the device
    newtonSchulz: (a) => composed.newtonSchulz(a),
    fromHost: (h) => upload(h.length, h),
    toHost(x) {
      if (o.asyncOnly) throw new Error(`${name}: reading numbers back is asynchronous here; use \`await tensor.toArray()\`, or \`await tensor.toNumber()\` for one number`);
      const h = read(x);
      if (h instanceof Promise) throw new Error(`${name}: value still pending`);
      return h;
    },
    toHostAsync: async (x) => read(x),
    fill(n, value, dtype) {
      if (dtype === 'float64') return ref.fill(n, value, dtype);
      return exec.join(n, partBounds(n).map(([a, b]) => exec.run(K.fill, [b - a], [value])));
    },
  };
  const composed = composedKernels(() => backend);
  return backend;
}
