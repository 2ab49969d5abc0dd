// Memory reuse between training steps: a pool of host arrays, and the step scope that refills it.
// Why: a training step allocates the same arrays every time (activations, their gradients,
// temporaries), and the first write to freshly allocated memory is slow (page faults: 0.2–2 ms
// per MB on the 2-core machine this was measured on, more than many kernels take). PyTorch
// reuses freed blocks in its caching allocator; JavaScript frees an array only when the garbage
// collector gets to it, and hands back fresh pages. So:
//   - every host kernel output comes from `allocHost` (reference backend, cpu backend);
//   - `reuseMemory(step, keep)` notes every array allocHost hands out while `step` runs, and
//     when it returns gives back to the pool each one that is not in `keep()`: the state the
//     caller carries to the next step (parameters, optimizer moments). An array kept by one
//     step and not by the next (SGD makes new parameter arrays) is given back then;
//   - later `allocHost` calls hand those arrays out again, zero-filled like fresh ones.
// Promise: only arrays that came from `allocHost` are ever reused (never a caller's own array,
// never a view into wasm memory), and only after the step that made them has finished. The
// caller promises that keep() lists everything made inside a step that is read afterwards:
// the training loop reads the loss and grad norm as numbers inside the step and zeroes the
// gradients before it ends. Device storages are left to their backend (the gpu.js backends free
// a handle's buffer when the garbage collector collects it). Without `reuseMemory`, `allocHost`
// is just `new Float32Array(n)`.
import type { DType, HostArray, Storage } from '../backend.ts';

/** Free arrays by key `${dtype}:${length}`. */
const free = new Map<string, HostArray[]>();
/** Arrays handed out inside the open scope (null: no scope open). */
let handedOut: Set<HostArray> | null = null;
/** Pool arrays the last scope's keep() held: given back when a later scope no longer keeps them. */
let carried = new Set<HostArray>();

/** Counters for tests and benchmarks: fresh allocations and reuses since start. */
export const hostPoolStats = { fresh: 0, reused: 0 };

/** A zero-filled host array of n elements: a reused one when the pool has one of this size. */
export function allocHost(dtype: DType, n: number): HostArray {
  let out = free.get(`${dtype}:${n}`)?.pop();
  if (out !== undefined) {
    hostPoolStats.reused++;
    out.fill(0);
  } else {
    hostPoolStats.fresh++;
    out = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  }
  handedOut?.add(out);
  return out;
}

/**
 * Runs one training step, then gives back to the pool every array allocHost handed out during
 * it (and every array the previous step kept) that is not in keep(), evaluated after the step.
 * If the step throws, nothing is given back. Scopes do not nest.
 */
export async function reuseMemory<T>(step: () => Promise<T>, keep: () => Storage[]): Promise<T> {
  if (handedOut !== null) throw new Error('reuseMemory: a step scope is already open');
  const mine = new Set<HostArray>(carried);
  handedOut = mine;
  let result: T;
  try {
    result = await step();
  } finally {
    handedOut = null;
  }
  const kept = new Set<Storage>(keep());
  carried = new Set();
  for (const a of mine) {
    if (kept.has(a)) {
      carried.add(a);
      continue;
    }
    const key = `${a instanceof Float64Array ? 'float64' : 'float32'}:${a.length}`;
    let list = free.get(key);
    if (list === undefined) free.set(key, (list = []));
    list.push(a);
  }
  return result;
}

/** Lets the garbage collector have every pooled array (the training loop calls it when it ends). */
export function clearHostPool(): void {
  free.clear();
  carried = new Set();
}
