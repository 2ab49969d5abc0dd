// What every optimizer offers the training loop.
import type { Storage } from '../../autograd/backend.ts';
import type { Tensor } from '../../autograd/tensor.ts';

export interface Optimizer {
  /** Applies one update to every parameter that has a gradient. */
  step(): void;
  zeroGrad(): void;
  /** Sets the learning rate of every group (a schedule calls this before each step). */
  setLr(lr: number): void;
  params(): Tensor[];
  /**
   * What it carries from one step to the next: each parameter's numbers and its moments or
   * momentum buffer. A training step's memory scope keeps exactly these (autograd/memory.ts).
   */
  carriedStorages(): Storage[];
}
