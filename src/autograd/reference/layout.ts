// Reference layout kernels: permute (transpose), slice and its inverse pad.
// Each produces a fresh contiguous row-major array; tensors are never strided views.
import type { HostArray, Storage } from '../backend.ts';
import { numel, stridesOf } from '../shape.ts';
import { alloc, host } from './util.ts';

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

export function permute(xs: Storage, shape: number[], perm: number[]): HostArray {
  const x = host(xs);
  const inStrides = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]);
  const out = alloc(x, x.length);
  forEachIndex(outShape, (flat, idx) => {
    let src = 0;
    for (let d = 0; d < idx.length; d++) src += idx[d] * inStrides[perm[d]];
    out[flat] = x[src];
  });
  return out;
}

export function slice(xs: Storage, shape: number[], begin: number[], size: number[]): HostArray {
  const x = host(xs);
  const strides = stridesOf(shape);
  const out = alloc(x, numel(size));
  forEachIndex(size, (flat, idx) => {
    let src = 0;
    for (let d = 0; d < idx.length; d++) src += (idx[d] + begin[d]) * strides[d];
    out[flat] = x[src];
  });
  return out;
}

export function pad(xs: Storage, shape: number[], begin: number[], outShape: number[]): HostArray {
  const x = host(xs);
  const strides = stridesOf(outShape);
  const out = alloc(x, numel(outShape));
  forEachIndex(shape, (flat, idx) => {
    let dst = 0;
    for (let d = 0; d < idx.length; d++) dst += (idx[d] + begin[d]) * strides[d];
    out[dst] = x[flat];
  });
  return out;
}
