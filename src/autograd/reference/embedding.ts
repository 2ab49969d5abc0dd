// Reference embedding lookup (a gather of rows) and its backward (a scatter-add of rows).
import type { EmbeddingArgs, EmbeddingBackwardArgs, HostArray } from '../backend.ts';
import type { OnHost } from './host.ts';

/** out [ids.length, C]: row ids[i] of weight [V, C]. */
export function embedding(out: HostArray, { weight, ids, C }: OnHost<EmbeddingArgs>): void {
  for (let i = 0; i < ids.length; i++) out.set(weight.subarray(ids[i] * C, ids[i] * C + C), i * C);
}

/** dweight [V, C] (zero-filled) += row i of dy at row ids[i], for every i. */
export function embeddingBackward(dweight: HostArray, { dy, ids, C }: OnHost<EmbeddingBackwardArgs>): void {
  for (let i = 0; i < ids.length; i++) {
    for (let c = 0; c < C; c++) dweight[ids[i] * C + c] += dy[i * C + c];
  }
}
