// Reductions over one axis as generated WebAssembly, in scalar f64: x viewed as
// [outer, n, inner], out [outer, inner] = the sum (or max) over n, each output's terms taken
// in the reference's order (j = 0…n−1) in f64 and rounded to f32 once, so bit for bit the
// reference (reference/reduce.ts). Threads take ranges of outputs: of `outer` when inner is 1
// (each output a contiguous run), of `inner` otherwise (a bias gradient's columns).
import { F64, FuncBuilder, I32, ModuleBuilder, f32, f64, forRange, get, i32, seq, set, type Code } from './wasm_emit.ts';

export const REDUCE_OPS = ['sum', 'max'] as const;

export function emitReduce(mb: ModuleBuilder): void {
  for (const op of REDUCE_OPS) {
    const init = f64.const(op === 'sum' ? 0 : -Infinity);
    const combine = (acc: Code, v: Code): Code => (op === 'sum' ? f64.add(acc, v) : f64.max(acc, v));
    const load = (p: Code): Code => f64.promote_f32(f32.load(p));
    {
      // <op>_runs(x, out, o0, o1, n): out[o] = ⊕_j x[o·n + j] for o in [o0, o1)
      const f = new FuncBuilder();
      const x = f.param(I32), out = f.param(I32), o0 = f.param(I32), o1 = f.param(I32), n = f.param(I32);
      const o = f.local(I32), p = f.local(I32), end = f.local(I32), acc = f.local(F64);
      f.body = forRange(o, get(o0), get(o1), 1, seq(
        set(acc, init),
        set(end, i32.add(get(x), i32.shl(i32.mul(i32.add(get(o), i32.const(1)), get(n)), i32.const(2)))),
        forRange(p, i32.add(get(x), i32.shl(i32.mul(get(o), get(n)), i32.const(2))), get(end), 4, set(acc, combine(get(acc), load(get(p))))),
        f32.store(i32.add(get(out), i32.shl(get(o), i32.const(2))), f32.demote_f64(get(acc))),
      ));
      mb.func(`${op}_runs`, f);
    }
    {
      // <op>_cols(x, out, acc, i0, i1, outer, n, inner): out[o, i] = ⊕_j x[o, j, i] for i in [i0, i1),
      //   row by row through x with one f64 running value per column in acc [inner]
      const f = new FuncBuilder();
      const x = f.param(I32), out = f.param(I32), acc = f.param(I32), i0 = f.param(I32), i1 = f.param(I32);
      const outer = f.param(I32), n = f.param(I32), inner = f.param(I32);
      const o = f.local(I32), j = f.local(I32), i = f.local(I32), row = f.local(I32), a = f.local(I32);
      const accAt = (): Code => i32.add(get(acc), i32.shl(get(i), i32.const(3)));
      f.body = forRange(o, i32.const(0), get(outer), 1, seq(
        forRange(i, get(i0), get(i1), 1, f64.store(accAt(), init)),
        forRange(j, i32.const(0), get(n), 1, seq(
          set(row, i32.add(get(x), i32.shl(i32.mul(i32.add(i32.mul(get(o), get(n)), get(j)), get(inner)), i32.const(2)))),
          forRange(i, get(i0), get(i1), 1, seq(
            set(a, accAt()),
            f64.store(get(a), combine(f64.load(get(a)), load(i32.add(get(row), i32.shl(get(i), i32.const(2)))))),
          )),
        )),
        forRange(i, get(i0), get(i1), 1, f32.store(
          i32.add(get(out), i32.shl(i32.add(i32.mul(get(o), get(inner)), get(i)), i32.const(2))),
          f32.demote_f64(f64.load(accAt())),
        )),
      ));
      mb.func(`${op}_cols`, f);
    }
  }
}
