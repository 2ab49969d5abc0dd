// Reference causal attention, forward and backward, one (batch·head) problem at a time.
//   s_ij = scale · q_i·k_j  for j ≤ i + (Tk − Tq),  p_i = softmax(s_i),  out_i = Σ_j p_ij v_j
// The forward keeps only each row's logsumexp (lse); the backward recomputes p from it
// (as FlashAttention does) instead of storing the [Tq, Tk] probability matrix:
//   dv_j += p_ij · dout_i
//   dp_ij = dout_i · v_j,   ds_ij = p_ij · (dp_ij − Σ_j p_ij dp_ij) = p_ij · (dp_ij − dout_i·out_i)
//   dq_i += scale · ds_ij · k_j,   dk_j += scale · ds_ij · q_i
// Both write into zero-filled outputs (they accumulate).
import type { AttentionArgs, AttentionBackwardArgs, HostArray } from '../backend.ts';
import type { OnHost } from './host.ts';

export function attention(outs: { out: HostArray; lse: HostArray }, { q, k, v, BH, Tq, Tk, D, scale }: OnHost<AttentionArgs>): void {
  const { out, lse } = outs;
  const s = new Float64Array(Tk); // one row of scores
  for (let h = 0; h < BH; h++) {
    const qo = h * Tq * D;
    const ko = h * Tk * D;
    for (let i = 0; i < Tq; i++) {
      const last = i + (Tk - Tq); // the last key this query may see
      let max = -Infinity;
      for (let j = 0; j <= last; j++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[qo + i * D + d] * k[ko + j * D + d];
        s[j] = dot * scale;
        max = Math.max(max, s[j]);
      }
      let sum = 0;
      for (let j = 0; j <= last; j++) sum += Math.exp(s[j] - max);
      const rowLse = max + Math.log(sum);
      lse[h * Tq + i] = rowLse;
      for (let j = 0; j <= last; j++) {
        const pij = Math.exp(s[j] - rowLse);
        for (let d = 0; d < D; d++) out[qo + i * D + d] += pij * v[ko + j * D + d];
      }
    }
  }
}

export function attentionBackward(grads: { dq: HostArray; dk: HostArray; dv: HostArray }, a: OnHost<AttentionBackwardArgs>): void {
  const { dout, q, k, v, out, lse, BH, Tq, Tk, D, scale } = a;
  const { dq, dk, dv } = grads;
  for (let h = 0; h < BH; h++) {
    const qo = h * Tq * D;
    const ko = h * Tk * D;
    for (let i = 0; i < Tq; i++) {
      const last = i + (Tk - Tq);
      let rowDot = 0; // dout_i · out_i = Σ_j p_ij dp_ij
      for (let d = 0; d < D; d++) rowDot += dout[qo + i * D + d] * out[qo + i * D + d];
      for (let j = 0; j <= last; j++) {
        let dot = 0;
        let dp = 0;
        for (let d = 0; d < D; d++) {
          dot += q[qo + i * D + d] * k[ko + j * D + d];
          dp += dout[qo + i * D + d] * v[ko + j * D + d];
        }
        const pij = Math.exp(dot * scale - lse[h * Tq + i]);
        const ds = pij * (dp - rowDot);
        for (let d = 0; d < D; d++) {
          dv[ko + j * D + d] += pij * dout[qo + i * D + d];
          dq[qo + i * D + d] += scale * ds * k[ko + j * D + d];
          dk[ko + j * D + d] += scale * ds * q[qo + i * D + d];
        }
      }
    }
  }
}
