// softmax and logSoftmax along an axis, each one kernel forward and one kernel backward.
//   softmax(x)_j = exp(x_j − max) / Σ_i exp(x_i − max)
//   dx = y ⊙ (dy − Σ dy⊙y)                       (softmax)
//   dx = dy − softmax(x) · Σ dy                   (logSoftmax)
// The kernels work on the last axis; another axis is moved last and back by permute.
import { normAxis } from '../shape.ts';
import { fromOp, Tensor, wrap } from '../tensor.ts';

function alongAxis(x: Tensor, axis: number, lastAxisOp: (x: Tensor) => Tensor): Tensor {
  const a = normAxis('softmax', axis, x.ndim);
  if (a === x.ndim - 1) return lastAxisOp(x);
  return lastAxisOp(x.transpose(a, -1)).transpose(a, -1);
}

export function softmax(x: Tensor, axis = -1): Tensor {
  return alongAxis(x, axis, (x) => {
    const cols = x.shape[x.ndim - 1];
    const rows = x.size / cols;
    const out: Tensor = fromOp('softmax', x.backend.softmax(x.storage, rows, cols), x.shape, x, [x], (g) => [
      wrap(x.backend.softmaxBackward(out.storage, g.storage, rows, cols), x.shape, x),
    ]);
    return out;
  });
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return alongAxis(x, axis, (x) => {
    const cols = x.shape[x.ndim - 1];
    const rows = x.size / cols;
    const out: Tensor = fromOp('logSoftmax', x.backend.logSoftmax(x.storage, rows, cols), x.shape, x, [x], (g) => [
      wrap(x.backend.logSoftmaxBackward(out.storage, g.storage, rows, cols), x.shape, x),
    ]);
    return out;
  });
}
