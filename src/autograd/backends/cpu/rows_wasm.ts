// Row kernels as generated WebAssembly SIMD: softmax, log-softmax, cross-entropy and their
// backwards over rows of up to 50257 columns, plus GELU. Promise: f32 in/out, f64 row sums,
// exp accurate to ~2 ulp (a Cephes polynomial), rows split among threads by the caller.
//
// Each row kernel walks a row 4 floats at a time and finishes the last n mod 4 floats one at
// a time with the *same* vector code on a splatted float (lane 0 is kept), so there is one
// copy of every formula. Row-level helpers (max, Σexp, scale, …) are small wasm functions;
// the exported `*_rows(…, r0, r1, cols)` functions loop over a range of rows with them.
import {
  F32, F64, FuncBuilder, I32, ModuleBuilder, V128, call, f32, f32x4, f64, f64x2, forRange, get, i32, i32x4, if_,
  seq, set, v128, type Code, memoryFill, drop,
} from './wasm_emit.ts';

const LOG2E = 1.4426950408889634;
const EXP_LO = -87.33654; // ln(2⁻¹²⁶): below this exp(x) is not a normal f32, we return 0
const EXP_HI = 88.3762626647949; // above this exp(x) overflows f32
const splat = (x: number): Code => f32x4.splat(f32.const(x));

/**
 * Vector exp: returns a generator of the code for exp(x) of a v128 local, using 3 temps.
 * exp(x) = 2ⁿ · exp(r) with n = round(x·log₂e) and r = x − n·ln2 ∈ [−ln2/2, ln2/2];
 * exp(r) ≈ 1 + r + r²·P(r) (Cephes expf: degree-5 P, rel. error ≈ 1e-7). ln2 is split in
 * two (C1 + C2) so that n·C1 is exact and r keeps its precision.
 * Rounding trick: t = x·log₂e + 1.5·2²³ leaves round(x·log₂e) in t's low mantissa bits, so
 * n = t − 1.5·2²³ exactly, and (bits(t) << 23) + bits(1.0) is the float 2ⁿ — no float→int
 * conversion instructions (which are slow sequences on x64) are needed.
 */
export function vexp(f: FuncBuilder): (x: number) => Code {
  const xc = f.local(V128), t = f.local(V128), r = f.local(V128);
  const MAGIC = 12582912; // 1.5·2²³
  // P(r) by Horner's rule
  const poly = [1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1].reduce<Code>(
    (acc, coef) => f32x4.add(f32x4.mul(acc, get(r)), splat(coef)),
    splat(1.9875691500e-4),
  );
  return (x) => seq(
    // clamp into the range where 2ⁿ is a normal float (pmin/pmax: single instructions)
    set(xc, f32x4.pmin(f32x4.pmax(get(x), splat(EXP_LO)), splat(EXP_HI))),
    set(t, f32x4.add(f32x4.mul(get(xc), splat(LOG2E)), splat(MAGIC))),
    // r = x − n·C1 − n·C2 with n = t − MAGIC (held in r for a moment)
    set(r, f32x4.sub(get(t), splat(MAGIC))),
    set(r, f32x4.sub(f32x4.sub(get(xc), f32x4.mul(get(r), splat(0.693359375))), f32x4.mul(get(r), splat(-2.12194440e-4)))),
    // r ← 1 + r + r²·P(r)
    set(r, f32x4.add(f32x4.add(f32x4.mul(poly, f32x4.mul(get(r), get(r))), get(r)), splat(1))),
    // · 2ⁿ, then 0 where x < EXP_LO (so exp(−∞) = 0 exactly; a NaN x stays NaN)
    v128.andnot(
      f32x4.mul(get(r), i32x4.add(i32x4.shl(get(t), i32.const(23)), i32x4.splat(i32.const(0x3f800000)))),
      f32x4.lt(get(x), splat(EXP_LO)),
    ),
  );
}

/**
 * Emits a loop over n floats: `vec` is called with lanes = 4 for the main loop and lanes = 1
 * for the tail; it gets load/store helpers that read 4 floats (or one float splatted to 4
 * lanes) at byte offset j of a pointer, and store 4 floats (or lane 0).
 */
export function rowLoop(
  f: FuncBuilder, n: number,
  body: (load: (p: number) => Code, store: (p: number, v: Code) => Code, lanes: 4 | 1) => Code,
): Code {
  const j = f.local(I32), end = f.local(I32), off = f.local(I32);
  const at = (p: number): Code => i32.add(get(p), get(off));
  return seq(
    set(end, i32.and(get(n), i32.const(~3))),
    forRange(j, i32.const(0), get(end), 4, seq(
      set(off, i32.shl(get(j), i32.const(2))),
      body((p) => v128.load(at(p)), (p, v) => v128.store(at(p), v), 4),
    )),
    forRange(j, get(end), get(n), 1, seq(
      set(off, i32.shl(get(j), i32.const(2))),
      body((p) => v128.load32_splat(at(p)), (p, v) => f32.store(at(p), f32x4.extract(v, 0)), 1),
    )),
  );
}

/** Horizontal reductions of a v128 local. */
const hmax = (v: number): Code => f32.max(f32.max(f32x4.extract(get(v), 0), f32x4.extract(get(v), 1)), f32.max(f32x4.extract(get(v), 2), f32x4.extract(get(v), 3)));
const hsum64 = (v: number): Code => f64.add(f64x2.extract(get(v), 0), f64x2.extract(get(v), 1));
/** The high two f32 lanes of v widened to f64. */
const promoteHigh = (v: Code): Code => f64x2.promoteLow(v128.shuffle(v, v128.zero(), [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7]));

/** Indices of the row helpers other generated kernels (attention) call. */
export interface RowFns {
  rowMax: number;
  expStore: number;
  dotRow: number;
  scaleRow: number;
}

export function emitRows(mb: ModuleBuilder, log: number): RowFns {
  // ---- rowMax(p, n, scale) → max_j p[j]·scale
  const rowMax = (() => {
    const f = new FuncBuilder([F32]);
    const p = f.param(I32), n = f.param(I32), scale = f.param(F32);
    const m = f.local(V128), vs = f.local(V128);
    f.body = seq(
      set(m, splat(-Infinity)),
      set(vs, f32x4.splat(get(scale))),
      rowLoop(f, n, (ld) => set(m, f32x4.pmax(get(m), f32x4.mul(ld(p), get(vs))))),
      hmax(m),
    );
    return mb.func('rowMax', f, false);
  })();

  // ---- expStore(src, dst, n, scale, shift, mul, store) → Σ_j exp(src[j]·scale − shift) in f64;
  //      when store ≠ 0 also writes dst[j] = mul · exp(src[j]·scale − shift)
  const expStore = (() => {
    const f = new FuncBuilder([F64]);
    const src = f.param(I32), dst = f.param(I32), n = f.param(I32), scale = f.param(F32), shift = f.param(F32), mul = f.param(F32), store = f.param(I32);
    const vs = f.local(V128), vsh = f.local(V128), vm = f.local(V128), x = f.local(V128), e = f.local(V128);
    const s0 = f.local(V128), s1 = f.local(V128), tail = f.local(F64);
    const exp = vexp(f);
    const loopWith = (doStore: boolean): Code => rowLoop(f, n, (ld, st, lanes) => seq(
      set(x, f32x4.sub(f32x4.mul(ld(src), get(vs)), get(vsh))),
      set(e, exp(x)),
      lanes === 4
        ? seq(set(s0, f64x2.add(get(s0), f64x2.promoteLow(get(e)))), set(s1, f64x2.add(get(s1), promoteHigh(get(e)))))
        : set(tail, f64.add(get(tail), f64.promote_f32(f32x4.extract(get(e), 0)))),
      doStore ? st(dst, f32x4.mul(get(e), get(vm))) : [],
    ));
    f.body = seq(
      set(vs, f32x4.splat(get(scale))),
      set(vsh, f32x4.splat(get(shift))),
      set(vm, f32x4.splat(get(mul))),
      if_(get(store), loopWith(true), loopWith(false)),
      f64.add(f64.add(hsum64(s0), hsum64(s1)), get(tail)),
    );
    return mb.func('expStore', f, false);
  })();

  // ---- scaleRow(p, n, s): p[j] ·= s
  const scaleRow = (() => {
    const f = new FuncBuilder();
    const p = f.param(I32), n = f.param(I32), s = f.param(F32);
    const vs = f.local(V128);
    f.body = seq(set(vs, f32x4.splat(get(s))), rowLoop(f, n, (ld, st) => st(p, f32x4.mul(ld(p), get(vs)))));
    return mb.func('scaleRow', f, false);
  })();

  // ---- dotRow(a, b, n) → Σ a[j]·b[j] (f32 products, f64 sum); sumRow(a, n) → Σ a[j] (f64)
  const dotRow = (() => {
    const f = new FuncBuilder([F64]);
    const a = f.param(I32), b = f.param(I32), n = f.param(I32);
    const pr = f.local(V128), s0 = f.local(V128), s1 = f.local(V128), tail = f.local(F64);
    f.body = seq(
      rowLoop(f, n, (ld, _st, lanes) => seq(
        set(pr, f32x4.mul(ld(a), ld(b))),
        lanes === 4
          ? seq(set(s0, f64x2.add(get(s0), f64x2.promoteLow(get(pr)))), set(s1, f64x2.add(get(s1), promoteHigh(get(pr)))))
          : set(tail, f64.add(get(tail), f64.promote_f32(f32x4.extract(get(pr), 0)))),
      )),
      f64.add(f64.add(hsum64(s0), hsum64(s1)), get(tail)),
    );
    return mb.func('dotRow', f, false);
  })();
  const sumRow = (() => {
    const f = new FuncBuilder([F64]);
    const a = f.param(I32), n = f.param(I32);
    const x = f.local(V128), s0 = f.local(V128), s1 = f.local(V128), tail = f.local(F64);
    f.body = seq(
      rowLoop(f, n, (ld, _st, lanes) => seq(
        set(x, ld(a)),
        lanes === 4
          ? seq(set(s0, f64x2.add(get(s0), f64x2.promoteLow(get(x)))), set(s1, f64x2.add(get(s1), promoteHigh(get(x)))))
          : set(tail, f64.add(get(tail), f64.promote_f32(f32x4.extract(get(x), 0)))),
      )),
      f64.add(f64.add(hsum64(s0), hsum64(s1)), get(tail)),
    );
    return mb.func('sumRow', f, false);
  })();

  /** An exported function looping r over [r0, r1) with byte pointers to row r of each array. */
  function rowsKernel(name: string, arrays: number, extra: (f: FuncBuilder) => number[], perRow: (f: FuncBuilder, rowPtrs: number[], cols: number, r: number, extras: number[]) => Code): void {
    const f = new FuncBuilder();
    const bases = Array.from({ length: arrays }, () => f.param(I32));
    const r0 = f.param(I32), r1 = f.param(I32), cols = f.param(I32);
    const extras = extra(f);
    const r = f.local(I32);
    const ptrs = bases.map(() => f.local(I32));
    const inner = perRow(f, ptrs, cols, r, extras);
    f.body = forRange(r, get(r0), get(r1), 1, seq(
      ...ptrs.map((p, t) => set(p, i32.add(get(bases[t]), i32.shl(i32.mul(get(r), get(cols)), i32.const(2))))),
      inner,
    ));
    mb.func(name, f);
  }

  // softmax_rows(x, y, r0, r1, cols): y = exp(x − max) / Σ exp(x − max)
  rowsKernel('softmax_rows', 2, () => [], (f, [x, y], cols) => {
    const m = f.local(F32), s = f.local(F64);
    return seq(
      set(m, call(rowMax, get(x), get(cols), f32.const(1))),
      if_(f32.eq(get(m), f32.const(-Infinity)),
        // a fully masked row: the reference gives exp(−∞ − (−∞)) = NaN everywhere
        fillNaN(y, cols),
        seq(
          set(s, call(expStore, get(x), get(y), get(cols), f32.const(1), get(m), f32.const(1), i32.const(1))),
          call(scaleRow, get(y), get(cols), f32.demote_f64(f64.div(f64.const(1), get(s))))),
      ),
    );
  });

  // logsoftmax_rows(x, y, r0, r1, cols): y = (x − max) − log Σ exp(x − max)
  rowsKernel('logsoftmax_rows', 2, () => [], (f, [x, y], cols) => {
    const m = f.local(F32), ls = f.local(F32), vm = f.local(V128), vl = f.local(V128);
    return seq(
      set(m, call(rowMax, get(x), get(cols), f32.const(1))),
      set(ls, f32.demote_f64(call(log, call(expStore, get(x), get(x), get(cols), f32.const(1), get(m), f32.const(1), i32.const(0))))),
      set(vm, f32x4.splat(get(m))),
      set(vl, f32x4.splat(get(ls))),
      rowLoop(f, cols, (ld, st) => st(y, f32x4.sub(f32x4.sub(ld(x), get(vm)), get(vl)))),
    );
  });

  // lse_rows(x, lse, r0, r1, cols): lse[r] (f64) = max + log Σ exp(x − max); lse points at row 0
  {
    const f = new FuncBuilder();
    const x = f.param(I32), lse = f.param(I32), r0 = f.param(I32), r1 = f.param(I32), cols = f.param(I32);
    const r = f.local(I32), px = f.local(I32), m = f.local(F32);
    f.body = forRange(r, get(r0), get(r1), 1, seq(
      set(px, i32.add(get(x), i32.shl(i32.mul(get(r), get(cols)), i32.const(2)))),
      set(m, call(rowMax, get(px), get(cols), f32.const(1))),
      f64.store(i32.add(get(lse), i32.shl(get(r), i32.const(3))), f64.add(f64.promote_f32(get(m)),
        call(log, call(expStore, get(px), get(px), get(cols), f32.const(1), get(m), f32.const(1), i32.const(0))))),
    ));
    mb.func('lse_rows', f);
  }

  // ce_back_rows(x, dx, lse, g, r0, r1, cols): dx[r] = g[r] · exp(x[r] − lse[r]); lse, g are f32 [rows]
  {
    const f = new FuncBuilder();
    const x = f.param(I32), dx = f.param(I32), lse = f.param(I32), g = f.param(I32), r0 = f.param(I32), r1 = f.param(I32), cols = f.param(I32);
    const r = f.local(I32), off = f.local(I32);
    f.body = forRange(r, get(r0), get(r1), 1, seq(
      set(off, i32.shl(i32.mul(get(r), get(cols)), i32.const(2))),
      drop(call(expStore, i32.add(get(x), get(off)), i32.add(get(dx), get(off)), get(cols), f32.const(1),
        f32.load(i32.add(get(lse), i32.shl(get(r), i32.const(2)))), f32.load(i32.add(get(g), i32.shl(get(r), i32.const(2)))), i32.const(1))),
    ));
    mb.func('ce_back_rows', f);
  }

  // softmax_back_rows(y, dy, dx, r0, r1, cols): dx = y · (dy − Σ dy·y)
  rowsKernel('softmax_back_rows', 3, () => [], (f, [y, dy, dx], cols) => {
    const d = f.local(V128);
    return seq(
      set(d, f32x4.splat(f32.demote_f64(call(dotRow, get(y), get(dy), get(cols))))),
      rowLoop(f, cols, (ld, st) => st(dx, f32x4.mul(ld(y), f32x4.sub(ld(dy), get(d))))),
    );
  });

  // logsoftmax_back_rows(y, dy, dx, r0, r1, cols): dx = dy − exp(y) · Σ dy
  rowsKernel('logsoftmax_back_rows', 3, () => [], (f, [y, dy, dx], cols) => {
    const s = f.local(V128), x = f.local(V128);
    const exp = vexp(f);
    return seq(
      set(s, f32x4.splat(f32.demote_f64(call(sumRow, get(dy), get(cols))))),
      rowLoop(f, cols, (ld, st) => seq(set(x, ld(y)), st(dx, f32x4.sub(ld(dy), f32x4.mul(exp(x), get(s)))))),
    );
  });

  // ---- GELU (tanh approximation). With u = √(2/π)(x + 0.044715x³) and σ the logistic
  // function, 0.5·(1 + tanh u) = σ(2u), so gelu(x) = x·σ(2u) = x / (1 + exp(−2u)) and
  // gelu'(x) = σ + 2x·σ(1 − σ)·u'   with u' = √(2/π)(1 + 3·0.044715x²).
  const GELU_C = Math.sqrt(2 / Math.PI);
  const sigmoid2u = (f: FuncBuilder, x: number): { code: Code; s: number } => {
    const t = f.local(V128), s = f.local(V128);
    const exp = vexp(f);
    return {
      s,
      code: seq(
        // t = −2u = −2c·x·(1 + 0.044715x²)
        set(t, f32x4.mul(f32x4.mul(get(x), splat(-2 * GELU_C)), f32x4.add(splat(1), f32x4.mul(splat(0.044715), f32x4.mul(get(x), get(x)))))),
        set(s, f32x4.div(splat(1), f32x4.add(splat(1), exp(t)))),
      ),
    };
  };
  {
    // gelu(x, y, n)
    const f = new FuncBuilder();
    const x = f.param(I32), y = f.param(I32), n = f.param(I32);
    const xv = f.local(V128);
    const sg = sigmoid2u(f, xv);
    f.body = rowLoop(f, n, (ld, st) => seq(set(xv, ld(x)), sg.code, st(y, f32x4.mul(get(xv), get(sg.s)))));
    mb.func('gelu', f);
  }
  {
    // gelu_grad(x, y, n): y = gelu'(x)
    const f = new FuncBuilder();
    const x = f.param(I32), y = f.param(I32), n = f.param(I32);
    const xv = f.local(V128);
    const sg = sigmoid2u(f, xv);
    const s = sg.s;
    f.body = rowLoop(f, n, (ld, st) => seq(
      set(xv, ld(x)),
      sg.code,
      st(y, f32x4.add(get(s), f32x4.mul(
        f32x4.mul(f32x4.mul(splat(2), get(xv)), f32x4.mul(get(s), f32x4.sub(splat(1), get(s)))),
        f32x4.mul(splat(GELU_C), f32x4.add(splat(1), f32x4.mul(splat(3 * 0.044715), f32x4.mul(get(xv), get(xv))))),
      ))),
    ));
    mb.func('gelu_grad', f);
  }

  return { rowMax, expStore, dotRow, scaleRow };
}


/** Fills n floats at p with NaN (rare path: fully masked rows). */
function fillNaN(p: number, n: number): Code {
  return memoryFill(get(p), i32.const(0xff), i32.shl(get(n), i32.const(2))); // bits 0xffffffff are a NaN
}
