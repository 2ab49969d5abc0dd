// Fused softmax + cross-entropy, the loss of a language model:
//   loss = mean over rows r with target ≠ ignoreIndex of  −log softmax(logits_r)[target_r]
// One kernel computes every row's loss and logsumexp; the backward is one kernel too:
//   dlogits_r = dloss_r · (softmax(logits_r) − onehot(target_r))
// never forming the [rows, V] log-probabilities. Tests check it equals the composition
// −logSoftmax(logits)[target] averaged.
import { fmt } from '../shape.ts';
import { backendOf, fromOp, isGradEnabled, noGrad, tensor, Tensor, wrap } from '../tensor.ts';

export interface CrossEntropyOptions {
  /** Targets equal to this are skipped (PyTorch's ignore_index). Default −1. */
  ignoreIndex?: number;
}

/** Targets as int32, each checked against [0, V) unless ignored; and how many rows count. */
function checkTargets(op: string, targets: ArrayLike<number>, rows: number, V: number, ignoreIndex: number): { t: Int32Array; count: number } {
  const t = Int32Array.from(targets);
  let count = 0;
  for (let r = 0; r < rows; r++) {
    // check the caller's number, not only its int32 conversion (2³² − 1 wraps to −1); the
    // kernel compares the int32 one, so a skipped row must match in both
    if (targets[r] === ignoreIndex && t[r] === ignoreIndex) continue;
    if (!Number.isInteger(targets[r]) || targets[r] < 0 || targets[r] >= V) {
      throw new Error(`${op}: target ${targets[r]} at row ${r} is out of range [0, ${V}) (ignoreIndex ${ignoreIndex})`);
    }
    count++;
  }
  return { t, count };
}

/** Σ rowLoss / count, the mean over counted rows; every target ignored gives NaN (0/0), as PyTorch. */
function meanOver(rowLoss: Tensor, count: number): Tensor {
  return rowLoss.sum().div(count === 0 ? tensor([NaN], { shape: [], dtype: rowLoss.dtype, backend: rowLoss.backend }) : count);
}

/** logits [..., V], targets: one class id per row (length = logits.size / V). Returns a scalar. */
export function crossEntropy(logits: Tensor, targets: ArrayLike<number>, opts: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = opts.ignoreIndex ?? -1;
  const V = logits.shape[logits.ndim - 1];
  const rows = logits.size / V;
  if (targets.length !== rows) {
    throw new Error(`crossEntropy: logits ${fmt(logits.shape)} have ${rows} rows but there are ${targets.length} targets`);
  }
  const { t, count } = checkTargets('crossEntropy', targets, rows, V, ignoreIndex);
  const be = logits.backend;
  const args = { logits: logits.storage, targets: t, rows, cols: V, ignoreIndex };
  const { loss, lse } = be.crossEntropy(args);
  // per-row losses [rows] as an op of their own, then a plain mean over the counted rows
  const rowLoss = fromOp('crossEntropy', loss, [rows], logits, [logits], (g) => [
    wrap(be.crossEntropyBackward({ ...args, lse, dloss: g.storage }), logits.shape, logits),
  ]);
  return meanOver(rowLoss, count);
}

/**
 * crossEntropy(linear(x, weight), targets) in one op, the language-model head and its loss:
 * x [..., C], weight [V, C] (GPT-2's tied wte). The backend may compute it block by block
 * without ever allocating the [rows, V] logits, which at V = 50257 cost more to allocate
 * than to compute. When a gradient will be wanted, the backend makes the gradients of the
 * summed loss during the forward, while each block of logits is at hand (the loss is the last
 * op of the graph: nothing after it changes what its gradient will be, only its scale), so the
 * backward is two scalings and the logits are computed once, not twice. Tests check it equals
 * the two-op composition, forward and backward.
 */
export function linearCrossEntropy(x: Tensor, weight: Tensor, targets: ArrayLike<number>, opts: CrossEntropyOptions = {}): Tensor {
  const ignoreIndex = opts.ignoreIndex ?? -1;
  const C = x.shape[x.ndim - 1];
  if (weight.ndim !== 2 || weight.shape[1] !== C) throw new Error(`linearCrossEntropy: input ${fmt(x.shape)} needs a weight [V, ${C}], got ${fmt(weight.shape)}`);
  const V = weight.shape[0];
  const rows = x.size / C;
  if (targets.length !== rows) throw new Error(`linearCrossEntropy: input ${fmt(x.shape)} has ${rows} rows but there are ${targets.length} targets`);
  const { t, count } = checkTargets('linearCrossEntropy', targets, rows, V, ignoreIndex);
  const be = backendOf('linearCrossEntropy', x, weight);
  const withGrad = isGradEnabled() && (x.requiresGrad || weight.requiresGrad);
  const { loss, dx, dw } = be.linearCrossEntropy({ x: x.storage, w: weight.storage, targets: t, N: rows, C, V, ignoreIndex, withGrad });
  const mean = noGrad(() => meanOver(wrap(loss, [rows], x), count)); // []
  // d mean / d loss_r = 1/count for each counted row: dx and dw of Σ loss, times g/count
  return fromOp('linearCrossEntropy', mean.storage, [], x, [x, weight], (g) => {
    const scale = g.div(count); // []
    return [wrap(dx!, x.shape, x).mul(scale), wrap(dw!, weight.shape, x).mul(scale)];
  });
}
