// The composed default of every fused kernel: the same function written with the backend's
// own primitives (unary, binary, maskedFill, reduce, matmul, fill, fromHost), so a new backend
// (host or device) runs every op once it has the primitives, and keeps its numbers where it
// computes. completeBackend gives a backend the defaults of the fused kernels it leaves out;
// composedKernels gives them to a backend assembled otherwise (the gpujs device backends).
// Promise: each default equals the reference backend's fused kernel up to rounding (a
// property test checks each one, test/backend_composed.test.ts); a default calls the finished
// backend, so it uses the backend's own fused kernels where it has them (linearCrossEntropy
// uses its crossEntropy). The defaults need more memory and launches than the kernels they
// stand in for: crossEntropy and embedding build a [rows, V] one-hot on the host, attention
// holds the [BH, Tq, Tk] scores.
import type { Backend, BackendKernels, BinaryOp, DType, FusedKernels, HostArray, ReduceOp, Storage } from './backend.ts';
import { dtypeOf, matmulParams } from './backend.ts';

/** The backend with each fused kernel it leaves out made of its primitives (and of its other kernels). */
export function completeBackend(kernels: BackendKernels): Backend {
  const backend: Backend = { ...composedKernels(() => backend), ...kernels };
  return backend;
}

/** A host array of n numbers of a precision, made by f(i): the masks and one-hots uploaded by the defaults. */
function hostArray(dtype: DType, n: number, f: (i: number) => number): HostArray {
  const a = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = f(i);
  return a;
}

/**
 * Elementwise and row helpers over a backend's primitives, for x [rows, cols]: `each(op, a, b)`
 * for two [rows, cols] operands, `perRow(op, a, r)` with r [rows] broadcast along each row,
 * `perCol(op, a, c)` with c [cols] broadcast down each column, `withScalar(op, a, s)`,
 * `rowSum`/`rowMax` (→ [rows]) and `colSum` (→ [cols]), `rowLse` (logsumexp → [rows]).
 */
function rowsOf(be: Backend, rows: number, cols: number, dtype: DType) {
  const shape = [rows, cols];
  const binary = (op: BinaryOp, a: Storage, b: Storage, bShape: number[]) => be.binary({ op, a, aShape: shape, b, bShape, outShape: shape });
  const reduce = (op: ReduceOp, x: Storage, axis: number) => be.reduce({ op, x, shape, axis });
  const rowMax = (x: Storage) => reduce('max', x, 1);
  const rowSum = (x: Storage) => reduce('sum', x, 1);
  const perRow = (op: BinaryOp, a: Storage, r: Storage) => binary(op, a, r, [rows, 1]);
  return {
    each: (op: BinaryOp, a: Storage, b: Storage) => binary(op, a, b, shape),
    perRow,
    perCol: (op: BinaryOp, a: Storage, c: Storage) => binary(op, a, c, [cols]),
    withScalar: (op: BinaryOp, a: Storage, s: number) => binary(op, a, be.fill(1, s, dtype), []),
    rowMax,
    rowSum,
    colSum: (x: Storage) => reduce('sum', x, 0),
    /** log Σ_j exp(x_rj), around the row max: max + log Σ exp(x − max). */
    rowLse(x: Storage): Storage {
      const max = rowMax(x); // [rows]
      const sumExp = rowSum(be.unary('exp', perRow('sub', x, max))); // [rows]
      return be.binary({ op: 'add', a: max, aShape: [rows], b: be.unary('log', sumExp), bShape: [rows], outShape: [rows] });
    },
  };
}

/** n numbers op a scalar s (a [n] vector in, a [n] vector out). */
function scalarOp(be: Backend, op: BinaryOp, a: Storage, s: number): Storage {
  return be.binary({ op, a, aShape: [a.length], b: be.fill(1, s, dtypeOf(a)), bShape: [], outShape: [a.length] });
}

/** Two [n] vectors, elementwise. */
function vecOp(be: Backend, op: BinaryOp, a: Storage, b: Storage): Storage {
  return be.binary({ op, a, aShape: [a.length], b, bShape: [b.length], outShape: [a.length] });
}

/** The composed fused kernels of the backend `self()` returns (called once it is finished). */
export function composedKernels(self: () => Backend): FusedKernels {
  /** 1 at each counted row's target and 0 elsewhere [rows, cols]; ignored rows are all 0. */
  const onehot = (dtype: DType, targets: Int32Array, rows: number, cols: number, ignoreIndex: number) =>
    self().fromHost(hostArray(dtype, rows * cols, (i) => (targets[Math.floor(i / cols)] === i % cols && targets[Math.floor(i / cols)] !== ignoreIndex ? 1 : 0)));
  /** 1 in the rows whose target is ignoreIndex [rows]. */
  const ignoredRows = (dtype: DType, targets: Int32Array, ignoreIndex: number) =>
    self().fromHost(hostArray(dtype, targets.length, (r) => (targets[r] === ignoreIndex ? 1 : 0)));
  /** The scaled scores of attention with the future masked to −∞: [BH, Tq, Tk]. */
  const scores = (q: Storage, k: Storage, BH: number, Tq: number, Tk: number, D: number, scale: number): Storage => {
    const be = self();
    const dtype = dtypeOf(q);
    const qk = be.matmul(q, k, matmulParams(Tq, D, Tk, { batch: BH, transB: true, aBatched: true, bBatched: true })); // q·kᵀ
    const s = scalarOp(be, 'mul', qk, scale);
    // query i sits at position i + Tk − Tq and may not see key j > i + Tk − Tq
    const future = be.fromHost(hostArray(dtype, Tq * Tk, (ij) => (ij % Tk > Math.floor(ij / Tk) + Tk - Tq ? 1 : 0)));
    return be.maskedFill({ x: s, shape: [BH, Tq, Tk], mask: future, maskShape: [Tq, Tk], value: -Infinity });
  };

  return {
    // softmax = exp(x − max) / Σ exp(x − max)
    softmax({ x, rows, cols }) {
      const be = self();
      const r = rowsOf(be, rows, cols, dtypeOf(x));
      const e = be.unary('exp', r.perRow('sub', x, r.rowMax(x)));
      return r.perRow('div', e, r.rowSum(e));
    },
    // dx = y ⊙ (dy − Σ dy⊙y)
    softmaxBackward({ y, dy, rows, cols }) {
      const r = rowsOf(self(), rows, cols, dtypeOf(y));
      return r.each('mul', y, r.perRow('sub', dy, r.rowSum(r.each('mul', dy, y))));
    },
    // log softmax = x − logsumexp(x)
    logSoftmax({ x, rows, cols }) {
      const r = rowsOf(self(), rows, cols, dtypeOf(x));
      return r.perRow('sub', x, r.rowLse(x));
    },
    // dx = dy − exp(y) · Σ dy
    logSoftmaxBackward({ y, dy, rows, cols }) {
      const be = self();
      const r = rowsOf(be, rows, cols, dtypeOf(y));
      return r.each('sub', dy, r.perRow('mul', be.unary('exp', y), r.rowSum(dy)));
    },

    // loss_r = lse_r − x_r[t_r] (0 in ignored rows); the target logit is picked by masking every other to 0
    crossEntropy({ logits, targets, rows, cols, ignoreIndex }) {
      const be = self();
      const dtype = dtypeOf(logits);
      const r = rowsOf(be, rows, cols, dtype);
      const lse = r.rowLse(logits); // [rows]
      const notTarget = be.fromHost(hostArray(dtype, rows * cols, (i) => (targets[Math.floor(i / cols)] === i % cols ? 0 : 1)));
      const picked = r.rowSum(be.maskedFill({ x: logits, shape: [rows, cols], mask: notTarget, maskShape: [rows, cols], value: 0 })); // x_r[t_r]
      const loss = be.maskedFill({ x: vecOp(be, 'sub', lse, picked), shape: [rows], mask: ignoredRows(dtype, targets, ignoreIndex), maskShape: [rows], value: 0 });
      return { loss, lse };
    },
    // dx_r = dloss_r · (exp(x_r − lse_r) − onehot(t_r)), 0 in ignored rows
    crossEntropyBackward({ logits, lse, dloss, targets, rows, cols, ignoreIndex }) {
      const be = self();
      const dtype = dtypeOf(logits);
      const r = rowsOf(be, rows, cols, dtype);
      const p = be.unary('exp', r.perRow('sub', logits, lse)); // softmax
      const d = r.perRow('mul', r.each('sub', p, onehot(dtype, targets, rows, cols, ignoreIndex)), dloss);
      return be.maskedFill({ x: d, shape: [rows, cols], mask: ignoredRows(dtype, targets, ignoreIndex), maskShape: [rows, 1], value: 0 });
    },

    // logits = x·wᵀ [N, V]; loss, lse = crossEntropy(logits)
    // with grad: dlogits = crossEntropyBackward(logits, lse, dloss = 1);  dx = dlogits·w;  dw = dlogitsᵀ·x
    linearCrossEntropy({ x, w, targets, N, C, V, ignoreIndex, withGrad }) {
      const be = self();
      const logits = be.matmul(x, w, matmulParams(N, C, V, { transB: true })); // [N, V]
      const ce = { logits, targets, rows: N, cols: V, ignoreIndex };
      const { loss, lse } = be.crossEntropy(ce);
      if (!withGrad) return { loss, dx: null, dw: null };
      const dloss = be.fill(N, 1, dtypeOf(x)); // dΣloss/dloss
      const dlogits = be.crossEntropyBackward({ ...ce, lse, dloss }); // [N, V]
      return {
        loss,
        dx: be.matmul(dlogits, w, matmulParams(N, V, C)), // [N, C]
        dw: be.matmul(dlogits, x, matmulParams(V, N, C, { transA: true })), // [V, C]
      };
    },

    // mean = Σx/cols, xc = x − mean, rstd = 1/√(Σxc²/cols + eps), y = xc·rstd·w + b
    layerNorm({ x, weight, bias, rows, cols, eps }) {
      const be = self();
      const dtype = dtypeOf(x);
      const r = rowsOf(be, rows, cols, dtype);
      const mean = scalarOp(be, 'div', r.rowSum(x), cols); // [rows]
      const xc = r.perRow('sub', x, mean);
      const variance = scalarOp(be, 'div', r.rowSum(r.each('mul', xc, xc)), cols); // biased, as PyTorch
      const rstd = vecOp(be, 'div', be.fill(rows, 1, dtype), be.unary('sqrt', scalarOp(be, 'add', variance, eps))); // [rows]
      const y = r.perCol('add', r.perCol('mul', r.perRow('mul', xc, rstd), weight), bias);
      return { y, mean, rstd };
    },
    // xhat = (x − mean)·rstd, g = dy·w: dx = rstd·(g − mean(g) − xhat·mean(g·xhat)), dweight = Σ_rows dy·xhat, dbias = Σ_rows dy
    layerNormBackward({ dy, x, weight, mean, rstd, rows, cols }) {
      const be = self();
      const r = rowsOf(be, rows, cols, dtypeOf(x));
      const xhat = r.perRow('mul', r.perRow('sub', x, mean), rstd);
      const g = r.perCol('mul', dy, weight);
      const gMean = scalarOp(be, 'div', r.rowSum(g), cols); // [rows]
      const gxMean = scalarOp(be, 'div', r.rowSum(r.each('mul', g, xhat)), cols); // [rows]
      const dx = r.perRow('mul', r.each('sub', r.perRow('sub', g, gMean), r.perRow('mul', xhat, gxMean)), rstd);
      return { dx, dweight: r.colSum(r.each('mul', dy, xhat)), dbias: r.colSum(dy) };
    },

    // S = mask(q·kᵀ·scale), lse = logsumexp rows of S, out = exp(S − lse)·v
    attention({ q, k, v, BH, Tq, Tk, D, scale }) {
      const be = self();
      const r = rowsOf(be, BH * Tq, Tk, dtypeOf(q));
      const s = scores(q, k, BH, Tq, Tk, D, scale); // [BH, Tq, Tk]
      const lse = r.rowLse(s); // [BH·Tq]
      const p = be.unary('exp', r.perRow('sub', s, lse));
      return { out: be.matmul(p, v, matmulParams(Tq, Tk, D, { batch: BH, aBatched: true, bBatched: true })), lse };
    },
    // P from lse; dv = Pᵀ·dout, dP = dout·vᵀ, dS = P ⊙ (dP − rowsum(dout ⊙ out)), dq = scale·dS·k, dk = scale·dSᵀ·q
    attentionBackward({ dout, q, k, v, out, lse, BH, Tq, Tk, D, scale }) {
      const be = self();
      const dtype = dtypeOf(q);
      const r = rowsOf(be, BH * Tq, Tk, dtype);
      const batched = { batch: BH, aBatched: true, bBatched: true };
      const p = be.unary('exp', r.perRow('sub', scores(q, k, BH, Tq, Tk, D, scale), lse)); // [BH, Tq, Tk]
      const dv = be.matmul(p, dout, matmulParams(Tk, Tq, D, { ...batched, transA: true }));
      const dp = be.matmul(dout, v, matmulParams(Tq, D, Tk, { ...batched, transB: true }));
      const rowDot = rowsOf(be, BH * Tq, D, dtype).rowSum(vecOp(be, 'mul', dout, out)); // dout_i·out_i [BH·Tq]
      const ds = r.each('mul', p, r.perRow('sub', dp, rowDot));
      const dq = scalarOp(be, 'mul', be.matmul(ds, k, matmulParams(Tq, Tk, D, batched)), scale);
      const dk = scalarOp(be, 'mul', be.matmul(ds, q, matmulParams(Tk, Tq, D, { ...batched, transA: true })), scale);
      return { dq, dk, dv };
    },

    // embedding = onehot(ids) · weight: [N, V]·[V, C]
    embedding({ weight, ids, V, C }) {
      const be = self();
      return be.matmul(onehot(dtypeOf(weight), ids, ids.length, V, -1), weight, matmulParams(ids.length, V, C));
    },
    // dweight = onehot(ids)ᵀ · dy: [V, N]·[N, C]
    embeddingBackward({ dy, ids, V, C }) {
      const be = self();
      return be.matmul(onehot(dtypeOf(dy), ids, ids.length, V, -1), dy, matmulParams(V, ids.length, C, { transA: true }));
    },

    // m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p·(1 − lr·wd) − lr·(m/(1−β1ᵗ)) / (√(v/(1−β2ᵗ)) + eps)
    adamw({ param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step }) {
      const be = self();
      const m2 = vecOp(be, 'add', scalarOp(be, 'mul', m, beta1), scalarOp(be, 'mul', grad, 1 - beta1));
      const v2 = vecOp(be, 'add', scalarOp(be, 'mul', v, beta2), scalarOp(be, 'mul', vecOp(be, 'mul', grad, grad), 1 - beta2));
      const mHat = scalarOp(be, 'div', m2, 1 - beta1 ** step);
      const denom = scalarOp(be, 'add', be.unary('sqrt', scalarOp(be, 'div', v2, 1 - beta2 ** step)), eps);
      const update = scalarOp(be, 'mul', vecOp(be, 'div', mHat, denom), lr);
      return { param: vecOp(be, 'sub', scalarOp(be, 'mul', param, 1 - lr * weightDecay), update), m: m2, v: v2 };
    },

    // X ← x/(‖x‖ + eps); then `steps` times, on the short side s = min(rows, cols):
    //   A = X·Xᵀ [s, s], X ← M·X (rows ≤ cols)   or   A = Xᵀ·X [s, s], X ← X·M (tall x)
    //   with M = a·I + A·(b·I + c·A) = a·I + b·A + c·A² [s, s]
    newtonSchulz({ x, rows, cols, steps, coefficients: [a, b, c], eps }) {
      const be = self();
      const dtype = dtypeOf(x);
      const wide = rows <= cols;
      const s = Math.min(rows, cols);
      const n = rows * cols;
      const sumSq = be.reduce({ op: 'sum', x: vecOp(be, 'mul', x, x), shape: [n], axis: 0 }); // [1]
      const norm = scalarOp(be, 'add', be.unary('sqrt', sumSq), eps); // [1]
      let X = be.binary({ op: 'div', a: x, aShape: [n], b: norm, bShape: [1], outShape: [n] }); // [rows, cols]
      const diagonal = (v: number) => be.fromHost(hostArray(dtype, s * s, (i) => (i % (s + 1) === 0 ? v : 0))); // v·I [s, s]
      const [aI, bI] = [diagonal(a), diagonal(b)];
      for (let i = 0; i < steps; i++) {
        const A = wide ? be.matmul(X, X, matmulParams(s, cols, s, { transB: true })) : be.matmul(X, X, matmulParams(s, rows, s, { transA: true })); // [s, s]
        const M = vecOp(be, 'add', aI, be.matmul(A, vecOp(be, 'add', scalarOp(be, 'mul', A, c), bI), matmulParams(s, s, s))); // [s, s]
        X = wide ? be.matmul(M, X, matmulParams(s, s, cols)) : be.matmul(X, M, matmulParams(rows, s, s)); // [rows, cols]
      }
      return X;
    },
  };
}
