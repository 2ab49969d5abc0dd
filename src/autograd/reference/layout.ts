// Reference layout kernels: permute (transpose), slice and its inverse pad.
// Each writes a contiguous row-major array; tensors are never strided views.
import type { HostArray, PadArgs, PermuteArgs, SliceArgs } from '../backend.ts';
import { numel, stridesOf } from '../shape.ts';
import type { OnHost } from './host.ts';

/** Visits every index of `shape` in row-major order, giving the multi-index. */
function forEachIndex(shape: number[], visit: (flat: number, idx: number[]) => void): void {
  const n = numel(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    visit(flat, idx);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

/** out = x [shape] with out axis i = input axis perm[i]. */
export function permute(out: HostArray, { x, shape, perm }: OnHost<PermuteArgs>): void {
  const inStrides = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]);
  forEachIndex(outShape, (flat, idx) => {
    let src = 0;
    for (let d = 0; d < idx.length; d++) src += idx[d] * inStrides[perm[d]];
    out[flat] = x[src];
  });
}

/** out [size] = the box of x [shape] that starts at begin. */
export function slice(out: HostArray, { x, shape, begin, size }: OnHost<SliceArgs>): void {
  const strides = stridesOf(shape);
  forEachIndex(size, (flat, idx) => {
    let src = 0;
    for (let d = 0; d < idx.length; d++) src += (idx[d] + begin[d]) * strides[d];
    out[flat] = x[src];
  });
}

/** out [outShape] (zero-filled) gets x [shape] in the box that starts at begin. */
export function pad(out: HostArray, { x, shape, begin, outShape }: OnHost<PadArgs>): void {
  const strides = stridesOf(outShape);
  forEachIndex(shape, (flat, idx) => {
    let dst = 0;
    for (let d = 0; d < idx.length; d++) dst += (idx[d] + begin[d]) * strides[d];
    out[dst] = x[flat];
  });
}
