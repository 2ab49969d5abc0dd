// Parameter: a tensor that is part of a module's learned state, as torch.nn.Parameter.
// Promise: a Module's parameters are exactly its Parameter fields (and its submodules'),
// whether or not they want a gradient now: a frozen parameter (requiresGrad = false) stays
// in namedParameters(), stateDict() and every checkpoint, gets no gradient, and optimizers,
// which update only parameters that have a gradient, leave it as it is. A plain Tensor
// field is not a parameter (a constant, a cached mask), even with requiresGrad.
import { Tensor } from '../autograd/tensor.ts';

export class Parameter extends Tensor {
  /** A leaf around data's numbers (shared, not copied) that wants a gradient unless requiresGrad is false. */
  constructor(data: Tensor, requiresGrad = true) {
    super(data.storage, [...data.shape], data.dtype, data.backend, requiresGrad);
  }
}
