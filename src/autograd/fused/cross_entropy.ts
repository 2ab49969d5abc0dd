// Fused softmax + cross-entropy, the loss of a language model:
//   loss = mean over rows r with target ≠ ignoreIndex of  −log softmax(logits_r)[target_r]
// One kernel computes every row's loss and logsumexp; the backward is one kernel too:
//   dlogits_r = dloss_r · (softmax(logits_r) − onehot(target_r))
// never forming the [rows, V] log-probabilities. Tests check it equals the composition
// −logSoftmax(logits)[target] averaged.
import { fmt } from '../shape.ts';
import { fromOp, tensor, Tensor, wrap } from '../tensor.ts';

export interface CrossEntropyOptions {
  /** Targets equal to this are skipped (PyTorch's ignore_index). Default −1. */
  ignoreIndex?: number;
}

/** logits [..., V], targets: one class id per row (length = logits.size / V). Returns a scalar. */
export function crossEntropy(logits: Tensor, targets: ArrayLike<number>, opts: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = opts.ignoreIndex ?? -1;
  const V = logits.shape[logits.ndim - 1];
  const rows = logits.size / V;
  if (targets.length !== rows) {
    throw new Error(`crossEntropy: logits ${fmt(logits.shape)} have ${rows} rows but there are ${targets.length} targets`);
  }
  const t = Int32Array.from(targets);
  let count = 0;
  for (let r = 0; r < rows; r++) {
    // check the caller's number, not only its int32 conversion (2³² − 1 wraps to −1); the
    // kernel compares the int32 one, so a skipped row must match in both
    if (targets[r] === ignoreIndex && t[r] === ignoreIndex) continue;
    if (!Number.isInteger(targets[r]) || targets[r] < 0 || targets[r] >= V) {
      throw new Error(`crossEntropy: target ${targets[r]} at row ${r} is out of range [0, ${V}) (ignoreIndex ${ignoreIndex})`);
    }
    count++;
  }
  const be = logits.backend;
  const { loss, lse } = be.crossEntropy(logits.storage, t, rows, V, ignoreIndex);
  // per-row losses [rows] as an op of their own, then a plain mean over the counted rows
  const rowLoss = fromOp('crossEntropy', loss, [rows], logits, [logits], (g) => [
    wrap(be.crossEntropyBackward(logits.storage, lse, t, g.storage, rows, V, ignoreIndex), logits.shape, logits),
  ]);
  // every target ignored: PyTorch returns NaN (0/0); so do we
  return rowLoss.sum().div(count === 0 ? tensor([NaN], { shape: [], dtype: logits.dtype, backend: be }) : count);
}
