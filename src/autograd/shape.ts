// Shape arithmetic shared by every op: element counts, strides, NumPy broadcasting, axes.
// Promise: pure functions of number arrays; errors name the op and the shapes involved.

export type Shape = readonly number[];

/** Number of elements in a tensor of this shape (1 for a scalar []). */
export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides: stride[i] = product of shape[i+1:]. */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** Prints a shape the way errors show it: [2,3]. */
export function fmt(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

/** NumPy broadcasting: align right, each pair of dims equal or one of them 1. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes ${fmt(a)} and ${fmt(b)} do not broadcast (dim ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Strides for reading a tensor of `shape` as if it had `outShape` (its broadcast):
 * a broadcast dim (size 1, or missing on the left) gets stride 0, so it is re-read.
 */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const own = stridesOf(shape);
  const offset = outShape.length - shape.length;
  return outShape.map((_, i) => (i < offset || shape[i - offset] === 1 ? 0 : own[i - offset]));
}

/** Turns a possibly negative axis into 0 … rank−1, or throws naming the op. */
export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new Error(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return a;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
