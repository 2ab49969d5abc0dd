// Which binary ops the cpu backend's wasm kernels (elementwise_wasm.ts) take: add, sub and mul
// of float32 arrays where b has out's shape, is one row repeated down a (a bias [C] added to
// [rows, C]), or is a scalar, and a has out's shape. Every other case is the reference's.
import type { BinaryArgs } from '../../backend.ts';
import { sameShape } from '../../shape.ts';
import { BINARY_OPS, type FastBinaryOp } from './elementwise_wasm.ts';

/** How a fast binary op's b lines up with a: the whole array, one row of `cols` repeated, or one number. */
export type BinaryLayout = { op: FastBinaryOp; a: Float32Array; b: Float32Array; n: number } & ({ kind: 'same' } | { kind: 'rows'; cols: number } | { kind: 'scalar' });

export function binaryLayout({ op, a, aShape, b, bShape, outShape }: BinaryArgs): BinaryLayout | null {
  if (!(BINARY_OPS as readonly string[]).includes(op)) return null;
  if (!(a instanceof Float32Array && b instanceof Float32Array) || !sameShape(aShape, outShape) || b.length === 0) return null;
  const fast = { op: op as FastBinaryOp, a, b, n: a.length };
  if (sameShape(bShape, outShape)) return { ...fast, kind: 'same' };
  // b's shape (without leading 1s) must be a suffix of out's shape: b repeats every b.length
  const bs = bShape.slice();
  while (bs.length && bs[0] === 1) bs.shift();
  if (bs.length > outShape.length || !sameShape(bs, outShape.slice(outShape.length - bs.length))) return null;
  return b.length === 1 ? { ...fast, kind: 'scalar' } : { ...fast, kind: 'rows', cols: b.length };
}
