// Fused causal self-attention core:  out = softmax(mask(q·kᵀ/√D))·v  for every head.
// q [B, H, Tq, D], k and v [B, H, Tk, D] → [B, H, Tq, D]. Query i sits at position
// i + Tk − Tq, so Tq = Tk is ordinary causal attention and Tq = 1 is one decoding step
// against a KV cache. The backward recomputes the attention weights from the saved
// per-row logsumexp instead of keeping a [Tq, Tk] matrix per head (FlashAttention's trick).
import { fmt, sameShape } from '../shape.ts';
import { backendOf, fromOp, Tensor, wrap } from '../tensor.ts';

export function causalAttention(q: Tensor, k: Tensor, v: Tensor): Tensor {
  if (q.ndim !== 4 || !sameShape(k.shape, v.shape) || k.ndim !== 4 || q.shape[0] !== k.shape[0] || q.shape[1] !== k.shape[1] || q.shape[3] !== k.shape[3] || q.shape[2] > k.shape[2]) {
    throw new Error(`causalAttention: q ${fmt(q.shape)}, k ${fmt(k.shape)}, v ${fmt(v.shape)} must be [B,H,Tq,D], [B,H,Tk,D], [B,H,Tk,D] with Tq ≤ Tk`);
  }
  const be = backendOf('causalAttention', q, k, v);
  const [B, H, Tq, D] = q.shape;
  const p = { BH: B * H, Tq, Tk: k.shape[2], D, scale: 1 / Math.sqrt(D) };
  const args = { q: q.storage, k: k.storage, v: v.storage, ...p };
  const { out, lse } = be.attention(args);
  return fromOp('causalAttention', out, q.shape, q, [q, k, v], (g) => {
    const { dq, dk, dv } = be.attentionBackward({ ...args, dout: g.storage, out, lse });
    return [wrap(dq, q.shape, q), wrap(dk, k.shape, k), wrap(dv, v.shape, v)];
  });
}
