// Every op of a training step (matmul, softmax, cross-entropy, LayerNorm, attention, GELU,
// AdamW, embedding, the language-model head with its loss, elementwise and broadcasting ops,
// permute/slice/pad and reductions) as sequences of ./kernels.ts launches, shared by every
// gpu.js backend, so a step reads nothing back but the numbers the CPU asks for. Promise:
// each op gives its reference result up to float32 rounding; where a shape cannot be laid
// out on the device (see Exec.rowSplit, Exec.partLength) it hands the call to `fallback`.
//
// Tensors in parts: a device array holds at most `partLength` values (lavapipe caps a WebGPU
// storage buffer at 128 MiB; the lm head's weight alone is 154 MB in GPT-2 small), so a longer
// tensor is consecutive parts of partLength values. Elementwise ops and AdamW run part by part
// (parts of equal-length tensors line up); embedding, its backward and the lm head walk the
// parts of the [V, C] table as row ranges, which needs partLength to be a multiple of C.
import type { Backend, BinaryOp, Storage, UnaryOp } from '../../backend.ts';
import { matmulParams } from '../../backend.ts';
import { broadcastStrides, numel, stridesOf } from '../../shape.ts';
import * as K from './kernels.ts';

/** What the ops need from a backend: a way to run one kernel, and its layout limits. */
export interface Exec {
  /** Runs a kernel over output dims [x, y, z]; array arguments are Storage of this backend. */
  run(def: K.KernelDef, output: number[], args: (Storage | number)[]): Storage;
  /** [RA, RB] such that a [rows, cols] result fits output dims [cols, RA, RB], RA·RB = rows; null if none. */
  rowSplit(rows: number, cols: number): [number, number] | null;
  /** The most values one device array holds; a longer tensor is parts of this many (the last shorter). */
  readonly partLength: number;
  /** s's parts in order ([s] when it is one array). */
  parts(s: Storage): Storage[];
  /** The tensor of `length` values made of these consecutive parts (one part: that part). */
  join(length: number, parts: Storage[]): Storage;
}

const UNARY_CODE: Record<UnaryOp, number> = { neg: 0, exp: 1, log: 2, sqrt: 3, tanh: 4, relu: 5, step: 6, gelu: 7, gelu_grad: 8 };
const BINARY_CODE: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3, pow: 4, eq: 5 };

const sameShape = (a: number[], b: number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** gpu.js kernels compute in float32; anything float64 stays on the reference. */
const f64 = (...xs: Storage[]): boolean => xs.some((x) => x instanceof Float64Array);

/**
 * How a tensor of `rows` rows of `cols` values is split into parts of at most partLength values:
 * each part's [first, end) rows. One part when it fits; null when a part boundary would cut a
 * row. The device backend lays out every tensor by this (with cols = 1), so the parts of a
 * [V, C] table always fall on these row ranges.
 */
export function partRanges(rows: number, cols: number, partLength: number): [number, number][] | null {
  if (rows * cols <= partLength) return [[0, rows]];
  if (partLength % cols !== 0) return null;
  const per = partLength / cols;
  return Array.from({ length: Math.ceil(rows / per) }, (_, i) => [i * per, Math.min(rows, (i + 1) * per)]);
}

/** A strided read seen as rows (see the strided kernels in ./kernels.ts). */
interface RowsView {
  rows: number;
  cols: number;
  /** Where each output row starts in the input (−1: outside it); on the device after its first use. */
  off: Storage;
  /** The input's step along a row. */
  sx: number;
}

/**
 * The output `shape` as [rows, cols], cols its last axis; `strides` are the input's steps along
 * each output axis, so row (i0, i1, …) starts at base + Σ i_k·strides[k]. With a `box`, rows
 * whose leading coordinates lie outside [begin, begin + size) get −1 (pad).
 */
function rowsView(shape: number[], strides: number[], base = 0, box?: { begin: number[]; size: number[] }): RowsView {
  const r = shape.length;
  const lead = shape.slice(0, Math.max(0, r - 1));
  const off = new Float32Array(numel(lead));
  const idx = lead.map(() => 0);
  for (let row = 0; row < off.length; row++) {
    const inside = !box || idx.every((i, k) => i >= box.begin[k] && i < box.begin[k] + box.size[k]);
    off[row] = inside ? idx.reduce((o, i, k) => o + i * strides[k], base) : -1;
    for (let k = lead.length - 1; k >= 0 && ++idx[k] === lead[k]; k--) idx[k] = 0; // next row, row-major
  }
  return { rows: off.length, cols: r === 0 ? 1 : shape[r - 1], off, sx: r === 0 ? 0 : strides[r - 1] };
}

/** One block of the lm head: rows [r0, r0 + rows) of w [V, C], which sit in w's part `part`. */
interface VocabBlock {
  w: Storage;
  r0: number;
  rows: number;
  part: number;
}

export function hotOps(x: Exec, fallback: Backend): Partial<Backend> {
  const partRows = (rows: number, cols: number) => partRanges(rows, cols, x.partLength);
  /** f part by part over tensors of equal length (their parts line up). */
  const partwise = (arrays: Storage[], f: (parts: Storage[]) => Storage): Storage => {
    const parts = arrays.map((a) => x.parts(a));
    return x.join(arrays[0].length, parts[0].map((_, i) => f(parts.map((p) => p[i]))));
  };
  const add = (a: Storage | null, b: Storage): Storage => (a === null ? b : x.run(K.binaryFlat, [b.length], [a, b, 1, 1, BINARY_CODE.add]));

  /**
   * The lm head's vocabulary blocks: each part of w [V, C] cut into row blocks small enough
   * that a block's logits [N, rows] fit one device array. Null when x or a logits row does not fit.
   */
  const vocabBlocks = (xs: Storage, w: Storage, N: number, C: number, V: number): VocabBlock[] | null => {
    const ranges = partRows(V, C);
    const R = Math.floor(x.partLength / N); // rows per block
    if (ranges === null || R < 1 || x.parts(xs).length !== 1) return null;
    const spans: { part: number; r0: number; rows: number; whole: boolean }[] = [];
    ranges.forEach(([r0, r1], part) => {
      for (let a = r0; a < r1; a += R) spans.push({ part, r0: a, rows: Math.min(R, r1 - a), whole: R >= r1 - r0 });
    });
    if (spans.some((s) => x.rowSplit(N, s.rows) === null)) return null;
    const W = x.parts(w);
    const start = (part: number): number => ranges[part][0];
    // a block that is a whole part is that part; else a window of it [rows, C]
    return spans.map((s) => ({ ...s, w: s.whole ? W[s.part] : x.run(K.window, [s.rows * C], [W[s.part], (s.r0 - start(s.part)) * C]) }));
  };

  /**
   * Runs a kernel whose output is [rows, cols] laid out as dims [cols, RA, RB] (see
   * ./kernels.ts): its arguments are `args`, then RA, then `tail`. Null when it cannot be laid out.
   */
  const rowsKernel = (def: K.KernelDef, rows: number, cols: number, args: (Storage | number)[], tail: number[] = []): Storage | null => {
    const split = x.rowSplit(rows, cols);
    if (!split) return null;
    return x.run(def, [cols, split[0], split[1]], [...args, split[0], ...tail]);
  };
  const targetsOf = (t: Int32Array): Float32Array => Float32Array.from(t); // ids < 2²⁴, exact in float32

  // Row offsets depend only on shapes, so each is made and uploaded once, then kept on the
  // device (a training step reuses a few dozen; the cache is emptied if it ever holds 1024).
  const views = new Map<string, RowsView>();
  const view = (...args: Parameters<typeof rowsView>): RowsView => {
    const key = JSON.stringify(args);
    let v = views.get(key);
    if (v === undefined) {
      if (views.size >= 1024) views.clear();
      const h = rowsView(...args);
      v = { ...h, off: x.run(K.copy, [h.rows], [h.off as Float32Array]) };
      views.set(key, v);
    }
    return v;
  };
  /** The strided kernels take one array per operand. */
  const single = (...xs: Storage[]): boolean => xs.every((s) => x.parts(s).length === 1);

  const ops: Partial<Backend> = {
    // ---- layout and reductions as strided reads -------------------------------------------
    permute(args) {
      const { x: a, shape, perm } = args;
      const S = stridesOf(shape);
      const v = view(perm.map((p) => shape[p]), perm.map((p) => S[p]));
      return (!f64(a) && single(a) ? rowsKernel(K.gatherRows, v.rows, v.cols, [a, v.off, v.sx]) : null) ?? fallback.permute(args);
    },
    slice(args) {
      const { x: a, shape, begin, size } = args;
      const S = stridesOf(shape);
      const v = view(size, S, begin.reduce((o, b, k) => o + b * S[k], 0));
      return (!f64(a) && single(a) ? rowsKernel(K.gatherRows, v.rows, v.cols, [a, v.off, v.sx]) : null) ?? fallback.slice(args);
    },
    pad(args) {
      const { x: a, shape, begin, outShape } = args;
      const S = stridesOf(shape);
      const r = outShape.length;
      // rows of the output whose leading coordinates fall inside the box read from the input
      const v = view(outShape, S, -begin.slice(0, Math.max(0, r - 1)).reduce((o, b, k) => o + b * S[k], 0), { begin, size: shape });
      const [x0, xn] = r === 0 ? [0, 1] : [begin[r - 1], shape[r - 1]];
      return (!f64(a) && single(a) ? rowsKernel(K.padRows, v.rows, v.cols, [a, v.off, v.sx, x0, xn]) : null) ?? fallback.pad(args);
    },
    reduce(args) {
      const { op, x: a, shape, axis } = args;
      if (f64(a)) return fallback.reduce(args);
      const reduceOne = (part: Storage, partShape: number[]): Storage | null => {
        const S = stridesOf(partShape);
        const keep = partShape.map((_, k) => k).filter((k) => k !== axis);
        const v = view(keep.map((k) => partShape[k]), keep.map((k) => S[k]));
        return rowsKernel(K.reduceRows, v.rows, v.cols, [part, v.off, v.sx, partShape[axis], S[axis], op === 'sum' ? 0 : 1]);
      };
      const parts = x.parts(a);
      if (parts.length === 1) return reduceOne(a, shape) ?? fallback.reduce(args);
      // in parts (the tied wte's gradient, when the grad norm sums it): each part holds whole
      // slices of axis 0, so any other axis reduces part by part and the results go end to end
      const slice = numel(shape.slice(1));
      if (axis === 0 || parts.some((p) => p.length % slice !== 0)) return fallback.reduce(args);
      const outs = parts.map((p) => reduceOne(p, [p.length / slice, ...shape.slice(1)]));
      if (outs.some((o) => o === null)) return fallback.reduce(args);
      return (outs as Storage[]).reduce((acc, o) => x.run(K.concat2, [acc.length + o.length], [acc, o, acc.length]));
    },
    maskedFill(args) {
      const { x: a, shape, mask, maskShape, value } = args;
      const v = view(shape, broadcastStrides(maskShape, shape));
      const kernelArgs = [a, mask, v.off, v.sx, value, v.cols];
      return (!f64(a, mask) && single(a, mask) ? rowsKernel(K.maskedFillRows, v.rows, v.cols, kernelArgs) : null) ?? fallback.maskedFill(args);
    },

    unary(op, a) {
      if (f64(a)) return fallback.unary(op, a);
      return partwise([a], ([p]) => x.run(K.unary, [p.length], [p, UNARY_CODE[op]]));
    },
    binary(args) {
      const { op, a, aShape, b, bShape, outShape } = args;
      if (f64(a, b)) return fallback.binary(args);
      if (sameShape(aShape, outShape) && sameShape(bShape, outShape)) {
        return partwise([a, b], ([p, q]) => x.run(K.binaryFlat, [p.length], [p, q, 1, 1, BINARY_CODE[op]]));
      }
      // a tensor in parts times a scalar (the grad clip's scale): part by part
      const n = numel(outShape);
      if (a.length === n && b.length === 1 && !single(a) && single(b)) {
        return partwise([a], ([p]) => x.run(K.binaryFlat, [p.length], [p, b, 1, 0, BINARY_CODE[op]]));
      }
      if (b.length === n && a.length === 1 && !single(b) && single(a)) {
        return partwise([b], ([p]) => x.run(K.binaryFlat, [p.length], [a, p, 0, 1, BINARY_CODE[op]]));
      }
      // broadcasting: each operand read with stride 0 along its broadcast axes
      const va = view(outShape, broadcastStrides(aShape, outShape));
      const vb = view(outShape, broadcastStrides(bShape, outShape));
      const kernelArgs = [a, b, va.off, vb.off, va.sx, vb.sx, BINARY_CODE[op]];
      return (single(a, b) ? rowsKernel(K.binaryRows, va.rows, va.cols, kernelArgs) : null) ?? fallback.binary(args);
    },

    matmul(a, b, p) {
      const { batch, m, k, n } = p;
      if (f64(a, b) || !single(a) || batch * m * n > x.partLength) return fallback.matmul(a, b, p);
      if (!single(b)) {
        // x·wᵀ with w [n, k] in row parts (GPT-2 small's wte on lavapipe: logits while generating):
        // each part gives a block of columns, padded into place and summed
        const ranges = partRows(n, k);
        if (batch > 1 || p.transA || !p.transB || ranges === null) return fallback.matmul(a, b, p);
        const W = x.parts(b);
        return ranges.reduce<Storage | null>((out, [r0, r1], i) => {
          const block = ops.matmul!(a, W[i], { ...p, n: r1 - r0 }); // [m, r1 − r0]
          return add(out, ops.pad!({ x: block, shape: [m, r1 - r0], begin: [0, r0], outShape: [m, n] }));
        }, null)!;
      }
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

    softmax(args) {
      const { x: a, rows, cols } = args;
      if (f64(a)) return fallback.softmax(args);
      const lse = x.run(K.rowLogSumExp, [rows], [a, cols]);
      return rowsKernel(K.rowsSoftmax, rows, cols, [a, lse, cols], [0]) ?? fallback.softmax(args);
    },
    logSoftmax(args) {
      const { x: a, rows, cols } = args;
      if (f64(a)) return fallback.logSoftmax(args);
      const lse = x.run(K.rowLogSumExp, [rows], [a, cols]);
      return rowsKernel(K.rowsSoftmax, rows, cols, [a, lse, cols], [1]) ?? fallback.logSoftmax(args);
    },
    softmaxBackward(args) {
      const { y, dy, rows, cols } = args;
      if (f64(y, dy)) return fallback.softmaxBackward(args);
      const dot = x.run(K.rowDot, [rows], [dy, y, cols]);
      return rowsKernel(K.rowsSoftmaxBackward, rows, cols, [y, dy, dot, cols], [0]) ?? fallback.softmaxBackward(args);
    },
    logSoftmaxBackward(args) {
      const { y, dy, rows, cols } = args;
      if (f64(y, dy)) return fallback.logSoftmaxBackward(args);
      const sum = x.run(K.rowSum, [rows], [dy, cols]);
      return rowsKernel(K.rowsSoftmaxBackward, rows, cols, [y, dy, sum, cols], [1]) ?? fallback.logSoftmaxBackward(args);
    },

    crossEntropy(args) {
      const { logits, targets, rows, cols, ignoreIndex } = args;
      if (f64(logits)) return fallback.crossEntropy(args);
      const lse = x.run(K.rowLogSumExp, [rows], [logits, cols]);
      const loss = x.run(K.rowCrossEntropy, [rows], [logits, lse, targetsOf(targets), cols, ignoreIndex]);
      return { loss, lse };
    },
    crossEntropyBackward(args) {
      const { logits, lse, dloss, targets, rows, cols, ignoreIndex } = args;
      if (f64(logits, lse, dloss)) return fallback.crossEntropyBackward(args);
      return rowsKernel(K.rowsCrossEntropyBackward, rows, cols, [logits, lse, targetsOf(targets), dloss, cols], [ignoreIndex]) ?? fallback.crossEntropyBackward(args);
    },

    layerNorm(args) {
      const { x: a, weight: w, bias: b, rows, cols, eps } = args;
      const split = x.rowSplit(rows, cols);
      if (f64(a, w, b) || !split) return fallback.layerNorm(args);
      const mean = x.run(K.rowMean, [rows], [a, cols]);
      const rstd = x.run(K.rowRstd, [rows], [a, mean, cols, eps]);
      const y = x.run(K.rowsLayerNorm, [cols, ...split], [a, w, b, mean, rstd, cols, split[0]]);
      return { y, mean, rstd };
    },
    layerNormBackward(args) {
      const { dy, x: a, weight: w, mean, rstd, rows, cols } = args;
      const split = x.rowSplit(rows, cols);
      if (f64(dy, a, w, mean, rstd) || !split) return fallback.layerNormBackward(args);
      const gMean = x.run(K.rowLayerNormGrad, [rows], [dy, a, w, mean, rstd, cols, 0]);
      const gxMean = x.run(K.rowLayerNormGrad, [rows], [dy, a, w, mean, rstd, cols, 1]);
      const dx = x.run(K.rowsLayerNormBackward, [cols, ...split], [dy, a, w, mean, rstd, gMean, gxMean, cols, split[0]]);
      const dweight = x.run(K.colsLayerNormParamGrad, [cols], [dy, a, mean, rstd, rows, cols, 0]);
      const dbias = x.run(K.colsLayerNormParamGrad, [cols], [dy, a, mean, rstd, rows, cols, 1]);
      return { dx, dweight, dbias };
    },

    attention(args) {
      const { q, k, v, BH, Tq, Tk, D, scale } = args;
      if (f64(q, k, v)) return fallback.attention(args);
      const lse = x.run(K.attnLse, [Tq, BH], [q, k, Tq, Tk, D, scale]);
      const out = x.run(K.attnOut, [D, Tq, BH], [q, k, v, lse, Tq, Tk, D, scale]);
      return { out, lse };
    },
    attentionBackward(args) {
      const { dout, q, k, v, out, lse, BH, Tq, Tk, D, scale } = args;
      if (f64(dout, q, k, v, out, lse)) return fallback.attentionBackward(args);
      const rowDot = x.run(K.rowDot, [BH * Tq], [dout, out, D]); // dout_i·out_i = Σ_j p_ij dp_ij
      const dq = x.run(K.attnDq, [D, Tq, BH], [dout, q, k, v, lse, rowDot, Tq, Tk, D, scale]);
      const dk = x.run(K.attnDk, [D, Tk, BH], [dout, q, k, v, lse, rowDot, Tq, Tk, D, scale]);
      const dv = x.run(K.attnDv, [D, Tk, BH], [dout, q, k, lse, Tq, Tk, D, scale]);
      return { dq, dk, dv };
    },

    adamw(hp) {
      const { param, grad, m, v } = hp;
      if (f64(param, grad, m, v)) return fallback.adamw(hp);
      const bc1 = 1 - hp.beta1 ** hp.step;
      const bc2 = 1 - hp.beta2 ** hp.step;
      const [P, G, M, V] = [param, grad, m, v].map((s) => x.parts(s));
      const out = P.map((p, i) => {
        const m2 = x.run(K.adamM, [p.length], [M[i], G[i], hp.beta1]);
        const v2 = x.run(K.adamV, [p.length], [V[i], G[i], hp.beta2]);
        return { p2: x.run(K.adamP, [p.length], [p, m2, v2, hp.lr, 1 - hp.lr * hp.weightDecay, bc1, bc2, hp.eps]), m2, v2 };
      });
      const n = param.length;
      return { param: x.join(n, out.map((o) => o.p2)), m: x.join(n, out.map((o) => o.m2)), v: x.join(n, out.map((o) => o.v2)) };
    },

    // ---- embedding: one kernel per part of the table, summed (a row lives in one part) ------
    embedding(args) {
      const { weight: w, ids, V, C } = args;
      const ranges = partRows(V, C);
      const split = x.rowSplit(ids.length, C);
      if (f64(w) || ranges === null || split === null || ids.length === 0) return fallback.embedding(args);
      const W = x.parts(w);
      let out: Storage | null = null;
      ranges.forEach(([r0, r1], i) => {
        const local = Float32Array.from(ids, (id) => (id >= r0 && id < r1 ? id - r0 : -1)); // −1: another part's row
        out = add(out, x.run(K.embeddingRows, [C, split[0], split[1]], [W[i], local, C, split[0]])); // [N, C]
      });
      return out!;
    },
    embeddingBackward(args) {
      const { dy, ids, V, C } = args;
      const ranges = partRows(V, C);
      const fitsKernel = ranges !== null && x.parts(dy).length === 1 && ranges.every(([r0, r1]) => x.rowSplit(r1 - r0, C));
      if (f64(dy) || !fitsKernel) return fallback.embeddingBackward(args);
      const parts = ranges.map(([r0, r1]) => {
        // the positions of each id, grouped by id (a counting sort on the host): row v of this
        // part sums dy's rows order[start[v] … start[v] + count[v])
        const rows = r1 - r0;
        const count = new Float32Array(rows);
        for (const id of ids) if (id >= r0 && id < r1) count[id - r0]++;
        const start = new Float32Array(rows);
        for (let v = 1; v < rows; v++) start[v] = start[v - 1] + count[v - 1];
        const order = new Float32Array(Math.max(1, start[rows - 1] + count[rows - 1]));
        const next = Float32Array.from(start);
        ids.forEach((id, i) => {
          if (id >= r0 && id < r1) order[next[id - r0]++] = i;
        });
        const [RA, RB] = x.rowSplit(rows, C)!;
        return x.run(K.embeddingGrad, [C, RA, RB], [dy, order, start, count, C, RA]); // [rows, C]
      });
      return x.join(V * C, parts);
    },

    // ---- the lm head + cross-entropy in vocabulary blocks ---------------------------------
    // No [N, V] logits array: each block's logits [N, rows] are made, used and dropped. The
    // loss combines the blocks' logsumexps (logAddExp) and picks each row's target logit from
    // the block that holds it. The gradient needs the full logsumexp, so it takes a second pass
    // (logits recomputed, unless there is one block), in which each block's dlogits add its
    // share of dx and make its rows of dw.
    linearCrossEntropy(args) {
      const { x: xs, w, targets, N, C, V, ignoreIndex, withGrad } = args;
      const blocks = f64(xs, w) ? null : vocabBlocks(xs, w, N, C, V);
      if (blocks === null) return fallback.linearCrossEntropy(args);
      const logitsOf = (b: VocabBlock) => ops.matmul!(xs, b.w, matmulParams(N, C, b.rows, { transB: true })); // [N, rows]
      let lse: Storage | null = null;
      let zt: Storage | null = null; // each row's target logit
      let kept: Storage | null = null; // the logits, when one block holds them all
      for (const b of blocks) {
        const z = logitsOf(b);
        if (blocks.length === 1) kept = z;
        const lseB = x.run(K.rowLogSumExp, [N], [z, b.rows]);
        lse = lse === null ? lseB : x.run(K.logAddExp, [N], [lse, lseB]);
        zt = add(zt, x.run(K.rowPick, [N], [z, Float32Array.from(targets, (t) => t - b.r0), b.rows]));
      }
      const loss = x.run(K.lossFromLse, [N], [lse!, zt!, targetsOf(targets), ignoreIndex]);
      if (!withGrad) return { loss, dx: null, dw: null };
      const ones = x.run(K.fill, [N], [1]); // dΣloss/dloss
      let dx: Storage | null = null;
      const dwBlocks: Storage[][] = x.parts(w).map(() => []);
      for (const b of blocks) {
        const z = kept ?? logitsOf(b);
        // block-local targets: −1 ignored (the kernel's ignoreIndex below), rows = a column of another block
        const local = Float32Array.from(targets, (t) => (t === ignoreIndex ? -1 : t >= b.r0 && t < b.r0 + b.rows ? t - b.r0 : b.rows));
        const [RA, RB] = x.rowSplit(N, b.rows)!;
        const dl = x.run(K.rowsCrossEntropyBackward, [b.rows, RA, RB], [z, lse!, local, ones, b.rows, RA, -1]); // [N, rows]
        dx = add(dx, ops.matmul!(dl, b.w, matmulParams(N, b.rows, C))); // [N, C]
        dwBlocks[b.part].push(ops.matmul!(dl, xs, matmulParams(b.rows, N, C, { transA: true }))); // [rows, C]
      }
      // each part of dw: its blocks end to end
      const dwParts = dwBlocks.map((bs) => bs.reduce((acc, d) => x.run(K.concat2, [acc.length + d.length], [acc, d, acc.length])));
      return { loss, dx: dx!, dw: x.join(V * C, dwParts) };
    },
  };
  return ops;
}
