// LayerNorm forward and backward as generated WebAssembly, in scalar f64: the reference's
// arithmetic (reference/layernorm.ts) in the reference's order, so bit for bit its results,
// at wasm's speed rather than a JavaScript loop's. Threads take ranges of rows for y and dx;
// dweight and dbias, sums over all rows, are split by columns so that each column's sum still
// runs over the rows in order.
import { F64, FuncBuilder, I32, ModuleBuilder, f32, f64, forRange, get, i32, seq, set, type Code } from './wasm_emit.ts';

/** The f32 at p[j] (p a byte address, j an element index), as f64. */
const at = (p: number, j: number): Code => f64.promote_f32(f32.load(i32.add(get(p), i32.shl(get(j), i32.const(2)))));

export function emitLayerNorm(mb: ModuleBuilder): void {
  {
    // ln_rows(x, y, mean, rstd, r0, r1, cols, w, b, eps): rows [r0, r1) of
    //   y = (x − m)·s·w + b,  m = Σx/cols,  s = 1/√(Σ(x − m)²/cols + eps);  mean[r] = m, rstd[r] = s
    const f = new FuncBuilder();
    const x = f.param(I32), y = f.param(I32), mean = f.param(I32), rstd = f.param(I32);
    const r0 = f.param(I32), r1 = f.param(I32), cols = f.param(I32), w = f.param(I32), b = f.param(I32), eps = f.param(F64);
    const r = f.local(I32), j = f.local(I32), xr = f.local(I32), yr = f.local(I32);
    const m = f.local(F64), v = f.local(F64), d = f.local(F64), s = f.local(F64), n = f.local(F64);
    f.body = seq(
      set(n, f64.convert_i32_s(get(cols))),
      forRange(r, get(r0), get(r1), 1, seq(
        set(xr, i32.add(get(x), i32.shl(i32.mul(get(r), get(cols)), i32.const(2)))),
        set(yr, i32.add(get(y), i32.shl(i32.mul(get(r), get(cols)), i32.const(2)))),
        set(m, f64.const(0)),
        forRange(j, i32.const(0), get(cols), 1, set(m, f64.add(get(m), at(xr, j)))),
        set(m, f64.div(get(m), get(n))),
        set(v, f64.const(0)),
        forRange(j, i32.const(0), get(cols), 1, seq(set(d, f64.sub(at(xr, j), get(m))), set(v, f64.add(get(v), f64.mul(get(d), get(d)))))),
        set(v, f64.div(get(v), get(n))),
        set(s, f64.div(f64.const(1), f64.sqrt(f64.add(get(v), get(eps))))),
        forRange(j, i32.const(0), get(cols), 1, f32.store(
          i32.add(get(yr), i32.shl(get(j), i32.const(2))),
          f32.demote_f64(f64.add(f64.mul(f64.mul(f64.sub(at(xr, j), get(m)), get(s)), at(w, j)), at(b, j))),
        )),
        f32.store(i32.add(get(mean), i32.shl(get(r), i32.const(2))), f32.demote_f64(get(m))),
        f32.store(i32.add(get(rstd), i32.shl(get(r), i32.const(2))), f32.demote_f64(get(s))),
      )),
    );
    mb.func('ln_rows', f);
  }
  {
    // ln_back_rows(dy, x, dx, r0, r1, cols, w, mean, rstd): rows [r0, r1) of
    //   dx = s·(dy·w − mean(dy·w) − xhat·mean(dy·w·xhat)),  xhat = (x − m)·s
    const f = new FuncBuilder();
    const dy = f.param(I32), x = f.param(I32), dx = f.param(I32);
    const r0 = f.param(I32), r1 = f.param(I32), cols = f.param(I32), w = f.param(I32), mean = f.param(I32), rstd = f.param(I32);
    const r = f.local(I32), j = f.local(I32), dyr = f.local(I32), xr = f.local(I32), dxr = f.local(I32);
    const m = f.local(F64), s = f.local(F64), xhat = f.local(F64), g = f.local(F64), gMean = f.local(F64), gxMean = f.local(F64), n = f.local(F64);
    const rowPtr = (p: number): Code => i32.add(get(p), i32.shl(i32.mul(get(r), get(cols)), i32.const(2)));
    const setXhat = set(xhat, f64.mul(f64.sub(at(xr, j), get(m)), get(s)));
    f.body = seq(
      set(n, f64.convert_i32_s(get(cols))),
      forRange(r, get(r0), get(r1), 1, seq(
        set(dyr, rowPtr(dy)), set(xr, rowPtr(x)), set(dxr, rowPtr(dx)),
        set(m, at(mean, r)), set(s, at(rstd, r)),
        set(gMean, f64.const(0)), set(gxMean, f64.const(0)),
        forRange(j, i32.const(0), get(cols), 1, seq(
          setXhat,
          set(g, f64.mul(at(dyr, j), at(w, j))),
          set(gMean, f64.add(get(gMean), get(g))),
          set(gxMean, f64.add(get(gxMean), f64.mul(get(g), get(xhat)))),
        )),
        set(gMean, f64.div(get(gMean), get(n))),
        set(gxMean, f64.div(get(gxMean), get(n))),
        forRange(j, i32.const(0), get(cols), 1, seq(
          setXhat,
          f32.store(i32.add(get(dxr), i32.shl(get(j), i32.const(2))), f32.demote_f64(f64.mul(get(s),
            f64.sub(f64.sub(f64.mul(at(dyr, j), at(w, j)), get(gMean)), f64.mul(get(xhat), get(gxMean)))))),
        )),
      )),
    );
    mb.func('ln_back_rows', f);
  }
  {
    // ln_back_cols(dy, x, dw, db, c0, c1, rows, cols, mean, rstd): for columns [c0, c1), over
    //   the rows in order:  dw[j] += dy·xhat,  db[j] += dy  (dw, db f64 arrays, zeroed by the caller)
    const f = new FuncBuilder();
    const dy = f.param(I32), x = f.param(I32), dw = f.param(I32), db = f.param(I32);
    const c0 = f.param(I32), c1 = f.param(I32), rows = f.param(I32), cols = f.param(I32), mean = f.param(I32), rstd = f.param(I32);
    const r = f.local(I32), j = f.local(I32), dyr = f.local(I32), xr = f.local(I32), a = f.local(I32);
    const m = f.local(F64), s = f.local(F64);
    const rowPtr = (p: number): Code => i32.add(get(p), i32.shl(i32.mul(get(r), get(cols)), i32.const(2)));
    const f64At = (p: number): Code => i32.add(get(p), i32.shl(get(j), i32.const(3)));
    f.body = forRange(r, i32.const(0), get(rows), 1, seq(
      set(dyr, rowPtr(dy)), set(xr, rowPtr(x)),
      set(m, at(mean, r)), set(s, at(rstd, r)),
      forRange(j, get(c0), get(c1), 1, seq(
        set(a, f64At(dw)),
        f64.store(get(a), f64.add(f64.load(get(a)), f64.mul(at(dyr, j), f64.mul(f64.sub(at(xr, j), get(m)), get(s))))),
        set(a, f64At(db)),
        f64.store(get(a), f64.add(f64.load(get(a)), at(dyr, j))),
      )),
    ));
    mb.func('ln_back_cols', f);
  }
}
