// Causal attention as a formula of primitive ops: softmax(mask(q·kᵀ/√D))·v, the way the seed
// wrote it. The fused kernel (autograd/ops/attention.ts) computes the same without forming
// the [Tq, Tk] weights; this form is there to check it against, and for attention dropout,
// which acts on those weights (GPT-2's CausalSelfAttention in gpt2/model.ts uses both).
import { tensor, type Tensor } from '../autograd/tensor.ts';

/** 1 where query i (at position i + Tk − Tq) may NOT look at key j, i.e. j > i + Tk − Tq. */
function futureMask(Tq: number, Tk: number, like: Tensor): Tensor {
  const m = new Float32Array(Tq * Tk);
  for (let i = 0; i < Tq; i++) for (let j = i + Tk - Tq + 1; j < Tk; j++) m[i * Tk + j] = 1;
  return tensor(m, { shape: [Tq, Tk], dtype: like.dtype, backend: like.backend });
}

/**
 * softmax(mask(q·kᵀ/√D))·v from primitive ops; `dropWeights` acts on the softmax weights.
 * q [B, H, Tq, D], k and v [B, H, Tk, D] → [B, H, Tq, D].
 */
export function attentionComposed(q: Tensor, k: Tensor, v: Tensor, dropWeights: (att: Tensor) => Tensor = (a) => a): Tensor {
  const [Tq, D] = q.shape.slice(-2);
  const Tk = k.shape[k.ndim - 2];
  let att = q.matmul(k.transpose(-2, -1)).mul(1 / Math.sqrt(D)); // [B, H, Tq, Tk]
  att = att.maskedFill(futureMask(Tq, Tk, q), -Infinity); // a query never sees the future
  att = dropWeights(att.softmax(-1)); // each row sums to 1
  return att.matmul(v); // [B, H, Tq, D]
}
