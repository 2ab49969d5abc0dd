// Reductions: sum, mean, max over one or more axes (or all), with keepdim.
// Backward broadcasts the gradient back over the reduced axes; max sends it to the
// positions that hold the maximum (split evenly between ties, like torch.amax).
import { normAxis, numel } from '../shape.ts';
import { fromOp, Tensor } from '../tensor.ts';

/** Axes as a sorted list of non-negative ints; undefined means all axes. */
function axesOf(op: string, x: Tensor, axis: number | number[] | undefined): number[] {
  if (axis === undefined) return x.shape.map((_, i) => i);
  const list = (Array.isArray(axis) ? axis : [axis]).map((a) => normAxis(op, a, x.ndim));
  return [...new Set(list)].sort((a, b) => a - b);
}

function keptShape(shape: number[], axes: number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function finalShape(shape: number[], axes: number[], keepdim: boolean): number[] {
  return keepdim ? keptShape(shape, axes) : shape.filter((_, i) => !axes.includes(i));
}

// y = Σ x over axes;  dx = broadcast(dy)
export function sum(x: Tensor, axis?: number | number[], keepdim = false): Tensor {
  const axes = axesOf('sum', x, axis);
  let storage = x.storage;
  let shape = [...x.shape];
  for (const a of [...axes].reverse()) {
    // reduce the highest axis first so the lower axis numbers stay valid
    storage = x.backend.reduce({ op: 'sum', x: storage, shape, axis: a });
    shape = shape.filter((_, i) => i !== a);
  }
  const kept = keptShape(x.shape, axes);
  return fromOp('sum', storage, finalShape(x.shape, axes, keepdim), x, [x], (g) => [g.reshape(kept).expand(x.shape)]);
}

// y = Σ x / n
export function mean(x: Tensor, axis?: number | number[], keepdim = false): Tensor {
  const axes = axesOf('mean', x, axis);
  const n = numel(axes.map((a) => x.shape[a]));
  return sum(x, axes, keepdim).div(n);
}

// y = max x along one axis (or over everything);  dx = dy at the argmax positions
export function max(x: Tensor, axis?: number, keepdim = false): Tensor {
  if (axis === undefined) {
    const all = max(x.reshape([x.size]), 0); // shape []
    return keepdim ? all.reshape(x.shape.map(() => 1)) : all;
  }
  const a = normAxis('max', axis, x.ndim);
  const kept = keptShape(x.shape, [a]);
  const storage = x.backend.reduce({ op: 'max', x: x.storage, shape: x.shape, axis: a });
  const out: Tensor = fromOp('max', storage, finalShape(x.shape, [a], keepdim), x, [x], (g) => {
    const isMax = x.detach().eq(out.detach().reshape(kept)); // 1 where x equals its max
    return [isMax.mul(g.reshape(kept)).div(isMax.sum(a, true))];
  });
  return out;
}
