// Reference reduction: sum or max over one axis. A shape [outer, n, inner] view makes
// every axis the middle one, so one loop serves all axes.
import type { HostArray, ReduceOp, Storage } from '../backend.ts';
import { numel } from '../shape.ts';
import { alloc, host } from './util.ts';

export function reduce(op: ReduceOp, xs: Storage, shape: number[], axis: number): HostArray {
  const x = host(xs);
  const outer = numel(shape.slice(0, axis));
  const n = shape[axis];
  const inner = numel(shape.slice(axis + 1));
  const out = alloc(x, outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let acc = op === 'sum' ? 0 : -Infinity;
      for (let j = 0; j < n; j++) {
        const v = x[(o * n + j) * inner + i];
        acc = op === 'sum' ? acc + v : Math.max(acc, v);
      }
      out[o * inner + i] = acc;
    }
  }
  return out;
}
