// Causal attention as generated WebAssembly, built from the blocked GEMM and the row helpers.
// Promise: the same outputs as reference/attention.ts (out, and lse = each query row's
// logsumexp), computed one (batch·head) problem at a time; threads split the heads.
//
// Queries are taken in blocks of QB rows. A block [i0, i0+bs) sees keys 0 … kmax−1 with
// kmax = i0 + bs + (Tk − Tq), so the products only cover the causal part (about half of
// the full [Tq, Tk] square), and the scores of one block live in a [QB, Tk] scratch S:
//   forward:  S = Q_blk·K[:kmax]ᵀ;  P = softmax(scale·S) per row over its visible keys (the
//             rest zeroed);  O_blk = P·V[:kmax]
//   backward: P = exp(scale·S − lse) recomputed;  dV[:kmax] += Pᵀ·dO_blk;
//             dP = dO_blk·V[:kmax]ᵀ;  dS = scale·P⊙(dP − rowdot), rowdot_i = dO_i·O_i;
//             dQ_blk = dS·K[:kmax];  dK[:kmax] += dSᵀ·Q_blk
import { F32, F64, FuncBuilder, I32, ModuleBuilder, V128, call, drop, f32, f32x4, f64, forRange, get, i32, if_, memoryFill, seq, set, type Code } from './wasm_emit.ts';
import { rowLoop, type RowFns } from './rows_wasm.ts';

export function emitAttention(mb: ModuleBuilder, gemm: number, rows: RowFns, log: number, QB: number): void {
  // dsRow(P, dP, n, rowdot, scale): dP[j] = scale · P[j] · (dP[j] − rowdot)
  const dsRow = (() => {
    const f = new FuncBuilder();
    const P = f.param(I32), dP = f.param(I32), n = f.param(I32), rowdot = f.param(F32), scale = f.param(F32);
    const vd = f.local(V128), vs = f.local(V128);
    f.body = seq(
      set(vd, f32x4.splat(get(rowdot))),
      set(vs, f32x4.splat(get(scale))),
      rowLoop(f, n, (ld, st) => st(dP, f32x4.mul(f32x4.mul(ld(P), get(vs)), f32x4.sub(ld(dP), get(vd))))),
    );
    return mb.func('dsRow', f, false);
  })();

  const minTo = (dst: number, a: Code, cap: Code): Code => seq(set(dst, a), if_(i32.gt_s(get(dst), cap), set(dst, cap)));
  const bytes = (x: Code): Code => i32.shl(x, i32.const(2));

  // ---- attn_fwd(h0, h1, q, k, v, out, lse, Tq, Tk, D, scale, S, packA, packB, tile)
  {
    const f = new FuncBuilder();
    const h0 = f.param(I32), h1 = f.param(I32), q = f.param(I32), k = f.param(I32), v = f.param(I32), out = f.param(I32), lse = f.param(I32);
    const Tq = f.param(I32), Tk = f.param(I32), D = f.param(I32), scale = f.param(F32), S = f.param(I32);
    const pA = f.param(I32), pB = f.param(I32), tile = f.param(I32);
    const h = f.local(I32), qh = f.local(I32), kh = f.local(I32), vh = f.local(I32), oh = f.local(I32), lh = f.local(I32);
    const i0 = f.local(I32), bs = f.local(I32), kmax = f.local(I32), i = f.local(I32), row = f.local(I32), len = f.local(I32);
    const m = f.local(F32), s = f.local(F64);
    f.body = forRange(h, get(h0), get(h1), 1, seq(
      set(qh, i32.add(get(q), bytes(i32.mul(get(h), i32.mul(get(Tq), get(D)))))), // q[h]  [Tq, D]
      set(kh, i32.add(get(k), bytes(i32.mul(get(h), i32.mul(get(Tk), get(D)))))), // k[h]  [Tk, D]
      set(vh, i32.add(get(v), bytes(i32.mul(get(h), i32.mul(get(Tk), get(D)))))), // v[h]  [Tk, D]
      set(oh, i32.add(get(out), bytes(i32.mul(get(h), i32.mul(get(Tq), get(D)))))), // out[h] [Tq, D]
      set(lh, i32.add(get(lse), bytes(i32.mul(get(h), get(Tq))))), // lse[h] [Tq]
      forRange(i0, i32.const(0), get(Tq), QB, seq(
        minTo(bs, i32.sub(get(Tq), get(i0)), i32.const(QB)),
        set(kmax, i32.add(i32.add(get(i0), get(bs)), i32.sub(get(Tk), get(Tq)))),
        // S[bs, kmax] = Q_blk · K[:kmax]ᵀ   (K read with swapped strides: no transpose copy)
        call(gemm, i32.add(get(qh), bytes(i32.mul(get(i0), get(D)))), get(kh), get(S), get(bs), get(kmax), get(D),
          get(D), i32.const(1), i32.const(1), get(D), get(Tk), get(pA), get(pB), get(tile), i32.const(0)),
        forRange(i, i32.const(0), get(bs), 1, seq(
          set(row, i32.add(get(S), bytes(i32.mul(get(i), get(Tk))))),
          set(len, i32.add(i32.add(get(i0), get(i)), i32.add(i32.sub(get(Tk), get(Tq)), i32.const(1)))), // keys visible
          set(m, call(rows.rowMax, get(row), get(len), get(scale))),
          set(s, call(rows.expStore, get(row), get(row), get(len), get(scale), get(m), f32.const(1), i32.const(1))),
          f32.store(i32.add(get(lh), bytes(i32.add(get(i0), get(i)))), f32.demote_f64(f64.add(f64.promote_f32(get(m)), call(log, get(s))))),
          call(rows.scaleRow, get(row), get(len), f32.demote_f64(f64.div(f64.const(1), get(s)))),
          memoryFill(i32.add(get(row), bytes(get(len))), i32.const(0), bytes(i32.sub(get(kmax), get(len)))),
        )),
        // O_blk = P[bs, kmax] · V[:kmax]
        call(gemm, get(S), get(vh), i32.add(get(oh), bytes(i32.mul(get(i0), get(D)))), get(bs), get(D), get(kmax),
          get(Tk), i32.const(1), get(D), i32.const(1), get(D), get(pA), get(pB), get(tile), i32.const(0)),
      )),
    ));
    mb.func('attn_fwd', f);
  }

  // ---- attn_bwd(h0, h1, dout, q, k, v, out, lse, dq, dk, dv, Tq, Tk, D, scale, S, dP, packA, packB, tile)
  {
    const f = new FuncBuilder();
    const h0 = f.param(I32), h1 = f.param(I32), dout = f.param(I32), q = f.param(I32), k = f.param(I32), v = f.param(I32), out = f.param(I32), lse = f.param(I32);
    const dq = f.param(I32), dk = f.param(I32), dv = f.param(I32);
    const Tq = f.param(I32), Tk = f.param(I32), D = f.param(I32), scale = f.param(F32), S = f.param(I32), dP = f.param(I32);
    const pA = f.param(I32), pB = f.param(I32), tile = f.param(I32);
    const h = f.local(I32), qo = f.local(I32), ko = f.local(I32), lh = f.local(I32);
    const i0 = f.local(I32), bs = f.local(I32), kmax = f.local(I32), i = f.local(I32), row = f.local(I32), len = f.local(I32);
    const qb = f.local(I32), dob = f.local(I32), rowdot = f.local(F32);
    const Q = (base: number): Code => i32.add(get(base), get(qo)); // this head's [Tq, D] block of a q-shaped array
    const K = (base: number): Code => i32.add(get(base), get(ko)); // this head's [Tk, D] block of a k-shaped array
    // g(A, B, C, m, n, k, rsA, csA, rsB, csB, ldc, accumulate): one gemm call with this thread's scratch
    const g = (...a: Code[]): Code => call(gemm, ...a.slice(0, 11), get(pA), get(pB), get(tile), a[11]);
    f.body = forRange(h, get(h0), get(h1), 1, seq(
      set(qo, bytes(i32.mul(get(h), i32.mul(get(Tq), get(D))))),
      set(ko, bytes(i32.mul(get(h), i32.mul(get(Tk), get(D))))),
      set(lh, i32.add(get(lse), bytes(i32.mul(get(h), get(Tq))))),
      memoryFill(K(dk), i32.const(0), bytes(i32.mul(get(Tk), get(D)))),
      memoryFill(K(dv), i32.const(0), bytes(i32.mul(get(Tk), get(D)))),
      forRange(i0, i32.const(0), get(Tq), QB, seq(
        minTo(bs, i32.sub(get(Tq), get(i0)), i32.const(QB)),
        set(kmax, i32.add(i32.add(get(i0), get(bs)), i32.sub(get(Tk), get(Tq)))),
        set(qb, i32.add(Q(q), bytes(i32.mul(get(i0), get(D))))), // Q_blk  [bs, D]
        set(dob, i32.add(Q(dout), bytes(i32.mul(get(i0), get(D))))), // dO_blk [bs, D]
        // S = Q_blk · K[:kmax]ᵀ, then P = exp(scale·S − lse) on the visible keys, 0 after
        g(get(qb), K(k), get(S), get(bs), get(kmax), get(D), get(D), i32.const(1), i32.const(1), get(D), get(Tk), i32.const(0)),
        forRange(i, i32.const(0), get(bs), 1, seq(
          set(row, i32.add(get(S), bytes(i32.mul(get(i), get(Tk))))),
          set(len, i32.add(i32.add(get(i0), get(i)), i32.add(i32.sub(get(Tk), get(Tq)), i32.const(1)))),
          drop(call(rows.expStore, get(row), get(row), get(len), get(scale), f32.load(i32.add(get(lh), bytes(i32.add(get(i0), get(i))))), f32.const(1), i32.const(1))),
          memoryFill(i32.add(get(row), bytes(get(len))), i32.const(0), bytes(i32.sub(get(kmax), get(len)))),
        )),
        // dV[:kmax] += Pᵀ · dO_blk   (P read transposed: row stride 1, column stride Tk)
        g(get(S), get(dob), K(dv), get(kmax), get(D), get(bs), i32.const(1), get(Tk), get(D), i32.const(1), get(D), i32.const(1)),
        // dP = dO_blk · V[:kmax]ᵀ
        g(get(dob), K(v), get(dP), get(bs), get(kmax), get(D), get(D), i32.const(1), i32.const(1), get(D), get(Tk), i32.const(0)),
        // dS = scale · P ⊙ (dP − dO_i·O_i), written over dP
        forRange(i, i32.const(0), get(bs), 1, seq(
          set(row, bytes(i32.mul(get(i), get(Tk)))),
          set(rowdot, f32.demote_f64(call(rows.dotRow,
            i32.add(get(dob), bytes(i32.mul(get(i), get(D)))),
            i32.add(Q(out), bytes(i32.mul(i32.add(get(i0), get(i)), get(D)))), get(D)))),
          call(dsRow, i32.add(get(S), get(row)), i32.add(get(dP), get(row)), get(kmax), get(rowdot), get(scale)),
        )),
        // dQ_blk = dS · K[:kmax]
        g(get(dP), K(k), i32.add(Q(dq), bytes(i32.mul(get(i0), get(D)))), get(bs), get(D), get(kmax), get(Tk), i32.const(1), get(D), i32.const(1), get(D), i32.const(0)),
        // dK[:kmax] += dSᵀ · Q_blk
        g(get(dP), get(qb), K(dk), get(kmax), get(D), get(bs), i32.const(1), get(Tk), get(D), i32.const(1), get(D), i32.const(1)),
      )),
    ));
    mb.func('attn_bwd', f);
  }
}

