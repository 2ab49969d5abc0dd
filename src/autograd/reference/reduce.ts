// Reference reduction: sum or max over one axis. A shape [outer, n, inner] view makes
// every axis the middle one, so one loop serves all axes.
import type { HostArray, ReduceArgs } from '../backend.ts';
import { numel } from '../shape.ts';
import type { OnHost } from './host.ts';

/** out = op over axis of x [shape]: shape without that axis. */
export function reduce(out: HostArray, { op, x, shape, axis }: OnHost<ReduceArgs>): void {
  const outer = numel(shape.slice(0, axis));
  const n = shape[axis];
  const inner = numel(shape.slice(axis + 1));
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
}
