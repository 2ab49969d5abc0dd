// Small helpers for the reference kernels: narrowing a Storage to host memory and
// allocating an output of the same precision as an input (from the pool in ../../memory.ts).
import { isHost, type HostArray, type Storage } from '../backend.ts';
import { allocHost } from '../backends/memory.ts';

/** The reference kernels only understand host memory. */
export function host(s: Storage): HostArray {
  if (!isHost(s)) throw new Error(`reference backend: got a device array of backend '${s.backend}'; read it back first`);
  return s;
}

/** A zeroed array of n elements with the same precision as `like` (reused memory when a step scope gave some back). */
export function alloc(like: HostArray, n: number): HostArray {
  return allocHost(like instanceof Float64Array ? 'float64' : 'float32', n);
}
