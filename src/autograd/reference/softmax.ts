// Reference row softmax, log-softmax and fused softmax-cross-entropy, forward and backward.
// All subtract the row max before exp, so large logits do not overflow.
import type { CrossEntropyArgs, CrossEntropyBackwardArgs, HostArray, RowsArgs, RowsBackwardArgs } from '../backend.ts';
import type { OnHost } from './host.ts';

/** log Σ exp(x[off … off+cols)), computed stably around the row max. */
function logSumExp(x: HostArray, off: number, cols: number): number {
  let max = -Infinity;
  for (let j = 0; j < cols; j++) max = Math.max(max, x[off + j]);
  if (max === -Infinity) return -Infinity; // a fully masked row
  let sum = 0;
  for (let j = 0; j < cols; j++) sum += Math.exp(x[off + j] - max);
  return max + Math.log(sum);
}

// y_j = exp(x_j − lse)
export function softmax(out: HostArray, { x, rows, cols }: OnHost<RowsArgs>): void {
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    const lse = logSumExp(x, off, cols);
    for (let j = 0; j < cols; j++) out[off + j] = Math.exp(x[off + j] - lse);
  }
}

// y = softmax(x): dx_j = y_j · (dy_j − Σ_i dy_i · y_i)
export function softmaxBackward(dx: HostArray, { y, dy, rows, cols }: OnHost<RowsBackwardArgs>): void {
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += dy[off + j] * y[off + j];
    for (let j = 0; j < cols; j++) dx[off + j] = y[off + j] * (dy[off + j] - dot);
  }
}

// y_j = x_j − lse
export function logSoftmax(out: HostArray, { x, rows, cols }: OnHost<RowsArgs>): void {
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    const lse = logSumExp(x, off, cols);
    for (let j = 0; j < cols; j++) out[off + j] = x[off + j] - lse;
  }
}

// y = log softmax(x): dx_j = dy_j − exp(y_j) · Σ_i dy_i
export function logSoftmaxBackward(dx: HostArray, { y, dy, rows, cols }: OnHost<RowsBackwardArgs>): void {
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += dy[off + j];
    for (let j = 0; j < cols; j++) dx[off + j] = dy[off + j] - Math.exp(y[off + j]) * sum;
  }
}

// loss_r = logsumexp(x_r) − x_r[t_r]  (= −log softmax(x_r)[t_r])
export function crossEntropy(out: { loss: HostArray; lse: HostArray }, { logits: x, targets, rows, cols, ignoreIndex }: OnHost<CrossEntropyArgs>): void {
  const { loss, lse } = out;
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    lse[r] = logSumExp(x, off, cols);
    loss[r] = targets[r] === ignoreIndex ? 0 : lse[r] - x[off + targets[r]];
  }
}

// dx_r = dloss_r · (softmax(x_r) − onehot(t_r)); softmax recomputed from the saved lse
export function crossEntropyBackward(dx: HostArray, { logits: x, lse, dloss, targets, rows, cols, ignoreIndex }: OnHost<CrossEntropyBackwardArgs>): void {
  for (let r = 0; r < rows; r++) {
    if (targets[r] === ignoreIndex) continue;
    const off = r * cols;
    const g = dloss[r];
    for (let j = 0; j < cols; j++) dx[off + j] = g * Math.exp(x[off + j] - lse[r]);
    dx[off + targets[r]] -= g;
  }
}
