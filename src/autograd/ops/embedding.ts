// Embedding lookup: row ids[i] of the table weight [V, C]. Backward scatter-adds each
// output row's gradient into the row it came from (a row used twice gets both).
import { fmt } from '../shape.ts';
import { fromOp, Tensor, wrap } from '../tensor.ts';

/** Token ids as an Int32Array, checked against the table size. */
export function checkIds(op: string, ids: ArrayLike<number>, V: number): Int32Array {
  const out = ids instanceof Int32Array ? ids : Int32Array.from(ids);
  for (let i = 0; i < out.length; i++) {
    // check the caller's number, not its int32 conversion (2³² + 1 would wrap to 1)
    if (!Number.isInteger(ids[i]) || ids[i] < 0 || ids[i] >= V) {
      throw new Error(`${op}: index ${ids[i]} at position ${i} is out of range [0, ${V})`);
    }
  }
  return out;
}

/** weight [V, C], ids of shape idsShape (default [ids.length]) → [...idsShape, C]. */
export function embedding(weight: Tensor, ids: ArrayLike<number>, idsShape: number[] = [ids.length]): Tensor {
  if (weight.ndim !== 2) throw new Error(`embedding: weight must be [V, C], got ${fmt(weight.shape)}`);
  const [V, C] = weight.shape;
  const idx = checkIds('embedding', ids, V);
  const be = weight.backend;
  return fromOp('embedding', be.embedding({ weight: weight.storage, ids: idx, V, C }), [...idsShape, C], weight, [weight], (g) => [
    wrap(be.embeddingBackward({ dy: g.storage, ids: idx, V, C }), [V, C], weight),
  ]);
}
