// Muon (Keller Jordan, 2024, "Muon: An optimizer for hidden layers in neural networks"): momentum
// SGD whose update for a weight matrix is first orthogonalised. For each matrix W [out, in] with
// gradient G, momentum μ:
//   B ← μ·B + G;   U ← G + μ·B   (Nesterov)
//   O ← NewtonSchulz5(U) ≈ U's nearest semi-orthogonal matrix (U = PΣQᵀ → PQᵀ, every direction
//       moved by about the same amount, however small its singular value)
//   W ← W − lr·√max(1, out/in)·O
// Muon is for hidden matrices only: the embeddings, LayerNorms and biases keep AdamW, which this
// optimizer runs beside it (as MuonWithAuxAdam in Keller Jordan's `muon` package). Built from
// tensor ops and the backend's newtonSchulz kernel, so it runs on any backend.
import { backendOf, noGrad, wrap, type Tensor } from '../../autograd/tensor.ts';
import type { AdamW } from './adamw.ts';
import { momentumArrays, momentumFromArrays, type MomentumBuffers, type Optimizer } from './optimizer.ts';
import { knownOptions } from '../options.ts';

export interface MuonOptions {
  /** The matrices' learning rate (default 0.02). */
  lr?: number;
  /** μ (default 0.95). */
  momentum?: number;
}

/** Muon's orthogonalisation: five steps of the quintic (a, b, c), from G/(‖G‖ + 1e-7). */
export const MUON_NEWTON_SCHULZ = { steps: 5, coefficients: [3.4445, -4.775, 2.0315], eps: 1e-7 } as const;

/**
 * Five Newton–Schulz iterations X ← a·X + (b·A + c·A²)·X with A = X·Xᵀ, from X = G/‖G‖: the
 * quintic whose coefficients (3.4445, −4.7750, 2.0315) drive every singular value of X into
 * about [0.7, 1.2] in five steps. G [r, c] → [r, c]. One backend kernel, as AdamW's update is:
 * its formula, in matmuls and elementwise ops, is the composed default (newtonSchulz in
 * autograd/composed.ts), which works on the short side (A is [min(r, c), min(r, c)]); the cpu
 * backend runs the same products with the iterates kept in wasm memory.
 */
export function newtonSchulz5(G: Tensor): Tensor {
  if (G.ndim !== 2) throw new Error(`newtonSchulz5: expected a matrix, got ${G.ndim} dimensions`);
  const [rows, cols] = G.shape;
  const be = backendOf('newtonSchulz5', G);
  return wrap(be.newtonSchulz({ x: G.storage, rows, cols, ...MUON_NEWTON_SCHULZ }), G.shape, G);
}

export class Muon implements Optimizer {
  readonly opts: Required<MuonOptions>;
  /** Each matrix's momentum buffer B (after its first update). */
  private buffers: MomentumBuffers = new Map();
  /** The matrices' lr over the AdamW lr it was built with: setLr keeps it. */
  private readonly lrRatio: number;

  /** matrices: the hidden weight matrices [out, in]; adamw: the optimizer of every other parameter. */
  constructor(
    private readonly matrices: Tensor[],
    readonly adamw: AdamW,
    opts: MuonOptions = {},
  ) {
    knownOptions('Muon', opts, { lr: true, momentum: true } satisfies Record<keyof MuonOptions, true>);
    this.opts = { lr: 0.02, momentum: 0.95, ...opts };
    for (const p of matrices) if (p.ndim !== 2) throw new Error(`Muon: every parameter must be a matrix, got shape [${p.shape.join(', ')}]`);
    const adamLr = adamw.groups[0]?.lr ?? 0;
    if (!(adamLr > 0)) throw new Error(`Muon: AdamW's lr must be above 0 (the matrices' lr follows its schedule), got ${adamLr}`);
    this.lrRatio = this.opts.lr / adamLr;
  }

  /** AdamW's moments and the matrices' momentum buffers. */
  get state(): Map<Tensor, Record<string, Tensor>> {
    return new Map<Tensor, Record<string, Tensor>>([...this.adamw.state, ...this.buffers]);
  }

  params(): Tensor[] {
    return [...this.matrices, ...this.adamw.params()];
  }

  /** The matrices' parameters (Muon's own), in order. */
  matrixParams(): Tensor[] {
    return this.matrices;
  }

  /** AdamW's groups get lr; the matrices lr × (their lr / AdamW's lr at construction): one schedule scales both. */
  setLr(lr: number): void {
    this.adamw.setLr(lr);
    this.opts.lr = lr * this.lrRatio;
  }

  zeroGrad(): void {
    for (const p of this.params()) p.zeroGrad();
  }

  step(): void {
    const { lr, momentum: mu } = this.opts;
    noGrad(() => {
      for (const p of this.matrices) {
        if (p.grad === null) continue;
        const g = p.grad;
        const prev = this.buffers.get(p)?.momentum;
        const buf = prev === undefined ? g : prev.mul(mu).add(g); // B ← μ·B + G (B starts at 0)
        this.buffers.set(p, { momentum: buf });
        const update = newtonSchulz5(g.add(buf.mul(mu))); // orthogonalised G + μ·B
        const [out, inF] = p.shape;
        p.storage = p.detach().sub(update.mul(lr * Math.sqrt(Math.max(1, out / inF)))).storage;
      }
    });
    this.adamw.step();
  }

  /** The matrices' momentum buffers, one per matrix (null before its first step), for checkpoints. */
  stateDict(): Promise<(Float32Array | null)[]> {
    return momentumArrays(this.matrices, this.buffers);
  }

  loadStateDict(buffers: (ArrayLike<number> | null)[]): void {
    this.buffers = momentumFromArrays('Muon', this.matrices, buffers);
  }
}
