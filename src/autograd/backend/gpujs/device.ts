// A gpu.js device backend (webgpu, headlessgl): tensors live in device memory as GpuArray
// handles, kernels chain on them without reading back, and only toHost/toHostAsync
// transfer. Promise: every Backend op works — the hot ops as kernels (./ops.ts), the rest on
// the reference kernels through the host, each crossing counted in ../transfers.ts — and a
// handle nobody references frees its device memory.
import { isHost, type Backend, type DeviceArray, type HostArray, type Storage } from '../backend.ts';
import { referenceBackend } from '../reference/index.ts';
import { composedLinearCrossEntropy } from '../linear_cross_entropy.ts';
import * as K from './kernels.ts';
import { flatten, type DeviceResult, type Launcher, type Native } from './launch.ts';
import { hotOps, type Exec } from './ops.ts';
import { countReadback, countUpload } from '../transfers.ts';

type Maybe<T> = T | Promise<T>;

/** f(values) now if no value is pending, else once they all resolve (the async chain). */
function when<T extends readonly unknown[], R>(values: T, f: (v: { [I in keyof T]: Awaited<T[I]> }) => Maybe<R>): Maybe<R> {
  if (values.some((v) => v instanceof Promise)) return Promise.all(values).then((v) => f(v as { [I in keyof T]: Awaited<T[I]> }));
  return f(values as { [I in keyof T]: Awaited<T[I]> });
}

/**
 * A tensor's numbers on the device. `value` is what gpu.js returned (a texture or buffer
 * handle, or a Float32Array kept on the host when it is too large for one device buffer),
 * or, on webgpu, a promise of it: the next kernel chains on that promise.
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

export interface DeviceOptions {
  name: string;
  launcher: Launcher;
  asyncOnly: boolean;
  /** Most float32 values one device array may hold; larger ones stay on the host. */
  maxElements: number;
  /** See Exec.rowSplit. */
  rowSplit(rows: number, cols: number): [number, number] | null;
}

export function createDeviceBackend(o: DeviceOptions): Backend {
  const { name, launcher } = o;

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
  };

  /** Host → device (counted) by a copy kernel; empty and too-large arrays stay on the host. */
  const place = (h: HostArray): Maybe<Native> => {
    const f = h instanceof Float32Array ? h : Float32Array.from(h);
    if (f.length === 0 || f.length > o.maxElements) return f;
    countUpload(f.length);
    return launcher.run(K.copy, [f.length], [f]);
  };
  const upload = (h: HostArray): GpuArray => adopt(h.length, place(h));

  /** Device → host, counted; nested gpu.js results are flattened. */
  const read = (s: Storage): Maybe<HostArray> => {
    if (isHost(s)) return s;
    if (!(s instanceof GpuArray)) throw new Error(`${name}: got a device array of backend '${s.backend}'`);
    return when([s.value], ([v]) => {
      if (v instanceof Float32Array) return v;
      countReadback(s.length);
      return when([(v as DeviceResult).toArray()], ([arr]) => flatten(arr, s.length));
    });
  };

  /**
   * An op run by the reference kernels on the host: inputs read back, outputs uploaded.
   * `sizes` gives each output's length up front, because on webgpu the handles are made
   * before the numbers exist.
   */
  function viaHost<A extends unknown[]>(op: (...a: A) => unknown, sizes: (...a: A) => number | Record<string, number>) {
    return (...args: A): never => {
      const result = when(args.map((a) => (a instanceof GpuArray ? read(a) : a)), (hostArgs) => op(...(hostArgs as A)));
      // on webgpu `result` is pending: the handles exist now, their buffers once it is there
      const uploadOf = (len: number, pick: (r: unknown) => HostArray): GpuArray => adopt(len, when([result], ([r]) => place(pick(r))));
      const shape = sizes(...args);
      if (typeof shape === 'number') return uploadOf(shape, (r) => r as HostArray) as never;
      return Object.fromEntries(Object.keys(shape).map((key) => [key, uploadOf(shape[key], (r) => (r as Record<string, HostArray>)[key])])) as never;
    };
  }

  const ref = referenceBackend;
  const numel = (s: number[]): number => s.reduce((p, d) => p * d, 1);
  const fb: Backend = {
    ...ref,
    name,
    asyncOnly: o.asyncOnly,
    unary: viaHost(ref.unary, (_op, x) => x.length),
    binary: viaHost(ref.binary, (_op, _a, _as, _b, _bs, out) => numel(out)),
    maskedFill: viaHost(ref.maskedFill, (x) => x.length),
    geluBackward: viaHost(ref.geluBackward, (x) => x.length),
    permute: viaHost(ref.permute, (x) => x.length),
    slice: viaHost(ref.slice, (_x, _s, _b, size) => numel(size)),
    pad: viaHost(ref.pad, (_x, _s, _b, out) => numel(out)),
    reduce: viaHost(ref.reduce, (_op, _x, shape, axis) => numel(shape) / shape[axis]),
    matmul: viaHost(ref.matmul, (_a, _b, p) => p.batch * p.m * p.n),
    softmax: viaHost(ref.softmax, (_x, rows, cols) => rows * cols),
    softmaxBackward: viaHost(ref.softmaxBackward, (_y, _dy, rows, cols) => rows * cols),
    logSoftmax: viaHost(ref.logSoftmax, (_x, rows, cols) => rows * cols),
    logSoftmaxBackward: viaHost(ref.logSoftmaxBackward, (_y, _dy, rows, cols) => rows * cols),
    crossEntropy: viaHost(ref.crossEntropy, (_x, _t, rows) => ({ loss: rows, lse: rows })),
    crossEntropyBackward: viaHost(ref.crossEntropyBackward, (_x, _l, _t, _d, rows, cols) => rows * cols),
    layerNorm: viaHost(ref.layerNorm, (_x, _w, _b, rows, cols) => ({ y: rows * cols, mean: rows, rstd: rows })),
    layerNormBackward: viaHost(ref.layerNormBackward, (_dy, _x, _w, _m, _r, rows, cols) => ({ dx: rows * cols, dweight: cols, dbias: cols })),
    attention: viaHost(ref.attention, (_q, _k, _v, p) => ({ out: p.BH * p.Tq * p.D, lse: p.BH * p.Tq })),
    attentionBackward: viaHost(ref.attentionBackward, (_d, _q, _k, _v, _o, _l, p) => ({ dq: p.BH * p.Tq * p.D, dk: p.BH * p.Tk * p.D, dv: p.BH * p.Tk * p.D })),
    embedding: viaHost(ref.embedding, (_w, ids, _V, C) => ids.length * C),
    embeddingBackward: viaHost(ref.embeddingBackward, (_dy, _ids, V, C) => V * C),
    adamw: viaHost(ref.adamw, (p) => ({ param: p.length, m: p.length, v: p.length })),
  };

  // The hot ops run as kernels unless an operand (or a matmul's result) is too big for the device.
  const hot = hotOps(exec, fb);
  const fits = (op: string, args: unknown[]): boolean => {
    const lengths = args.filter((a): a is Storage => a instanceof GpuArray || isHost(a as Storage)).map((a) => a.length);
    if (op === 'matmul') {
      const p = args[2] as { batch: number; m: number; n: number };
      lengths.push(p.batch * p.m * p.n);
    }
    return lengths.every((n) => n <= o.maxElements);
  };
  const guarded: Partial<Backend> = {};
  for (const [op, kernel] of Object.entries(hot) as [keyof Backend, (...a: unknown[]) => unknown][]) {
    const host = fb[op] as (...a: unknown[]) => unknown;
    Object.assign(guarded, { [op]: (...args: unknown[]) => (fits(op, args) ? kernel : host)(...args) });
  }

  const backend: Backend = {
    ...fb,
    ...guarded,
    ...composedLinearCrossEntropy(() => backend), // two matmuls and the CE kernels, on the device
    fromHost: upload,
    toHost(x) {
      if (o.asyncOnly) throw new Error(`${name}: reading numbers back is asynchronous here; use \`await tensor.toArray()\``);
      const h = read(x);
      if (h instanceof Promise) throw new Error(`${name}: value still pending`);
      return h;
    },
    toHostAsync: async (x) => read(x),
    fill(n, value, dtype) {
      if (dtype === 'float64') return ref.fill(n, value, dtype);
      return n > o.maxElements ? adopt(n, new Float32Array(n).fill(value)) : exec.run(K.fill, [n], [value]);
    },
  };
  return backend;
}
