// The cpu backend's binary ops for the shapes a transformer uses: equal shapes, and b
// broadcast over the leading axes of a (a bias [C] added to [rows, C], a scalar). Plain
// JavaScript: these ops are memory-bound, so copying into wasm memory would cost as much as
// the op. Promise: bit for bit the reference's result (test/cpu_backend.test.ts checks it on
// random broadcast shapes); null for every other case, which the reference kernel computes.
import type { BinaryArgs } from '../../backend.ts';

export function binaryFast({ op, a, aShape, b, bShape, outShape }: BinaryArgs, alloc: (n: number) => Float32Array): Float32Array | null {
  if (op !== 'add' && op !== 'mul' && op !== 'sub') return null;
  if (!(a instanceof Float32Array && b instanceof Float32Array) || !sameDims(aShape, outShape)) return null;
  const n = a.length;
  if (sameDims(bShape, outShape)) {
    const out = alloc(n);
    if (op === 'add') for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
    else if (op === 'mul') for (let i = 0; i < n; i++) out[i] = a[i] * b[i];
    else for (let i = 0; i < n; i++) out[i] = a[i] - b[i];
    return out;
  }
  // b's shape (without leading 1s) must be a suffix of out's shape: b repeats every b.length
  const bs = bShape.slice();
  while (bs.length && bs[0] === 1) bs.shift();
  if (bs.length > outShape.length || !sameDims(bs, outShape.slice(outShape.length - bs.length)) || b.length === 0) return null;
  const out = alloc(n);
  const inner = b.length;
  if (inner === 1) {
    // a scalar (the grad clip's scale, the lm head's g/count): one flat loop
    const s = b[0];
    if (op === 'add') for (let i = 0; i < n; i++) out[i] = a[i] + s;
    else if (op === 'mul') for (let i = 0; i < n; i++) out[i] = a[i] * s;
    else for (let i = 0; i < n; i++) out[i] = a[i] - s;
    return out;
  }
  for (let off = 0; off < n; off += inner) {
    if (op === 'add') for (let j = 0; j < inner; j++) out[off + j] = a[off + j] + b[j];
    else if (op === 'mul') for (let j = 0; j < inner; j++) out[off + j] = a[off + j] * b[j];
    else for (let j = 0; j < inner; j++) out[off + j] = a[off + j] - b[j];
  }
  return out;
}

function sameDims(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
