// Global L2 norms, and gradient clipping by one, as torch.nn.utils.clip_grad_norm_:
//   norm = √(Σ over all grads of Σ g²);  if norm > maxNorm, every g ← g · maxNorm/(norm + 1e-6)
// The scale min(1, maxNorm/(norm + 1e-6)) is computed with tensor ops, so on a GPU
// backend nothing is read back; the norm is returned as a scalar tensor.
import { noGrad, zeros, type Tensor } from '../../autograd/tensor.ts';

/** √(Σ x²) over every element of every tensor (a scalar tensor; 0 for none). Not finite if any element is not, or Σ x² overflows. */
export function globalNorm(tensors: Tensor[]): Tensor {
  return noGrad(() => {
    if (tensors.length === 0) return zeros([]);
    let sq = tensors[0].mul(tensors[0]).sum();
    for (const t of tensors.slice(1)) sq = sq.add(t.mul(t).sum());
    return sq.sqrt();
  });
}

/** √(Σ g²) over the gradients of all params (a scalar tensor; 0 if none has a gradient). */
export function gradNorm(params: Tensor[]): Tensor {
  return globalNorm(params.map((p) => p.grad).filter((g): g is Tensor => g !== null));
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
