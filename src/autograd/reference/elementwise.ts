// Reference elementwise kernels: unary functions, broadcasting binary functions, maskedFill,
// and the GELU derivative. Each loop is the definition of the op, written to be read.
import type { BinaryOp, DType, HostArray, Storage, UnaryOp } from '../backend.ts';
import { broadcastStrides, numel, sameShape } from '../shape.ts';
import { alloc, host } from './util.ts';
import { allocHost } from '../backends/memory.ts';

const GELU_C = Math.sqrt(2 / Math.PI); // √(2/π), from the tanh approximation of GELU

/** GPT-2's GELU (Hugging Face `gelu_new`): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export function geluScalar(x: number): number {
  return 0.5 * x * (1 + Math.tanh(GELU_C * (x + 0.044715 * x * x * x)));
}

/** d gelu / dx, by the product and chain rules on the formula above. */
export function geluGradScalar(x: number): number {
  const t = Math.tanh(GELU_C * (x + 0.044715 * x * x * x));
  const du = GELU_C * (1 + 3 * 0.044715 * x * x);
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du;
}

const UNARY: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  tanh: Math.tanh,
  relu: (x) => (x > 0 ? x : 0),
  step: (x) => (x > 0 ? 1 : 0),
  gelu: geluScalar,
};

const BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  eq: (a, b) => (a === b ? 1 : 0),
};

export function fill(n: number, value: number, dtype: DType): HostArray {
  return allocHost(dtype, n).fill(value);
}

export function unary(op: UnaryOp, xs: Storage): HostArray {
  const x = host(xs);
  const f = UNARY[op];
  const out = alloc(x, x.length);
  for (let i = 0; i < x.length; i++) out[i] = f(x[i]);
  return out;
}

/**
 * Calls visit(outIndex, aIndex, bIndex) for every element of outShape, where a and b are
 * read through broadcast strides. One odometer loop serves binary ops and maskedFill.
 */
function forEachBroadcast(aShape: number[], bShape: number[], outShape: number[], visit: (o: number, ia: number, ib: number) => void): void {
  const n = numel(outShape);
  if (sameShape(aShape, outShape) && sameShape(bShape, outShape)) {
    for (let i = 0; i < n; i++) visit(i, i, i);
    return;
  }
  const sa = broadcastStrides(aShape, outShape);
  const sb = broadcastStrides(bShape, outShape);
  const rank = outShape.length;
  const idx = new Array<number>(rank).fill(0);
  let ia = 0;
  let ib = 0;
  for (let o = 0; o < n; o++) {
    visit(o, ia, ib);
    // advance the odometer: bump the last axis, carry into earlier ones
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      ia += sa[d];
      ib += sb[d];
      if (idx[d] < outShape[d]) break;
      ia -= sa[d] * outShape[d];
      ib -= sb[d] * outShape[d];
      idx[d] = 0;
    }
  }
}

export function binary(op: BinaryOp, as: Storage, aShape: number[], bs: Storage, bShape: number[], outShape: number[]): HostArray {
  const a = host(as);
  const b = host(bs);
  const f = BINARY[op];
  const out = alloc(a instanceof Float64Array ? a : b, numel(outShape));
  forEachBroadcast(aShape, bShape, outShape, (o, ia, ib) => {
    out[o] = f(a[ia], b[ib]);
  });
  return out;
}

export function maskedFill(xs: Storage, xShape: number[], masks: Storage, maskShape: number[], value: number): HostArray {
  const x = host(xs);
  const mask = host(masks);
  const out = alloc(x, x.length);
  forEachBroadcast(xShape, maskShape, xShape, (o, ix, im) => {
    out[o] = mask[im] !== 0 ? value : x[ix];
  });
  return out;
}

export function geluBackward(xs: Storage, dys: Storage): HostArray {
  const x = host(xs);
  const dy = host(dys);
  const out = alloc(x, x.length);
  for (let i = 0; i < x.length; i++) out[i] = geluGradScalar(x[i]) * dy[i];
  return out;
}
