// Reference elementwise kernels: unary functions, broadcasting binary functions, maskedFill.
// Each loop is the definition of the op, written to be read; each writes into `out`.
import type { BinaryArgs, BinaryOp, HostArray, MaskedFillArgs, UnaryOp } from '../backend.ts';
import { broadcastStrides, numel, sameShape } from '../shape.ts';
import type { OnHost } from './host.ts';

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
  gelu_grad: geluGradScalar,
};

const BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  eq: (a, b) => (a === b ? 1 : 0),
};

/** out[i] = op(x[i]). */
export function unary(out: HostArray, op: UnaryOp, x: HostArray): void {
  const f = UNARY[op];
  for (let i = 0; i < x.length; i++) out[i] = f(x[i]);
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

/** out [outShape] = a op b, broadcast. */
export function binary(out: HostArray, { op, a, aShape, b, bShape, outShape }: OnHost<BinaryArgs>): void {
  const f = BINARY[op];
  forEachBroadcast(aShape, bShape, outShape, (o, ia, ib) => {
    out[o] = f(a[ia], b[ib]);
  });
}

/** out [shape] = mask ? value : x. */
export function maskedFill(out: HostArray, { x, shape, mask, maskShape, value }: OnHost<MaskedFillArgs>): void {
  forEachBroadcast(shape, maskShape, shape, (o, ix, im) => {
    out[o] = mask[im] !== 0 ? value : x[ix];
  });
}
