// What every optimizer offers the training loop.
import type { Storage } from '../../autograd/backend/backend.ts';
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
