// Stochastic gradient descent with PyTorch's semantics (torch.optim.SGD, no nesterov):
//   g ← g + wd·p;   with momentum μ: buf ← μ·buf + g (buf = g on the first step), g ← buf;
//   p ← p − lr·g
// Built from tensor ops, so it runs on any backend.
import { noGrad, type Tensor } from '../../autograd/tensor.ts';
import { momentumArrays, momentumFromArrays, type MomentumBuffers, type Optimizer } from './optimizer.ts';
import { knownOptions } from '../options.ts';

export interface SGDOptions {
  lr?: number;
  momentum?: number;
  weightDecay?: number;
}

export class SGD implements Optimizer {
  readonly opts: Required<SGDOptions>;
  /** Each parameter's momentum buffer (with momentum ≠ 0, after its first update). */
  readonly state: MomentumBuffers = new Map();

  constructor(
    private readonly parameters: Tensor[],
    opts: SGDOptions = {},
  ) {
    knownOptions('SGD', opts, { lr: true, momentum: true, weightDecay: true } satisfies Record<keyof SGDOptions, true>);
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
          const prev = this.state.get(p)?.momentum;
          g = prev === undefined ? g : prev.mul(momentum).add(g);
          this.state.set(p, { momentum: g });
        }
        p.storage = p.detach().sub(g.mul(lr)).storage;
      }
    });
  }

  /** Momentum buffers, one per parameter (null before its first step), for checkpoints. */
  stateDict(): Promise<(Float32Array | null)[]> {
    return momentumArrays(this.parameters, this.state);
  }

  loadStateDict(buffers: (ArrayLike<number> | null)[]): void {
    const loaded = momentumFromArrays('SGD', this.parameters, buffers);
    this.state.clear();
    for (const [p, b] of loaded) this.state.set(p, b);
  }
}
