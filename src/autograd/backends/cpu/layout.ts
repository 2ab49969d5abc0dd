// The cpu backend's layout kernels (permute, slice, pad) in plain JavaScript: copies, with no
// arithmetic. The reference kernels visit one element at a time through a callback; these walk
// the same elements as runs of contiguous memory.
// Promise: bit for bit the reference kernels' results (test/cpu_backend.test.ts checks it on
// random shapes, float32 and float64).
import type { HostArray, PadArgs, PermuteArgs, SliceArgs } from '../../backend.ts';
import type { OnHost } from '../../reference/host.ts';
import { numel, stridesOf } from '../../shape.ts';

/** out = x [shape] with out axis i = input axis perm[i]. */
export function permute(out: HostArray, { x, shape, perm }: OnHost<PermuteArgs>): void {
  const inStrides = stridesOf(shape);
  const outShape = perm.map((p) => shape[p]);
  copyBox(out, 0, stridesOf(outShape), x, 0, perm.map((p) => inStrides[p]), outShape);
}

/** out [size] = the box of x [shape] that starts at begin. */
export function slice(out: HostArray, { x, shape, begin, size }: OnHost<SliceArgs>): void {
  const strides = stridesOf(shape);
  copyBox(out, 0, stridesOf(size), x, offsetOf(begin, strides), strides, size);
}

/** out [outShape] (zero-filled) gets x [shape] in the box that starts at begin. */
export function pad(out: HostArray, { x, shape, begin, outShape }: OnHost<PadArgs>): void {
  const outStrides = stridesOf(outShape);
  copyBox(out, offsetOf(begin, outStrides), outStrides, x, 0, stridesOf(shape), shape);
}

function offsetOf(begin: number[], strides: number[]): number {
  return begin.reduce((sum, b, d) => sum + b * strides[d], 0);
}

/**
 * dst[dstOffset + Σ i·dstStrides] = src[srcOffset + Σ i·srcStrides] for every index i of
 * `shape`. Axes of size 1 are dropped and neighbours that are contiguous in both arrays are
 * merged, so the innermost loop runs as long as the layout allows.
 */
function copyBox(dst: HostArray, dstOffset: number, dstStrides: number[], src: HostArray, srcOffset: number, srcStrides: number[], shape: number[]): void {
  if (numel(shape) === 0) return;
  // axes outermost first: [size, dst stride, src stride]
  const axes: [number, number, number][] = [];
  shape.forEach((size, d) => {
    if (size === 1) return;
    const last = axes[axes.length - 1];
    if (last !== undefined && last[1] === size * dstStrides[d] && last[2] === size * srcStrides[d]) {
      last[0] *= size; // axis d continues the one before it in both arrays
      last[1] = dstStrides[d];
      last[2] = srcStrides[d];
    } else {
      axes.push([size, dstStrides[d], srcStrides[d]]);
    }
  });
  if (axes.length === 0) {
    dst[dstOffset] = src[srcOffset];
    return;
  }
  const [n, ds, ss] = axes.pop()!; // the innermost run
  const outer = axes.map((a) => a[0]);
  const idx = new Array<number>(axes.length).fill(0);
  let d0 = dstOffset, s0 = srcOffset;
  for (;;) {
    if (ds === 1 && ss === 1) {
      if (n >= 64) dst.set(src.subarray(s0, s0 + n), d0);
      else for (let i = 0; i < n; i++) dst[d0 + i] = src[s0 + i];
    } else {
      for (let i = 0; i < n; i++) dst[d0 + i * ds] = src[s0 + i * ss];
    }
    // next outer index (odometer), moving both offsets by the axes' strides
    let a = axes.length - 1;
    for (; a >= 0; a--) {
      d0 += axes[a][1];
      s0 += axes[a][2];
      if (++idx[a] < outer[a]) break;
      d0 -= outer[a] * axes[a][1];
      s0 -= outer[a] * axes[a][2];
      idx[a] = 0;
    }
    if (a < 0) return;
  }
}
