// softmax and logSoftmax along an axis, each one kernel forward and one kernel backward.
//   softmax(x)_j = exp(x_j − max) / Σ_i exp(x_i − max)
//   dx = y ⊙ (dy − Σ dy⊙y)                       (softmax)
//   dx = dy − softmax(x) · Σ dy                   (logSoftmax)
// The kernels work on the last axis; another axis is moved last and back by permute.
import { normAxis } from '../shape.ts';
import { fromOp, Tensor, wrap } from '../tensor.ts';

/**
 * A row-wise op along `axis`: the forward kernel maps x [rows, cols] to y, the backward
 * kernel maps (y, dy) to dx. Both softmaxes have this shape, so one function serves both.
 */
function rowWise(op: 'softmax' | 'logSoftmax', x: Tensor, axis: number): Tensor {
  const a = normAxis(op, axis, x.ndim);
  if (a !== x.ndim - 1) return rowWise(op, x.transpose(a, -1), -1).transpose(a, -1);
  const be = x.backend;
  const cols = x.shape[x.ndim - 1];
  const rows = x.size / cols;
  const y = op === 'softmax' ? be.softmax({ x: x.storage, rows, cols }) : be.logSoftmax({ x: x.storage, rows, cols });
  const out: Tensor = fromOp(op, y, x.shape, x, [x], (g) => {
    const args = { y: out.storage, dy: g.storage, rows, cols };
    return [wrap(op === 'softmax' ? be.softmaxBackward(args) : be.logSoftmaxBackward(args), x.shape, x)];
  });
  return out;
}

export function softmax(x: Tensor, axis = -1): Tensor {
  return rowWise('softmax', x, axis);
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return rowWise('logSoftmax', x, axis);
}
