// How the reference kernels meet storage: they compute on host typed arrays only, and write
// into output arrays that their backend hands them (see hostKernels in ./index.ts).
// Promise: host() and onHost() return their input unchanged, or throw naming the backend a
// device array belongs to.
import { dtypeOf, isHost, type DType, type HostArray, type Storage } from '../backend.ts';

/** A zero-filled host array of n numbers of a precision: how a host backend makes the arrays kernels write into. */
export type Alloc = (dtype: DType, n: number) => HostArray;

/** New arrays, as the reference backend makes them: `new Float32Array(n)` (Float64Array in gradient checks). */
export const newArray: Alloc = (dtype, n) => (dtype === 'float64' ? new Float64Array(n) : new Float32Array(n));

/** `like(x, n)`: n zeros from alloc, of x's precision (how a kernel's output matches its input). */
export const allocLike = (alloc: Alloc) => (x: HostArray, n: number): HostArray => alloc(dtypeOf(x), n);

/** The reference kernels only understand host memory. */
export function host(s: Storage): HostArray {
  if (!isHost(s)) throw new Error(`reference backend: got a device array of backend '${s.backend}'; read it back first`);
  return s;
}

/** A kernel's arguments with every Storage narrowed to host memory. */
export type OnHost<T> = { [K in keyof T]: T[K] extends Storage ? HostArray : T[K] };

/** The same arguments, each storage checked to be host memory. */
export function onHost<T extends object>(args: T): OnHost<T> {
  for (const v of Object.values(args)) if (isDeviceArray(v)) host(v);
  return args as OnHost<T>;
}

function isDeviceArray(v: unknown): v is Storage {
  return typeof v === 'object' && v !== null && !ArrayBuffer.isView(v) && 'backend' in v && 'length' in v;
}
