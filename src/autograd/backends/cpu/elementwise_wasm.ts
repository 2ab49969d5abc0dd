// Elementwise kernels as generated WebAssembly SIMD: the binary ops add, sub and mul for the
// shapes a transformer uses, and the AdamW update. Each thread takes a range of elements.
// Promise: bit for bit the reference kernels' results. The binary ops compute in f32: for
// +, − and × of two f32 numbers, rounding the exact result once to f32 (SIMD f32) gives the
// same number as the reference's f64 arithmetic rounded to f32. AdamW computes in f64 with
// the reference's operations in the reference's order (reference/adamw.ts), rounding m, v and
// the parameter to f32 where it does.
import { F64, FuncBuilder, I32, ModuleBuilder, V128, f32x4, f64x2, forRange, get, i32, seq, set, v128, type Code } from './wasm_emit.ts';
import { rowLoop } from './rows_wasm.ts';

export const BINARY_OPS = ['add', 'sub', 'mul'] as const;
export type FastBinaryOp = (typeof BINARY_OPS)[number];
const APPLY: Record<FastBinaryOp, (a: Code, b: Code) => Code> = { add: f32x4.add, sub: f32x4.sub, mul: f32x4.mul };

export function emitElementwise(mb: ModuleBuilder): void {
  for (const op of BINARY_OPS) {
    const apply = APPLY[op];
    {
      // <op>_same(a, b, out, n): out[i] = a[i] op b[i]
      const f = new FuncBuilder();
      const a = f.param(I32), b = f.param(I32), out = f.param(I32), n = f.param(I32);
      f.body = rowLoop(f, n, (ld, st) => st(out, apply(ld(a), ld(b))));
      mb.func(`${op}_same`, f);
    }
    {
      // <op>_scalar(a, out, n, b): out[i] = a[i] op b[0], b a pointer to one f32
      const f = new FuncBuilder();
      const a = f.param(I32), out = f.param(I32), n = f.param(I32), b = f.param(I32);
      const s = f.local(V128);
      f.body = seq(set(s, v128.load32_splat(get(b))), rowLoop(f, n, (ld, st) => st(out, apply(ld(a), get(s)))));
      mb.func(`${op}_scalar`, f);
    }
    {
      // <op>_rows(a, out, r0, r1, cols, b): out[r, j] = a[r, j] op b[j], b one row (a bias)
      const f = new FuncBuilder();
      const a = f.param(I32), out = f.param(I32), r0 = f.param(I32), r1 = f.param(I32), cols = f.param(I32), b = f.param(I32);
      const r = f.local(I32), ar = f.local(I32), or = f.local(I32);
      const rowStart = (p: number): Code => i32.add(get(p), i32.shl(i32.mul(get(r), get(cols)), i32.const(2)));
      f.body = forRange(r, get(r0), get(r1), 1, seq(
        set(ar, rowStart(a)),
        set(or, rowStart(out)),
        rowLoop(f, cols, (ld, st) => st(or, apply(ld(ar), ld(b)))),
      ));
      mb.func(`${op}_rows`, f);
    }
  }
  emitAdamw(mb);
}

/**
 * adamw(p, g, m, v, n, beta1, c1, beta2, c2, decay, lr, bc1, bc2, eps), in place, two
 * elements at a time as f64x2 (and the last one alone):
 *   m ← f32(β1·m + c1·g),  v ← f32(β2·v + c2·g·g),  p ← f32(f32(p·decay) − lr·(m/bc1) / (√(v/bc2) + eps))
 */
function emitAdamw(mb: ModuleBuilder): void {
  const f = new FuncBuilder();
  const P = f.param(I32), G = f.param(I32), M = f.param(I32), V = f.param(I32), n = f.param(I32);
  const [beta1, c1, beta2, c2, decay, lr, bc1, bc2, eps] = Array.from({ length: 9 }, () => f.param(F64));
  const s = Object.fromEntries(['beta1', 'c1', 'beta2', 'c2', 'decay', 'lr', 'bc1', 'bc2', 'eps'].map((k) => [k, f.local(V128)]));
  const g = f.local(V128), m = f.local(V128), v = f.local(V128), p = f.local(V128);
  const j = f.local(I32), end = f.local(I32), off = f.local(I32);
  const at = (base: number): Code => i32.add(get(base), get(off));
  const f32round = (x: Code): Code => f64x2.promoteLow(f32x4.demoteF64x2Zero(x));
  const step = (load: (addr: Code) => Code, store: (addr: Code, x: Code) => Code): Code => seq(
    set(off, i32.shl(get(j), i32.const(2))),
    set(g, f64x2.promoteLow(load(at(G)))),
    set(m, f32round(f64x2.add(f64x2.mul(get(s.beta1), f64x2.promoteLow(load(at(M)))), f64x2.mul(get(s.c1), get(g))))),
    set(v, f32round(f64x2.add(f64x2.mul(get(s.beta2), f64x2.promoteLow(load(at(V)))), f64x2.mul(f64x2.mul(get(s.c2), get(g)), get(g))))),
    set(p, f32round(f64x2.mul(f64x2.promoteLow(load(at(P))), get(s.decay)))),
    store(at(M), f32x4.demoteF64x2Zero(get(m))),
    store(at(V), f32x4.demoteF64x2Zero(get(v))),
    store(at(P), f32x4.demoteF64x2Zero(f64x2.sub(get(p), f64x2.div(
      f64x2.mul(get(s.lr), f64x2.div(get(m), get(s.bc1))),
      f64x2.add(f64x2.sqrt(f64x2.div(get(v), get(s.bc2))), get(s.eps)),
    )))),
  );
  f.body = seq(
    ...([[beta1, 'beta1'], [c1, 'c1'], [beta2, 'beta2'], [c2, 'c2'], [decay, 'decay'], [lr, 'lr'], [bc1, 'bc1'], [bc2, 'bc2'], [eps, 'eps']] as const)
      .map(([param, k]) => set(s[k], f64x2.splat(get(param)))),
    set(end, i32.and(get(n), i32.const(~1))),
    forRange(j, i32.const(0), get(end), 2, step(v128.load64_zero, v128.store64_lane0)),
    forRange(j, get(end), get(n), 1, step(v128.load32_zero, v128.store32_lane0)),
  );
  mb.func('adamw', f);
}
