// What every optimizer offers the training loop, and a helper for restoring state.
import type { HostArray, Storage } from '../../autograd/backend/backend.ts';
import type { Tensor } from '../../autograd/tensor.ts';

export interface Optimizer {
  /** Applies one update to every parameter that has a gradient. */
  step(): void;
  zeroGrad(): void;
  /** Sets the learning rate of every group (a schedule calls this before each step). */
  setLr(lr: number): void;
  params(): Tensor[];
  /** What it keeps between steps (moments, momentum buffers), so a step scope does not reuse it (autograd/memory.ts). */
  stateStorages(): Storage[];
}

/** values copied into a host array of p's precision. */
export function hostLike(p: Tensor, values: ArrayLike<number>): HostArray {
  return p.dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
}
