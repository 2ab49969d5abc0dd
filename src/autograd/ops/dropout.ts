// Dropout: zero each element with probability p and scale the survivors by 1/(1−p), so
// the expected value is unchanged (inverted dropout, as torch.nn.Dropout in train mode).
// The mask comes from the caller's seeded Rng, so a run is reproducible.
import type { Rng } from '../random.ts';
import { fromOp, tensor, Tensor } from '../tensor.ts';

export function dropout(x: Tensor, p: number, rng: Rng): Tensor {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  if (p === 0) return x;
  const keep = x.dtype === 'float64' ? new Float64Array(x.size) : new Float32Array(x.size); // 1/(1−p) in x's precision
  for (let i = 0; i < keep.length; i++) keep[i] = rng.uniform() >= p ? 1 / (1 - p) : 0;
  const mask = tensor(keep, { shape: x.shape, dtype: x.dtype, backend: x.backend });
  const kept = x.backend.binary({ op: 'mul', a: x.storage, aShape: x.shape, b: mask.storage, bShape: mask.shape, outShape: x.shape });
  return fromOp('dropout', kept, x.shape, x, [x], (g) => [g.mul(mask)]);
}
