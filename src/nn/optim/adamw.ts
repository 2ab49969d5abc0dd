// AdamW with PyTorch's semantics (torch.optim.AdamW) and parameter groups.
// Each step, per parameter:  p ← p·(1 − lr·wd);  m, v ← moving averages of g, g²;
//   p ← p − lr · m̂ / (√v̂ + eps)  with bias-corrected m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ).
// The update itself is one backend kernel, so it runs where the parameter lives.
import type { Storage } from '../../autograd/backend.ts';
import { hostLike, Tensor } from '../../autograd/tensor.ts';
import type { Optimizer } from './optimizer.ts';
import { knownOptions } from '../options.ts';

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}
const ADAMW_OPTIONS = { lr: true, betas: true, eps: true, weightDecay: true } as const satisfies Record<keyof AdamWOptions, true>;

export interface ParamGroup extends AdamWOptions {
  params: Tensor[];
}

/** A parameter's moments: running means of its gradient (m) and of its square (v). */
interface Moments extends Record<string, Tensor> {
  m: Tensor;
  v: Tensor;
}

export class AdamW implements Optimizer {
  readonly groups: (Required<AdamWOptions> & { params: Tensor[] })[];
  /** Number of step() calls (each parameter also keeps its own count for bias correction, as PyTorch). */
  stepCount = 0;
  readonly state = new Map<Tensor, Moments>();
  /** Each parameter's own step count, as PyTorch's state['step']: it only advances when the parameter has a gradient. */
  private steps = new Map<Tensor, number>();

  /** params: a list of tensors, or groups that override the defaults (e.g. weightDecay 0 for biases). */
  constructor(params: Tensor[] | ParamGroup[], defaults: AdamWOptions = {}) {
    knownOptions('AdamW', defaults, ADAMW_OPTIONS);
    const d = { lr: 1e-3, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0.01, ...defaults };
    const groups: ParamGroup[] = params.length > 0 && 'params' in params[0] ? (params as ParamGroup[]) : [{ params: params as Tensor[] }];
    for (const g of groups) knownOptions('AdamW parameter group', g, { ...ADAMW_OPTIONS, params: true });
    this.groups = groups.map((g) => ({ ...d, ...g }));
  }

  setLr(lr: number): void {
    for (const g of this.groups) g.lr = lr;
  }

  params(): Tensor[] {
    return this.groups.flatMap((g) => g.params);
  }

  zeroGrad(): void {
    for (const p of this.params()) p.zeroGrad();
  }

  step(): void {
    this.stepCount++;
    for (const g of this.groups) {
      for (const p of g.params) {
        if (p.grad === null) continue;
        const s = this.state.get(p) ?? { m: zerosLike(p), v: zerosLike(p) };
        const step = (this.steps.get(p) ?? 0) + 1;
        const hp = { lr: g.lr, beta1: g.betas[0], beta2: g.betas[1], eps: g.eps, weightDecay: g.weightDecay, step };
        const r = p.backend.adamw({ param: p.storage, grad: p.grad.storage, m: s.m.storage, v: s.v.storage, ...hp });
        p.storage = r.param;
        this.state.set(p, { m: like(p, r.m), v: like(p, r.v) });
        this.steps.set(p, step);
      }
    }
  }

  /** Moments and step count, for checkpoints: moments[i] belongs to the i-th parameter (groups in order). */
  async stateDict(): Promise<{ step: number; m: Float32Array[]; v: Float32Array[] }> {
    const m: Float32Array[] = [];
    const v: Float32Array[] = [];
    for (const g of this.groups) {
      for (const p of g.params) {
        const s = this.state.get(p);
        m.push(s ? Float32Array.from(await s.m.toArray()) : new Float32Array(p.size));
        v.push(s ? Float32Array.from(await s.v.toArray()) : new Float32Array(p.size));
      }
    }
    return { step: this.stepCount, m, v };
  }

  loadStateDict(sd: { step: number; m: Float32Array[]; v: Float32Array[] }): void {
    const params = this.params();
    if (sd.m.length !== params.length || sd.v.length !== params.length) {
      throw new Error(`AdamW.loadStateDict: state has ${sd.m.length} moments but the optimizer has ${params.length} parameters`);
    }
    params.forEach((p, i) => {
      if (sd.m[i].length !== p.size || sd.v[i].length !== p.size) throw new Error(`AdamW.loadStateDict: moment ${i} has ${sd.m[i].length} numbers, parameter has ${p.size}`);
      this.state.set(p, { m: like(p, p.backend.fromHost(hostLike(p, sd.m[i]))), v: like(p, p.backend.fromHost(hostLike(p, sd.v[i]))) });
      this.steps.set(p, sd.step);
    });
    this.stepCount = sd.step;
  }
}

/** A tensor of p's shape, dtype and backend around `storage` (no graph). */
function like(p: Tensor, storage: Storage): Tensor {
  return new Tensor(storage, p.shape, p.dtype, p.backend);
}

function zerosLike(p: Tensor): Tensor {
  return like(p, p.backend.fill(p.size, 0, p.dtype));
}
