// The matrix product as generated WebAssembly: a GotoBLAS-style blocked GEMM with packed
// panels and an MR×8 register-tiled SIMD micro-kernel. One call is single-threaded; index.ts
// cuts C into chunks that the threads take. Promise: C (+)= op(A)·op(B) for any strides.
//
// The scheme (Goto & van de Geijn, "Anatomy of high-performance matrix multiplication"):
//
//   for jc in n step NC:                    a block of NC columns of C
//     for pc in k step KC:                  a slice of KC terms of the sum
//       pack op(B)[pc:pc+kc, jc:jc+nc]  →  packB, as panels of 8 columns: [nc/8][kc][8]
//       for ic in m step MC:
//         pack op(A)[ic:ic+mc, pc:pc+kc] → packA, as panels of MR rows:  [mc/MR][kc][MR]
//         for each 8-column panel of packB (stays in L1 while...)
//           for each MR-row panel of packA (...these stream from L2):
//             micro-kernel: C[MR, 8] (+)= panelA[kc, MR]ᵀ · panelB[kc, 8]
//
// Packing reads op(A) and op(B) through (row stride, column stride) pairs, so a transposed
// operand is just swapped strides: the backward products dC·Bᵀ and Aᵀ·dC need no copies.
// Packing also zero-pads partial panels, so the micro-kernel always runs a full MR×8 tile;
// edge tiles are written through a small `tile` scratch and only the valid part is stored.
//
// The micro-kernel keeps the MR×8 tile of C in 2·MR SIMD registers (each holds 4 floats).
// Per step l it loads 8 floats of B (2 registers), and for each of the MR rows broadcasts
// one float of A and does two multiply-adds. On x64 V8 gives wasm ~15 vector registers:
// MR = 6 uses 12 accumulators + 2 B + 1 A = 15 with fused multiply-add (relaxed SIMD);
// without FMA a product needs a temporary register, so MR = 5 (10 + 2 + 1 + 1 = 14).
// (relaxed_madd may or may not round between the multiply and the add, engine's choice; both
// are within the tests' tolerance.) Measured here: ≈ 40 GFLOP/s per core either way.
import {
  F32, FuncBuilder, I32, ModuleBuilder, V128, block, brIf, call, f32, f32x4, forRange, get, i32, if_, loop,
  memoryFill, seq, set, v128, type Code, br,
} from './wasm_emit.ts';

export interface GemmConfig {
  /** Rows of the register tile (6 with FMA, 5 without). */
  MR: number;
  /** Columns of the register tile: always 8 (two f32x4 vectors). */
  NR: 8;
  /** Terms of the dot product per packed slice (packB panel = KC·8·4 bytes, in L1). */
  KC: number;
  /** Rows of A per packed block (packA = MC·KC·4 bytes, in L2). */
  MC: number;
  /** Columns of B per packed block (packB = KC·NC·4 bytes). */
  NC: number;
  /** Use relaxed-SIMD f32x4.relaxed_madd (one fused instruction) instead of mul + add. */
  fma: boolean;
}

export function gemmConfig(fma: boolean): GemmConfig {
  const MR = fma ? 6 : 5;
  return { MR, NR: 8, KC: 256, MC: MR * 24, NC: 2048, fma };
}

/** Bytes of per-thread scratch the GEMM needs: packA, packB and the edge tile. */
export function gemmScratchBytes(c: GemmConfig): { packA: number; packB: number; tile: number } {
  return { packA: c.MC * c.KC * 4, packB: c.KC * c.NC * 4, tile: c.MR * c.NR * 4 };
}

/** a·b + acc, fused when the config allows. */
function madd(c: GemmConfig, a: Code, b: Code, acc: Code): Code {
  return c.fma ? f32x4.relaxedMadd(a, b, acc) : f32x4.add(f32x4.mul(a, b), acc);
}

/** Adds the GEMM functions to the module; returns the index of `gemm`. */
export function emitGemm(mb: ModuleBuilder, c: GemmConfig): { gemm: number; gemmBatched: number } {
  const { MR, NR, KC, MC, NC } = c;

  // ---- packB(src, rs, cs, kc, nc, dst): op(B) block [kc, nc] → panels [ceil(nc/8)][kc][8]
  const packB = (() => {
    const f = new FuncBuilder();
    const src = f.param(I32), rs = f.param(I32), cs = f.param(I32), kc = f.param(I32), nc = f.param(I32), dst = f.param(I32);
    const jr = f.local(I32), l = f.local(I32), j = f.local(I32), col = f.local(I32), out = f.local(I32), row = f.local(I32);
    const nr = f.local(I32);
    f.body = seq(
      set(out, get(dst)),
      forRange(jr, i32.const(0), get(nc), NR, seq(
        // nr = min(8, nc - jr): columns of this panel that exist
        set(nr, i32.sub(get(nc), get(jr))),
        if_(i32.gt_s(get(nr), i32.const(NR)), set(nr, i32.const(NR))),
        set(col, i32.add(get(src), i32.shl(i32.mul(get(jr), get(cs)), i32.const(2)))), // &B[0, jr]
        if_(i32.and(i32.eq(get(cs), i32.const(1)), i32.eq(get(nr), i32.const(NR))),
          // fast path: a full panel of a row-major B — each of its kc rows is 8 contiguous floats
          forRange(l, i32.const(0), get(kc), 1, seq(
            set(row, i32.add(get(col), i32.shl(i32.mul(get(l), get(rs)), i32.const(2)))),
            v128.store(get(out), v128.load(get(row))),
            v128.store(get(out), v128.load(get(row), 16), 16),
            set(out, i32.add(get(out), i32.const(NR * 4))),
          )),
          // general path: strided gather, zero-filling the columns past nc
          seq(
            memoryFill(get(out), i32.const(0), i32.mul(get(kc), i32.const(NR * 4))),
            forRange(j, i32.const(0), get(nr), 1, seq(
              set(row, i32.add(get(col), i32.shl(i32.mul(get(j), get(cs)), i32.const(2)))), // &B[0, jr+j]
              forRange(l, i32.const(0), get(kc), 1, f32.store(
                i32.add(get(out), i32.shl(i32.add(i32.mul(get(l), i32.const(NR)), get(j)), i32.const(2))),
                f32.load(i32.add(get(row), i32.shl(i32.mul(get(l), get(rs)), i32.const(2)))),
              )),
            )),
            set(out, i32.add(get(out), i32.mul(get(kc), i32.const(NR * 4)))),
          )),
      )),
    );
    return mb.func('packB', f, false);
  })();

  // ---- packA(src, rs, cs, mc, kc, dst): op(A) block [mc, kc] → panels [ceil(mc/MR)][kc][MR]
  const packA = (() => {
    const f = new FuncBuilder();
    const src = f.param(I32), rs = f.param(I32), cs = f.param(I32), mc = f.param(I32), kc = f.param(I32), dst = f.param(I32);
    const ir = f.local(I32), l = f.local(I32), i = f.local(I32), out = f.local(I32), rowp = f.local(I32), mr = f.local(I32);
    const p = f.local(I32), csb = f.local(I32);
    // one pointer per row of a full panel, advanced by the column stride each step
    const rows = Array.from({ length: MR }, () => f.local(I32));
    f.body = seq(
      set(out, get(dst)),
      set(csb, i32.shl(get(cs), i32.const(2))),
      forRange(ir, i32.const(0), get(mc), MR, seq(
        set(mr, i32.sub(get(mc), get(ir))),
        set(rowp, i32.add(get(src), i32.shl(i32.mul(get(ir), get(rs)), i32.const(2)))), // &A[ir, 0]
        if_(i32.ge_s(get(mr), i32.const(MR)),
          // full panel: MR rows read side by side, unrolled
          seq(
            ...rows.map((r, t) => set(r, i32.add(get(rowp), i32.shl(i32.mul(i32.const(t), get(rs)), i32.const(2))))),
            forRange(l, i32.const(0), get(kc), 1, seq(
              ...rows.map((r, t) => seq(
                f32.store(get(out), f32.load(get(r)), t * 4),
                set(r, i32.add(get(r), get(csb))),
              )),
              set(out, i32.add(get(out), i32.const(MR * 4))),
            )),
          ),
          // partial panel: zero it, then copy the mr rows that exist
          seq(
            memoryFill(get(out), i32.const(0), i32.mul(get(kc), i32.const(MR * 4))),
            forRange(i, i32.const(0), get(mr), 1, seq(
              set(p, i32.add(get(rowp), i32.shl(i32.mul(get(i), get(rs)), i32.const(2)))),
              forRange(l, i32.const(0), get(kc), 1, seq(
                f32.store(i32.add(get(out), i32.shl(i32.add(i32.mul(get(l), i32.const(MR)), get(i)), i32.const(2))), f32.load(get(p))),
                set(p, i32.add(get(p), get(csb))),
              )),
            )),
            set(out, i32.add(get(out), i32.mul(get(kc), i32.const(MR * 4)))),
          )),
      )),
    );
    return mb.func('packA', f, false);
  })();

  // ---- micro(pa, pb, kc, C, ldc, mr, nr, first, tile): C[mr, nr] (+)= panelA · panelB
  const micro = (() => {
    const f = new FuncBuilder();
    const pa = f.param(I32), pb = f.param(I32), kc = f.param(I32), C = f.param(I32), ldc = f.param(I32);
    const mr = f.param(I32), nr = f.param(I32), first = f.param(I32), tile = f.param(I32);
    const b0 = f.local(V128), b1 = f.local(V128);
    const acc = Array.from({ length: MR }, () => [f.local(V128), f.local(V128)]); // acc[r][0|1]: C[r, 0:4], C[r, 4:8]
    const cp = f.local(I32), i = f.local(I32), j = f.local(I32), ldcb = f.local(I32), src = f.local(I32), dstp = f.local(I32);
    const step = seq(
      set(b0, v128.load(get(pb))),
      set(b1, v128.load(get(pb), 16)),
      ...acc.map(([a0, a1], r) => seq(
        // broadcast A[r, l] into 4 lanes, then two multiply-adds against B[l, 0:8]
        set(a0, madd(c, v128.load32_splat(get(pa), r * 4), get(b0), get(a0))),
        set(a1, madd(c, v128.load32_splat(get(pa), r * 4), get(b1), get(a1))),
      )),
      set(pa, i32.add(get(pa), i32.const(MR * 4))),
      set(pb, i32.add(get(pb), i32.const(NR * 4))),
    );
    f.body = seq(
      // accumulators start at zero (locals are zero-initialised by wasm)
      block(loop(brIf(1, i32.eqz(get(kc))), step, set(kc, i32.sub(get(kc), i32.const(1))), br(0))),
      set(ldcb, i32.shl(get(ldc), i32.const(2))),
      if_(i32.and(i32.eq(get(mr), i32.const(MR)), i32.eq(get(nr), i32.const(NR))),
        // full tile: store straight into C (adding what earlier k-slices left there)
        seq(...acc.map(([a0, a1], r) => seq(
          set(cp, i32.add(get(C), i32.mul(i32.const(r), get(ldcb)))),
          if_(get(first),
            seq(v128.store(get(cp), get(a0)), v128.store(get(cp), get(a1), 16)),
            seq(
              v128.store(get(cp), f32x4.add(v128.load(get(cp)), get(a0))),
              v128.store(get(cp), f32x4.add(v128.load(get(cp), 16), get(a1)), 16),
            )),
        ))),
        // edge tile: spill the registers to `tile` [MR][8], copy the valid mr × nr corner
        seq(
          ...acc.map(([a0, a1], r) => seq(v128.store(get(tile), get(a0), r * 32), v128.store(get(tile), get(a1), r * 32 + 16))),
          forRange(i, i32.const(0), get(mr), 1, seq(
            set(src, i32.add(get(tile), i32.shl(get(i), i32.const(5)))),
            set(dstp, i32.add(get(C), i32.mul(get(i), get(ldcb)))),
            forRange(j, i32.const(0), get(nr), 1, seq(
              f32.store(get(dstp), if_f32(get(first), f32.load(get(src)), f32.add(f32.load(get(dstp)), f32.load(get(src))))),
              set(src, i32.add(get(src), i32.const(4))),
              set(dstp, i32.add(get(dstp), i32.const(4))),
            )),
          )),
        )),
    );
    return mb.func('micro', f, false);
  })();

  // ---- gemm(A, B, C, m, n, k, rsA, csA, rsB, csB, ldc, packA, packB, tile, accumulate)
  // Element (i, l) of op(A) is A[i·rsA + l·csA], element (l, j) of op(B) is B[l·rsB + j·csB],
  // C is row-major with row stride ldc. Pointers are byte addresses, strides are in floats.
  // accumulate ≠ 0: C += op(A)·op(B) instead of C = op(A)·op(B).
  const gemm = (() => {
    const f = new FuncBuilder();
    const A = f.param(I32), B = f.param(I32), C = f.param(I32), m = f.param(I32), n = f.param(I32), k = f.param(I32);
    const rsA = f.param(I32), csA = f.param(I32), rsB = f.param(I32), csB = f.param(I32), ldc = f.param(I32);
    const pA = f.param(I32), pB = f.param(I32), tile = f.param(I32), accum = f.param(I32);
    const jc = f.local(I32), pc = f.local(I32), ic = f.local(I32), jr = f.local(I32), ir = f.local(I32);
    const nc = f.local(I32), kc = f.local(I32), mc = f.local(I32), mr = f.local(I32), nr = f.local(I32);
    const minTo = (dst: number, a: Code, cap: number): Code => seq(set(dst, a), if_(i32.gt_s(get(dst), i32.const(cap)), set(dst, i32.const(cap))));
    const byteOff = (x: Code): Code => i32.shl(x, i32.const(2));
    f.body = forRange(jc, i32.const(0), get(n), NC, seq(
      minTo(nc, i32.sub(get(n), get(jc)), NC),
      forRange(pc, i32.const(0), get(k), KC, seq(
        minTo(kc, i32.sub(get(k), get(pc)), KC),
        call(packB,
          i32.add(get(B), byteOff(i32.add(i32.mul(get(pc), get(rsB)), i32.mul(get(jc), get(csB))))),
          get(rsB), get(csB), get(kc), get(nc), get(pB)),
        forRange(ic, i32.const(0), get(m), MC, seq(
          minTo(mc, i32.sub(get(m), get(ic)), MC),
          call(packA,
            i32.add(get(A), byteOff(i32.add(i32.mul(get(ic), get(rsA)), i32.mul(get(pc), get(csA))))),
            get(rsA), get(csA), get(mc), get(kc), get(pA)),
          forRange(jr, i32.const(0), get(nc), NR, seq(
            minTo(nr, i32.sub(get(nc), get(jr)), NR),
            forRange(ir, i32.const(0), get(mc), MR, seq(
              minTo(mr, i32.sub(get(mc), get(ir)), MR),
              call(micro,
                i32.add(get(pA), byteOff(i32.mul(get(ir), get(kc)))), // panel ir/MR of packA
                i32.add(get(pB), byteOff(i32.mul(get(jr), get(kc)))), // panel jr/8 of packB
                get(kc),
                i32.add(get(C), byteOff(i32.add(i32.mul(i32.add(get(ic), get(ir)), get(ldc)), i32.add(get(jc), get(jr))))),
                get(ldc), get(mr), get(nr), i32.and(i32.eqz(get(pc)), i32.eqz(get(accum))), get(tile)),
            )),
          )),
        )),
      )),
    ));
    return mb.func('gemm', f);
  })();

  // ---- gemmBatched(batch, sA, sB, sC, A, B, C, m, n, k, rsA, csA, rsB, csB, ldc, packA, packB, tile, accumulate)
  // `batch` products; operand pointers advance by sA, sB, sC floats (0 = shared operand).
  const gemmBatched = (() => {
    const f = new FuncBuilder();
    const batch = f.param(I32), sA = f.param(I32), sB = f.param(I32), sC = f.param(I32);
    const A = f.param(I32), B = f.param(I32), C = f.param(I32), m = f.param(I32), n = f.param(I32), k = f.param(I32);
    const rsA = f.param(I32), csA = f.param(I32), rsB = f.param(I32), csB = f.param(I32), ldc = f.param(I32);
    const pA = f.param(I32), pB = f.param(I32), tile = f.param(I32), accum = f.param(I32);
    const b = f.local(I32);
    f.body = forRange(b, i32.const(0), get(batch), 1, seq(
      call(gemm, get(A), get(B), get(C), get(m), get(n), get(k), get(rsA), get(csA), get(rsB), get(csB), get(ldc), get(pA), get(pB), get(tile), get(accum)),
      set(A, i32.add(get(A), i32.shl(get(sA), i32.const(2)))),
      set(B, i32.add(get(B), i32.shl(get(sB), i32.const(2)))),
      set(C, i32.add(get(C), i32.shl(get(sC), i32.const(2)))),
    ));
    return mb.func('gemmBatched', f);
  })();

  return { gemm, gemmBatched };
}

/** cond ? a : b for f32 values, as a typed `if` (both arms are cheap loads here). */
function if_f32(cond: Code, a: Code, b: Code): Code {
  return [...cond, 0x04, F32, ...a, 0x05, ...b, 0x0b];
}
