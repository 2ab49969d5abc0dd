// Fused LayerNorm over the last axis:  y = (x − mean)/√(var + eps) · weight + bias.
// One kernel forward (saving each row's mean and 1/std), one kernel backward giving dx,
// dweight and dbias together. Tests check it equals the composition of primitive ops.
import { fmt } from '../shape.ts';
import { backendOf, fromOp, Tensor, wrap } from '../tensor.ts';

/** x [..., C], weight [C], bias [C]. eps is 1e-5 in GPT-2 (the seed's 0.02 was a bug). */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-5): Tensor {
  const C = x.shape[x.ndim - 1];
  if (weight.size !== C || bias.size !== C) {
    throw new Error(`layerNorm: input ${fmt(x.shape)} needs weight and bias of [${C}], got ${fmt(weight.shape)} and ${fmt(bias.shape)}`);
  }
  const be = backendOf('layerNorm', x, weight, bias);
  const rows = x.size / C;
  const { y, mean, rstd } = be.layerNorm({ x: x.storage, weight: weight.storage, bias: bias.storage, rows, cols: C, eps });
  return fromOp('layerNorm', y, x.shape, x, [x, weight, bias], (g) => {
    const { dx, dweight, dbias } = be.layerNormBackward({ dy: g.storage, x: x.storage, weight: weight.storage, mean, rstd, rows, cols: C });
    return [wrap(dx, x.shape, x), wrap(dweight, weight.shape, x), wrap(dbias, bias.shape, x)];
  });
}
