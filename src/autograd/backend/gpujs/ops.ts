// The hot ops (matmul, softmax, cross-entropy, LayerNorm, attention, GELU, AdamW, and the
// cheap elementwise ops) as sequences of ./kernels.ts launches, shared by every gpu.js backend.
// Promise: each op gives its reference result up to float32 rounding; where a shape cannot
// be laid out on the device (see Exec.rowSplit) it hands the call to `fallback`.
import type { Backend, BinaryOp, Storage, UnaryOp } from '../backend.ts';
import * as K from './kernels.ts';

/** What the ops need from a backend: a way to run one kernel, and its layout limits. */
export interface Exec {
  /** Runs a kernel over output dims [x, y, z]; array arguments are Storage of this backend. */
  run(def: K.KernelDef, output: number[], args: (Storage | number)[]): Storage;
  /** [RA, RB] such that a [rows, cols] result fits output dims [cols, RA, RB], RA·RB = rows; null if none. */
  rowSplit(rows: number, cols: number): [number, number] | null;
}

const UNARY_CODE: Record<UnaryOp, number> = { neg: 0, exp: 1, log: 2, sqrt: 3, tanh: 4, relu: 5, step: 6, gelu: 7 };
const BINARY_CODE: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3, pow: 4, eq: 5 };

const sameShape = (a: number[], b: number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** gpu.js kernels compute in float32; anything float64 stays on the reference. */
const f64 = (...xs: Storage[]): boolean => xs.some((x) => x instanceof Float64Array);

export function hotOps(x: Exec, fallback: Backend): Partial<Backend> {
  /** Softmax-family second pass: an elementwise kernel over [rows, cols] given per-row values. */
  const rowsKernel = (def: K.KernelDef, rows: number, cols: number, arrays: Storage[], tail: number[]): Storage | null => {
    const split = x.rowSplit(rows, cols);
    if (!split) return null;
    return x.run(def, [cols, split[0], split[1]], [...arrays, cols, split[0], ...tail]);
  };
  const targetsOf = (t: Int32Array): Float32Array => Float32Array.from(t); // ids < 2²⁴, exact in float32

  return {
    unary(op, a) {
      if (f64(a)) return fallback.unary(op, a);
      return x.run(K.unary, [a.length], [a, UNARY_CODE[op]]);
    },
    binary(op, a, aShape, b, bShape, outShape) {
      if (f64(a, b) || !sameShape(aShape, outShape) || !sameShape(bShape, outShape)) return fallback.binary(op, a, aShape, b, bShape, outShape);
      return x.run(K.binarySame, [a.length], [a, b, BINARY_CODE[op]]);
    },
    geluBackward(a, dy) {
      if (f64(a, dy)) return fallback.geluBackward(a, dy);
      return x.run(K.geluBackward, [a.length], [a, dy]);
    },

    matmul(a, b, p) {
      if (f64(a, b)) return fallback.matmul(a, b, p);
      const { batch, m, k, n } = p;
      const [ars, acs] = p.transA ? [1, m] : [k, 1];
      const [brs, bcs] = p.transB ? [1, k] : [n, 1];
      if (batch > 1) {
        // output [n, m, batch]: z is the batch, i = y
        return x.run(K.matmul, [n, m, batch], [a, b, k, 0, p.aBatched ? m * k : 0, ars, acs, p.bBatched ? k * n : 0, brs, bcs]);
      }
      // one product: output [n, RA, RB], z only splits the rows, i = y + RA·z
      const split = x.rowSplit(m, n);
      if (!split) return fallback.matmul(a, b, p);
      return x.run(K.matmul, [n, split[0], split[1]], [a, b, k, split[0], 0, ars, acs, 0, brs, bcs]);
    },

    softmax(a, rows, cols) {
      if (f64(a)) return fallback.softmax(a, rows, cols);
      const lse = x.run(K.rowLogSumExp, [rows], [a, cols]);
      return rowsKernel(K.rowsSoftmax, rows, cols, [a, lse], [0]) ?? fallback.softmax(a, rows, cols);
    },
    logSoftmax(a, rows, cols) {
      if (f64(a)) return fallback.logSoftmax(a, rows, cols);
      const lse = x.run(K.rowLogSumExp, [rows], [a, cols]);
      return rowsKernel(K.rowsSoftmax, rows, cols, [a, lse], [1]) ?? fallback.logSoftmax(a, rows, cols);
    },
    softmaxBackward(y, dy, rows, cols) {
      if (f64(y, dy)) return fallback.softmaxBackward(y, dy, rows, cols);
      const dot = x.run(K.rowDot, [rows], [dy, y, cols]);
      return rowsKernel(K.rowsSoftmaxBackward, rows, cols, [y, dy, dot], [0]) ?? fallback.softmaxBackward(y, dy, rows, cols);
    },
    logSoftmaxBackward(y, dy, rows, cols) {
      if (f64(y, dy)) return fallback.logSoftmaxBackward(y, dy, rows, cols);
      const sum = x.run(K.rowSum, [rows], [dy, cols]);
      return rowsKernel(K.rowsSoftmaxBackward, rows, cols, [y, dy, sum], [1]) ?? fallback.logSoftmaxBackward(y, dy, rows, cols);
    },

    crossEntropy(logits, targets, rows, cols, ignoreIndex) {
      if (f64(logits)) return fallback.crossEntropy(logits, targets, rows, cols, ignoreIndex);
      const lse = x.run(K.rowLogSumExp, [rows], [logits, cols]);
      const loss = x.run(K.rowCrossEntropy, [rows], [logits, lse, targetsOf(targets), cols, ignoreIndex]);
      return { loss, lse };
    },
    crossEntropyBackward(logits, lse, targets, dloss, rows, cols, ignoreIndex) {
      if (f64(logits, lse, dloss)) return fallback.crossEntropyBackward(logits, lse, targets, dloss, rows, cols, ignoreIndex);
      return rowsKernel(K.rowsCrossEntropyBackward, rows, cols, [logits, lse, targetsOf(targets), dloss], [ignoreIndex])
        ?? fallback.crossEntropyBackward(logits, lse, targets, dloss, rows, cols, ignoreIndex);
    },

    layerNorm(a, w, b, rows, cols, eps) {
      const split = x.rowSplit(rows, cols);
      if (f64(a, w, b) || !split) return fallback.layerNorm(a, w, b, rows, cols, eps);
      const mean = x.run(K.rowMean, [rows], [a, cols]);
      const rstd = x.run(K.rowRstd, [rows], [a, mean, cols, eps]);
      const y = x.run(K.rowsLayerNorm, [cols, ...split], [a, w, b, mean, rstd, cols, split[0]]);
      return { y, mean, rstd };
    },
    layerNormBackward(dy, a, w, mean, rstd, rows, cols) {
      const split = x.rowSplit(rows, cols);
      if (f64(dy, a, w, mean, rstd) || !split) return fallback.layerNormBackward(dy, a, w, mean, rstd, rows, cols);
      const gMean = x.run(K.rowLayerNormGrad, [rows], [dy, a, w, mean, rstd, cols, 0]);
      const gxMean = x.run(K.rowLayerNormGrad, [rows], [dy, a, w, mean, rstd, cols, 1]);
      const dx = x.run(K.rowsLayerNormBackward, [cols, ...split], [dy, a, w, mean, rstd, gMean, gxMean, cols, split[0]]);
      const dweight = x.run(K.colsLayerNormParamGrad, [cols], [dy, a, mean, rstd, rows, cols, 0]);
      const dbias = x.run(K.colsLayerNormParamGrad, [cols], [dy, a, mean, rstd, rows, cols, 1]);
      return { dx, dweight, dbias };
    },

    attention(q, k, v, p) {
      if (f64(q, k, v)) return fallback.attention(q, k, v, p);
      const { BH, Tq, Tk, D, scale } = p;
      const lse = x.run(K.attnLse, [Tq, BH], [q, k, Tq, Tk, D, scale]);
      const out = x.run(K.attnOut, [D, Tq, BH], [q, k, v, lse, Tq, Tk, D, scale]);
      return { out, lse };
    },
    attentionBackward(dout, q, k, v, out, lse, p) {
      if (f64(dout, q, k, v, out, lse)) return fallback.attentionBackward(dout, q, k, v, out, lse, p);
      const { BH, Tq, Tk, D, scale } = p;
      const rowDot = x.run(K.rowDot, [BH * Tq], [dout, out, D]); // dout_i·out_i = Σ_j p_ij dp_ij
      const dq = x.run(K.attnDq, [D, Tq, BH], [dout, q, k, v, lse, rowDot, Tq, Tk, D, scale]);
      const dk = x.run(K.attnDk, [D, Tk, BH], [dout, q, k, v, lse, rowDot, Tq, Tk, D, scale]);
      const dv = x.run(K.attnDv, [D, Tk, BH], [dout, q, k, lse, Tq, Tk, D, scale]);
      return { dq, dk, dv };
    },

    adamw(param, grad, m, v, hp) {
      if (f64(param, grad, m, v)) return fallback.adamw(param, grad, m, v, hp);
      const n = param.length;
      const m2 = x.run(K.adamM, [n], [m, grad, hp.beta1]);
      const v2 = x.run(K.adamV, [n], [v, grad, hp.beta2]);
      const bc1 = 1 - hp.beta1 ** hp.step;
      const bc2 = 1 - hp.beta2 ** hp.step;
      const p2 = x.run(K.adamP, [n], [param, m2, v2, hp.lr, 1 - hp.lr * hp.weightDecay, bc1, bc2, hp.eps]);
      return { param: p2, m: m2, v: v2 };
    },
  };
}
