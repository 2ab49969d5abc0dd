// Ops that move numbers without changing them: reshape, permute/transpose, slice, concat,
// expand (broadcast). Tensors are always contiguous, so reshape is free and permute copies.
// Promise: each backward is the inverse move (permute back, pad a slice, slice a concat).
import { broadcastShapes, fmt, normAxis, numel, sameShape } from '../shape.ts';
import { backendOf, fromOp, full, Tensor, wrap } from '../tensor.ts';
import { unbroadcast } from './elementwise.ts';

// Same numbers, new shape; one dim may be −1 (inferred).
export function reshape(x: Tensor, shape: number[]): Tensor {
  const known = shape.filter((d) => d !== -1);
  const inferred = shape.length - known.length;
  if (inferred > 1) throw new Error(`reshape: only one dim may be -1, got ${fmt(shape)}`);
  const out = inferred === 1 ? shape.map((d) => (d === -1 ? x.size / numel(known) : d)) : [...shape];
  if (numel(out) !== x.size || out.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`reshape: cannot reshape ${fmt(x.shape)} (${x.size} elements) to ${fmt(shape)}`);
  }
  return fromOp('reshape', x.storage, out, x, [x], (g) => [g.reshape(x.shape)]);
}

// out axis i = input axis perm[i];  backward permutes with the inverse permutation
export function permute(x: Tensor, perm: number[]): Tensor {
  const p = perm.map((a) => normAxis('permute', a, x.ndim));
  if (p.length !== x.ndim || new Set(p).size !== p.length) {
    throw new Error(`permute: ${fmt(perm)} is not a permutation of the ${x.ndim} axes of ${fmt(x.shape)}`);
  }
  const inverse = new Array<number>(p.length);
  p.forEach((axis, i) => (inverse[axis] = i));
  const shape = p.map((a) => x.shape[a]);
  return fromOp('permute', x.backend.permute({ x: x.storage, shape: x.shape, perm: p }), shape, x, [x], (g) => [g.permute(inverse)]);
}

export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const perm = x.shape.map((_, i) => i);
  const a = normAxis('transpose', dim0, x.ndim);
  const b = normAxis('transpose', dim1, x.ndim);
  [perm[a], perm[b]] = [perm[b], perm[a]];
  return permute(x, perm);
}

// x[..., start:end, ...] along one axis (Python-style negative indices);  backward pads with zeros
export function slice(x: Tensor, axis: number, start: number, end?: number): Tensor {
  const a = normAxis('slice', axis, x.ndim);
  const n = x.shape[a];
  const norm = (i: number) => Math.min(Math.max(i < 0 ? i + n : i, 0), n);
  const s = norm(start);
  const e = end === undefined ? n : norm(end);
  if (e <= s) throw new Error(`slice: empty range ${start}:${end ?? ''} on axis ${axis} of ${fmt(x.shape)}`);
  const begin = x.shape.map((_, i) => (i === a ? s : 0));
  const size = x.shape.map((d, i) => (i === a ? e - s : d));
  return fromOp('slice', x.backend.slice({ x: x.storage, shape: x.shape, begin, size }), size, x, [x], (g) => [
    wrap(x.backend.pad({ x: g.storage, shape: size, begin, outShape: x.shape }), x.shape, x),
  ]);
}

// Joins tensors along an axis: each input padded into place, summed. Backward slices.
export function concat(xs: Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('concat: no tensors');
  const first = xs[0];
  const be = backendOf('concat', ...xs);
  const a = normAxis('concat', axis, first.ndim);
  for (const x of xs) {
    if (x.ndim !== first.ndim || x.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new Error(`concat: shapes ${xs.map((t) => fmt(t.shape)).join(', ')} differ outside axis ${axis}`);
    }
  }
  const outShape = first.shape.map((d, i) => (i === a ? xs.reduce((s, x) => s + x.shape[a], 0) : d));
  let storage = null;
  let offset = 0;
  const offsets: number[] = [];
  for (const x of xs) {
    offsets.push(offset);
    const begin = outShape.map((_, i) => (i === a ? offset : 0));
    const placed = be.pad({ x: x.storage, shape: x.shape, begin, outShape });
    storage = storage === null ? placed : be.binary({ op: 'add', a: storage, aShape: outShape, b: placed, bShape: outShape, outShape });
    offset += x.shape[a];
  }
  return fromOp('concat', storage!, outShape, first, xs, (g) => xs.map((x, i) => g.slice(a, offsets[i], offsets[i] + x.shape[a])));
}

// Broadcast to a larger shape (materialised);  backward sums over the stretched dims
export function expand(x: Tensor, shape: number[]): Tensor {
  if (!sameShape(broadcastShapes('expand', x.shape, shape), shape)) {
    throw new Error(`expand: ${fmt(x.shape)} cannot be broadcast to ${fmt(shape)}`);
  }
  if (sameShape(x.shape, shape)) return x;
  const zero = full([], 0, { dtype: x.dtype, backend: x.backend });
  const storage = x.backend.binary({ op: 'add', a: x.storage, aShape: x.shape, b: zero.storage, bShape: [], outShape: shape });
  return fromOp('expand', storage, [...shape], x, [x], (g) => [unbroadcast(g, x.shape)]);
}
