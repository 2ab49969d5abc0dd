// Reference embedding lookup (a gather of rows) and its backward (a scatter-add of rows).
import type { HostArray, Storage } from '../backend.ts';
import { alloc, host } from './util.ts';

export function embedding(ws: Storage, ids: Int32Array, _V: number, C: number): HostArray {
  const w = host(ws);
  const out = alloc(w, ids.length * C);
  for (let i = 0; i < ids.length; i++) out.set(w.subarray(ids[i] * C, ids[i] * C + C), i * C);
  return out;
}

export function embeddingBackward(dys: Storage, ids: Int32Array, V: number, C: number): HostArray {
  const dy = host(dys);
  const dw = alloc(dy, V * C);
  for (let i = 0; i < ids.length; i++) {
    for (let c = 0; c < C; c++) dw[ids[i] * C + c] += dy[i * C + c];
  }
  return dw;
}
