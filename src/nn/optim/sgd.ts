// Stochastic gradient descent with PyTorch's semantics (torch.optim.SGD, no nesterov):
//   g ← g + wd·p;   with momentum μ: buf ← μ·buf + g (buf = g on the first step), g ← buf;
//   p ← p − lr·g
// Built from tensor ops, so it runs on any backend.
import { noGrad, type Tensor } from '../../autograd/tensor.ts';
import type { Optimizer } from './optimizer.ts';

export interface SGDOptions {
  lr?: number;
  momentum?: number;
  weightDecay?: number;
}

export class SGD implements Optimizer {
  readonly opts: Required<SGDOptions>;
  private buffers = new Map<Tensor, Tensor>();

  constructor(
    private readonly parameters: Tensor[],
    opts: SGDOptions = {},
  ) {
    this.opts = { lr: 1e-3, momentum: 0, weightDecay: 0, ...opts };
  }

  params(): Tensor[] {
    return this.parameters;
  }

  setLr(lr: number): void {
    this.opts.lr = lr;
  }

  zeroGrad(): void {
    for (const p of this.parameters) p.zeroGrad();
  }

  step(): void {
    const { lr, momentum, weightDecay } = this.opts;
    noGrad(() => {
      for (const p of this.parameters) {
        if (p.grad === null) continue;
        let g = weightDecay !== 0 ? p.grad.add(p.detach().mul(weightDecay)) : p.grad;
        if (momentum !== 0) {
          const prev = this.buffers.get(p);
          g = prev === undefined ? g : prev.mul(momentum).add(g);
          this.buffers.set(p, g);
        }
        p.storage = p.detach().sub(g.mul(lr)).storage;
      }
    });
  }
}
