// What every optimizer offers the training loop.
import type { Tensor } from '../../autograd/tensor.ts';

export interface Optimizer {
  /** Applies one update to every parameter that has a gradient (a parameter without one, e.g. a frozen one, is left alone). */
  step(): void;
  zeroGrad(): void;
  /** Sets the learning rate of every group (a schedule calls this before each step). */
  setLr(lr: number): void;
  params(): Tensor[];
  /**
   * The tensors it carries from one step to the next, per parameter, as PyTorch's
   * `optimizer.state[p]`: AdamW's moments m and v, SGD's momentum buffer. A parameter gets
   * its entry at its first update.
   */
  readonly state: Map<Tensor, Record<string, Tensor>>;
}

/** Every tensor in an optimizer's state (all parameters' moments or buffers). */
export function stateTensors(optimizer: Optimizer): Tensor[] {
  return [...optimizer.state.values()].flatMap((s) => Object.values(s));
}
