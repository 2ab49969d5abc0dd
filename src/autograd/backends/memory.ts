// Memory reuse between training steps, a feature of the 'cpu' backend: a pool of host arrays,
// and the step scope that refills it. The reference backend has no pool (its kernels write
// into new arrays); the training loop enters a backend's pool through reuseMemory.
// Why: a training step allocates the same arrays every time (activations, their gradients,
// temporaries), and the first write to freshly allocated memory is slow (page faults: 0.2–2 ms
// per MB on the 2-core machine this was measured on, more than many kernels take). PyTorch
// reuses freed blocks in its caching allocator; JavaScript frees an array only when the garbage
// collector gets to it, and hands back fresh pages. So:
//   - every output of a pooled backend's kernels comes from its pool's `alloc`;
//   - `reuseMemory(backend, step, keep)` notes every array the pool hands out while `step`
//     runs, and when it returns gives back to the pool each one that is not held by a tensor
//     in `keep()`: the state the caller carries to the next step (parameters, optimizer
//     moments). An array kept by one step and not by the next (SGD makes new parameter
//     arrays) is given back then;
//   - later `alloc` calls hand those arrays out again, zero-filled like fresh ones.
// Promise: only arrays that came from the pool's `alloc` are ever reused (never a caller's
// own array, never a view into wasm memory), and only after the step that made them has
// finished. The caller promises that keep() lists every tensor made inside a step whose
// numbers are read afterwards: the training loop reads the loss and grad norm as numbers
// inside the step and zeroes the gradients before it ends. A tensor made in one step and
// held past it without being kept has its numbers overwritten by a later step. Outside
// reuseMemory, `alloc` is `new Float32Array(n)` (once the pool is empty).
import type { Backend, DType, HostArray, Storage } from '../backend.ts';
import type { Tensor } from '../tensor.ts';

export class MemoryPool {
  /** Fresh allocations and reuses since the pool was made (for tests and benchmarks). */
  readonly stats = { fresh: 0, reused: 0 };
  /** Free arrays by key `${dtype}:${length}`. */
  private free = new Map<string, HostArray[]>();
  /** Arrays handed out inside the open scope (null: no scope open). */
  private handedOut: Set<HostArray> | null = null;
  /** Pool arrays the last scope's keep() held: given back when a later scope no longer keeps them. */
  private carried = new Set<HostArray>();

  /** A zero-filled host array of n elements: a reused one when the pool has one of this size. */
  readonly alloc = (dtype: DType, n: number): HostArray => {
    let out = this.free.get(`${dtype}:${n}`)?.pop();
    if (out !== undefined) {
      this.stats.reused++;
      out.fill(0);
    } else {
      this.stats.fresh++;
      out = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
    }
    this.handedOut?.add(out);
    return out;
  };

  /**
   * Runs one training step, then gives back to the pool every array alloc handed out during
   * it (and every array the previous step kept) that is not in keep(), evaluated after the
   * step. If the step throws, nothing is given back. Scopes do not nest.
   */
  async reuse<T>(step: () => Promise<T>, keep: () => Storage[]): Promise<T> {
    if (this.handedOut !== null) throw new Error('reuseMemory: a step scope is already open');
    const mine = new Set<HostArray>(this.carried);
    this.handedOut = mine;
    let result: T;
    try {
      result = await step();
    } finally {
      this.handedOut = null;
    }
    const kept = new Set<Storage>(keep());
    this.carried = new Set();
    for (const a of mine) {
      if (kept.has(a)) {
        this.carried.add(a);
        continue;
      }
      const key = `${a instanceof Float64Array ? 'float64' : 'float32'}:${a.length}`;
      let list = this.free.get(key);
      if (list === undefined) this.free.set(key, (list = []));
      list.push(a);
    }
    return result;
  }

  /** Lets the garbage collector have every pooled array. */
  clear(): void {
    this.free.clear();
    this.carried = new Set();
  }
}

/** The pool of a backend that has one (the 'cpu' backend), else null. */
export function memoryPoolOf(backend: Backend): MemoryPool | null {
  const pool = (backend as Backend & { memoryPool?: unknown }).memoryPool;
  return pool instanceof MemoryPool ? pool : null;
}

/**
 * Runs one training step on `backend`: inside its memory pool when it has one (see above),
 * so the arrays of this step are handed out again in the next; otherwise just runs it.
 * keep(), evaluated after the step: the tensors whose numbers outlive it.
 */
export function reuseMemory<T>(backend: Backend, step: () => Promise<T>, keep: () => Tensor[]): Promise<T> {
  const pool = memoryPoolOf(backend);
  return pool === null ? step() : pool.reuse(step, () => keep().map((t) => t.storage));
}

/** Empties the backend's pool, if it has one (the training loop calls it when it ends). */
export function releaseMemory(backend: Backend): void {
  memoryPoolOf(backend)?.clear();
}
