// Reference embedding lookup (a gather of rows) and its backward (a scatter-add of rows).
import type { EmbeddingArgs, EmbeddingBackwardArgs, HostArray } from '../backend.ts';
import type { OnHost } from './host.ts';

/** out [ids.length, C]: row ids[i] of weight [V, C]. */
export function embedding(out: HostArray, { weight, ids, C }: OnHost<EmbeddingArgs>): void {
  for (let i = 0; i < ids.length; i++) {
    for (let c = 0; c < C; c++) out[i * C + c] = weight[ids[i] * C + c];
  }
}

/** dweight [V, C] (zero-filled) += row i of dy at row ids[i], for every i. */
export function embeddingBackward(dweight: HostArray, { dy, ids, C }: OnHost<EmbeddingBackwardArgs>): void {
  for (let i = 0; i < ids.length; i++) {
    for (let c = 0; c < C; c++) dweight[ids[i] * C + c] += dy[i * C + c];
  }
}
