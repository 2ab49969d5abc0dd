// Reference row softmax, log-softmax and fused softmax-cross-entropy, forward and backward.
// All subtract the row max before exp, so large logits do not overflow.
import type { HostArray, Storage } from '../backend.ts';
import { alloc, host } from './util.ts';

/** log Σ exp(x[off … off+cols)), computed stably around the row max. */
function logSumExp(x: HostArray, off: number, cols: number): number {
  let max = -Infinity;
  for (let j = 0; j < cols; j++) max = Math.max(max, x[off + j]);
  if (max === -Infinity) return -Infinity; // a fully masked row
  let sum = 0;
  for (let j = 0; j < cols; j++) sum += Math.exp(x[off + j] - max);
  return max + Math.log(sum);
}

export function softmax(xs: Storage, rows: number, cols: number): HostArray {
  const x = host(xs);
  const out = alloc(x, x.length);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    const lse = logSumExp(x, off, cols);
    for (let j = 0; j < cols; j++) out[off + j] = Math.exp(x[off + j] - lse);
  }
  return out;
}

// y = softmax(x): dx_j = y_j · (dy_j − Σ_i dy_i · y_i)
export function softmaxBackward(ys: Storage, dys: Storage, rows: number, cols: number): HostArray {
  const y = host(ys);
  const dy = host(dys);
  const dx = alloc(y, y.length);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += dy[off + j] * y[off + j];
    for (let j = 0; j < cols; j++) dx[off + j] = y[off + j] * (dy[off + j] - dot);
  }
  return dx;
}

export function logSoftmax(xs: Storage, rows: number, cols: number): HostArray {
  const x = host(xs);
  const out = alloc(x, x.length);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    const lse = logSumExp(x, off, cols);
    for (let j = 0; j < cols; j++) out[off + j] = x[off + j] - lse;
  }
  return out;
}

// y = log softmax(x): dx_j = dy_j − exp(y_j) · Σ_i dy_i
export function logSoftmaxBackward(ys: Storage, dys: Storage, rows: number, cols: number): HostArray {
  const y = host(ys);
  const dy = host(dys);
  const dx = alloc(y, y.length);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += dy[off + j];
    for (let j = 0; j < cols; j++) dx[off + j] = dy[off + j] - Math.exp(y[off + j]) * sum;
  }
  return dx;
}

// loss_r = logsumexp(x_r) − x_r[t_r]  (= −log softmax(x_r)[t_r])
export function crossEntropy(xs: Storage, targets: Int32Array, rows: number, cols: number, ignoreIndex: number): { loss: HostArray; lse: HostArray } {
  const x = host(xs);
  const loss = alloc(x, rows);
  const lse = alloc(x, rows);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    lse[r] = logSumExp(x, off, cols);
    loss[r] = targets[r] === ignoreIndex ? 0 : lse[r] - x[off + targets[r]];
  }
  return { loss, lse };
}

// dx_r = dloss_r · (softmax(x_r) − onehot(t_r)); softmax recomputed from the saved lse
export function crossEntropyBackward(xs: Storage, lses: Storage, targets: Int32Array, dlosss: Storage, rows: number, cols: number, ignoreIndex: number): HostArray {
  const x = host(xs);
  const lse = host(lses);
  const dloss = host(dlosss);
  const dx = alloc(x, x.length);
  for (let r = 0; r < rows; r++) {
    if (targets[r] === ignoreIndex) continue;
    const off = r * cols;
    const g = dloss[r];
    for (let j = 0; j < cols; j++) dx[off + j] = g * Math.exp(x[off + j] - lse[r]);
    dx[off + targets[r]] -= g;
  }
  return dx;
}
