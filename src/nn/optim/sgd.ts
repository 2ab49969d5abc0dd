// Stochastic gradient descent with PyTorch's semantics (torch.optim.SGD, no nesterov):
//   g ← g + wd·p;   with momentum μ: buf ← μ·buf + g (buf = g on the first step), g ← buf;
//   p ← p − lr·g
// Built from tensor ops, so it runs on any backend.
import { hostLike, noGrad, Tensor } from '../../autograd/tensor.ts';
import type { Optimizer } from './optimizer.ts';
import { knownOptions } from '../options.ts';

export interface SGDOptions {
  lr?: number;
  momentum?: number;
  weightDecay?: number;
}

export class SGD implements Optimizer {
  readonly opts: Required<SGDOptions>;
  /** Each parameter's momentum buffer (with momentum ≠ 0, after its first update). */
  readonly state = new Map<Tensor, { momentum: Tensor }>();

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
  async stateDict(): Promise<(Float32Array | null)[]> {
    return Promise.all(this.parameters.map(async (p) => {
      const b = this.state.get(p)?.momentum;
      return b === undefined ? null : Float32Array.from(await b.toArray());
    }));
  }

  loadStateDict(buffers: (ArrayLike<number> | null)[]): void {
    if (buffers.length !== this.parameters.length) throw new Error(`SGD.loadStateDict: ${buffers.length} buffers for ${this.parameters.length} parameters`);
    this.state.clear();
    this.parameters.forEach((p, i) => {
      const b = buffers[i];
      if (b !== null) this.state.set(p, { momentum: new Tensor(p.backend.fromHost(hostLike(p, b)), p.shape, p.dtype, p.backend) });
    });
  }
}
