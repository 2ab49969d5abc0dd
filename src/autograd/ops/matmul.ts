// Matrix product, 2-D and batched (batch dims broadcast like NumPy), forward and backward.
//   C = A·B            [..., m, k] @ [..., k, n] → [..., m, n]
//   dA = dC·Bᵀ         dB = Aᵀ·dC        (the kernel reads transposes by stride: no copies)
// A weight shared by every batch (a Linear layer's) is never copied per batch: the batch is
// folded into the rows, [batch·m, k]·[k, n], and its gradient is one product Aᵀ·dC.
import { matmulParams } from '../backend.ts';
import { broadcastShapes, fmt, numel, sameShape } from '../shape.ts';
import { backendOf, fromOp, Tensor, wrap } from '../tensor.ts';

export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim < 2 || b.ndim < 2) throw new Error(`matmul: ${fmt(a.shape)} @ ${fmt(b.shape)}: both operands need at least 2 dims`);
  const [m, k] = a.shape.slice(-2);
  const [k2, n] = b.shape.slice(-2);
  if (k !== k2) throw new Error(`matmul: ${fmt(a.shape)} @ ${fmt(b.shape)}: inner dims ${k} ≠ ${k2}`);
  const be = backendOf('matmul', a, b);
  const batchShape = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = numel(batchShape);
  // An operand holding one matrix is shared by all batches; one with a partial batch
  // (e.g. [1, 4] against [3, 4]) is broadcast by expand, whose backward sums it back.
  const shared = (t: Tensor) => numel(t.shape.slice(0, -2)) === 1;
  const fit = (t: Tensor) => (shared(t) || sameShape(t.shape.slice(0, -2), batchShape) ? t : t.expand([...batchShape, ...t.shape.slice(-2)]));
  const A = fit(a);
  const B = fit(b);
  const aBatched = batch > 1 && !shared(A);
  const bBatched = batch > 1 && !shared(B);

  // C = A·B. With a shared B, fold the batch into A's rows: one big 2-D product.
  const forward = bBatched ? matmulParams(m, k, n, { batch, aBatched, bBatched }) : matmulParams(batch * m, k, n);
  const outShape = [...batchShape, m, n];

  return fromOp('matmul', be.matmul(A.storage, B.storage, forward), outShape, a, [A, B], (g) => {
    let dA = null;
    let dB = null;
    if (A.requiresGrad) {
      // dA = dC·Bᵀ; a shared A (batched B) receives the sum over the batch
      const p = bBatched ? matmulParams(m, n, k, { batch, transB: true, aBatched: true, bBatched: true }) : matmulParams(batch * m, n, k, { transB: true });
      const dAall = wrap(be.matmul(g.storage, B.storage, p), [batch, m, k], a);
      dA = (aBatched || batch === 1 ? dAall : dAall.sum(0)).reshape(A.shape);
    }
    if (B.requiresGrad) {
      // dB = Aᵀ·dC; a shared B (batched A) gets one folded product [k, batch·m]·[batch·m, n]
      const p = bBatched ? matmulParams(k, m, n, { batch, transA: true, aBatched, bBatched: true }) : matmulParams(k, batch * m, n, { transA: true });
      dB = wrap(be.matmul(A.storage, g.storage, p), B.shape, b);
    }
    return [dA, dB];
  });
}

/**
 * A fully connected layer's product, torch.nn.functional.linear:
 *   y = x·Wᵀ + b        x [..., in], weight [out, in], bias [out] → [..., out]
 *   dx = dy·W           dW = dyᵀ·x          db = Σ_rows dy
 * The batch dims of x are folded into rows, and Wᵀ is read by stride (transB), so the
 * weight is never copied or transposed in memory.
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  const inF = x.shape[x.ndim - 1];
  if (weight.ndim !== 2 || weight.shape[1] !== inF) {
    throw new Error(`linear: input ${fmt(x.shape)} @ weight ${fmt(weight.shape)}ᵀ: weight must be [out, ${inF}]`);
  }
  const outF = weight.shape[0];
  const rows = x.size / inF;
  const be = backendOf('linear', x, weight);
  const xw = be.matmul(x.storage, weight.storage, matmulParams(rows, inF, outF, { transB: true })); // x·Wᵀ
  const outShape = [...x.shape.slice(0, -1), outF];
  const y = fromOp('linear', xw, outShape, x, [x, weight], (g) => [
    x.requiresGrad ? wrap(be.matmul(g.storage, weight.storage, matmulParams(rows, outF, inF)), x.shape, x) : null, // dy·W
    weight.requiresGrad ? wrap(be.matmul(g.storage, x.storage, matmulParams(outF, rows, inF, { transA: true })), weight.shape, x) : null, // dyᵀ·x
  ]);
  return bias === null ? y : y.add(bias);
}
