// Gradient clipping by global L2 norm, as torch.nn.utils.clip_grad_norm_:
//   norm = √(Σ over all grads of Σ g²);  if norm > maxNorm, every g ← g · maxNorm/(norm + 1e-6)
// The scale min(1, maxNorm/(norm + 1e-6)) is computed with tensor ops, so on a GPU
// backend nothing is read back; the norm is returned as a scalar tensor.
import { noGrad, zeros, type Tensor } from '../../autograd/tensor.ts';

/** √(Σ g²) over the gradients of all params (a scalar tensor; 0 if none has a gradient). */
export function gradNorm(params: Tensor[]): Tensor {
  return noGrad(() => {
    const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
    if (grads.length === 0) return zeros([]);
    let sq = grads[0].mul(grads[0]).sum();
    for (const g of grads.slice(1)) sq = sq.add(g.mul(g).sum());
    return sq.sqrt();
  });
}

/** Scales all gradients so their global norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(params: Tensor[], maxNorm: number): Tensor {
  const norm = gradNorm(params);
  noGrad(() => {
    const ratio = norm.add(1e-6).pow(-1).mul(maxNorm);
    const scale = ratio.sub(ratio.sub(1).relu()); // min(ratio, 1) = ratio − relu(ratio − 1)
    for (const p of params) if (p.grad !== null) p.grad = p.grad.mul(scale);
  });
  return norm;
}
