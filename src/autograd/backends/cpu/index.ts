// The fast CPU backend ('cpu'): the hot kernels as WebAssembly SIMD generated at run time
// (see wasm_emit.ts), spread over worker threads that share one wasm memory; the rest from
// the reference backend. Promise: float32 results within the tolerances of
// test/cpu_backend.test.ts of the reference; float64 inputs run the reference kernels.
// Calls block the calling thread until the workers finish (Atomics.wait): fine on Node's main
// thread; in a browser the backend must run inside a Worker.
import type { AttentionParams, Backend, BinaryOp, HostArray, MatmulParams, Storage, UnaryOp } from '../../backend.ts';
import { referenceBackend, withFallback } from '../registry.ts';
import { buildCpuModule, MAX_PAGES, relaxedSimdProbe } from './module.ts';
import { CpuRuntime, splitRange } from './runtime.ts';
import { enableRelaxedSimd, hardwareThreads, MAX_CHUNKS, startPool } from './threads.node.ts';
import { adamw, binaryFast, layerNorm, layerNormBackward } from './js_kernels.ts';
import type { GemmConfig } from './gemm_wasm.ts';
import { wasm } from './wasm_api.ts';

export interface CpuBackendOptions {
  /** Threads including the main one (default: the machine's hardware threads). */
  threads?: number;
  /** Use relaxed-SIMD FMA when the engine supports it (default true). */
  fma?: boolean;
  /** GEMM blocking overrides, for tuning experiments. */
  gemm?: Partial<GemmConfig>;
}

/** Below this many multiply-adds (≈128³) a matmul runs on the main thread alone. */
const PARALLEL_MATMUL = 128 * 128 * 128;
/** Below this many elements a row or elementwise kernel runs on the main thread alone. */
const PARALLEL_ELEMS = 1 << 15;
/** Logits per block in linearCrossEntropy: 16M floats (64 MB) of reused wasm memory. */
const LCE_BLOCK = 1 << 24;

export interface CpuBackend extends Backend {
  readonly threads: number;
  /** Whether the GEMM uses relaxed-SIMD fused multiply-add. */
  readonly fma: boolean;
  /** Cumulative ms copying into / out of wasm memory and computing (see runtime.ts). */
  readonly stats: { copyIn: number; copyOut: number; compute: number };
}

let shared: Promise<CpuBackend> | null = null;

/**
 * Creates the cpu backend: compiles the kernels and starts threads − 1 workers. Without
 * options it returns one shared instance, so `setBackend('cpu')` twice does not start a
 * second set of workers and a second wasm memory.
 */
export function createCpuBackend(opts?: CpuBackendOptions): Promise<CpuBackend> {
  if (opts) return create(opts);
  shared ??= create({});
  return shared;
}

async function create(opts: CpuBackendOptions): Promise<CpuBackend> {
  enableRelaxedSimd();
  const fma = (opts.fma ?? true) && wasm.validate(relaxedSimdProbe());
  const mod = buildCpuModule(fma, opts.gemm);
  const module = await wasm.compile(mod.bytes);
  const memory = new wasm.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
  const instance = await wasm.instantiate(module, { env: { memory, log: Math.log } });
  const fns = mod.exports.map((n) => instance.exports[n] as (...a: number[]) => unknown);
  // (at most 64: 4 chunks per thread must fit the pool's MAX_CHUNKS = 256)
  const threads = Math.max(1, Math.min(64, opts.threads ?? hardwareThreads()));
  const pool = await startPool(module, memory, mod.exports, fns, threads);
  const rt = new CpuRuntime(mod, memory, pool);
  const ref = referenceBackend;

  const isF64 = (...xs: Storage[]): boolean => xs.some((x) => x instanceof Float64Array);
  const f32 = (x: Storage): Float32Array => {
    if (x instanceof Float32Array) return x;
    throw new Error(`cpu backend: expected a Float32Array, got ${(x as object).constructor?.name}`);
  };

  /** Chunks for a job of `n` elements: one when small, else 4 per thread (a shared core may lag). */
  const chunksFor = (n: number): number => (n >= PARALLEL_ELEMS ? 4 * rt.threads : 1);

  /** Runs a `*_rows(…pointers, r0, r1, cols)` export over row chunks. */
  function rowsKernel(name: string, ptrs: number[], rows: number, cols: number): void {
    rt.run(name, splitRange(rows, chunksFor(rows * cols)).map(([a, b]) => [...ptrs, a, b, cols]));
  }

  /** Runs an elementwise export f(in…, out, n) over chunks of the elements. */
  function elementwise(name: string, ptrs: number[], n: number): void {
    rt.run(name, splitRange(n, chunksFor(n), 16).map(([a, b]) => [...ptrs.map((p) => p + a * 4), b - a]));
  }

  /**
   * C = op(A)·op(B) on operands already in wasm memory (byte addresses), split into chunks of
   * C that threads take as they come free: by batches, by rows (each row chunk packs all of
   * op(B)) or by columns (each column chunk packs all of op(A)). Chunks of ≥ 256 rows/columns
   * keep that repacking cheap. With accumulate, C += op(A)·op(B).
   */
  function gemmAt(A: number, B: number, C: number, p: MatmulParams, accumulate = false): void {
    const { batch, m, k, n, transA, transB, aBatched, bBatched } = p;
    // element (i, l) of op(A) is A[i·rsA + l·csA]; element (l, j) of op(B) is B[l·rsB + j·csB]
    const [rsA, csA] = transA ? [1, m] : [k, 1];
    const [rsB, csB] = transB ? [1, k] : [n, 1];
    const sA = aBatched ? m * k : 0, sB = bBatched ? k * n : 0, sC = m * n;
    const parallel = batch * m * n * k >= PARALLEL_MATMUL && rt.threads > 1;
    const T = rt.threads;
    const perThread = (dim: number) => Math.max(1, Math.min(4, Math.floor(dim / (256 * T))));
    const chunk = (nb: number, a0: number, b0: number, c0: number, mm: number, nn: number): number[] =>
      [nb, sA, sB, sC, a0, b0, c0, mm, nn, k, rsA, csA, rsB, csB, n];
    let chunks: number[][];
    if (!parallel) {
      chunks = [chunk(batch, A, B, C, m, n)];
    } else if (batch >= 2 * T) {
      chunks = splitRange(batch, Math.min(batch, 4 * T)).map(([b0, b1]) => chunk(b1 - b0, A + 4 * b0 * sA, B + 4 * b0 * sB, C + 4 * b0 * sC, m, n));
    } else if (m >= n) {
      chunks = splitRange(m, T * perThread(m), rt.mod.gemm.MR).map(([r0, r1]) => chunk(batch, A + 4 * r0 * rsA, B, C + 4 * r0 * n, r1 - r0, n));
    } else {
      chunks = splitRange(n, T * perThread(n), 8).map(([c0, c1]) => chunk(batch, A, B + 4 * c0 * csB, C + 4 * c0, m, c1 - c0));
    }
    // gemmBatched(…, ldc, packA, packB, tile, accumulate): the scratch comes from the thread
    rt.run('gemmBatched', chunks, rt.gemmLocals().map((l) => [...l, accumulate ? 1 : 0]));
  }

  function matmul(as: Storage, bs: Storage, p: MatmulParams): HostArray {
    if (isF64(as, bs)) return ref.matmul(as, bs, p) as HostArray;
    const { batch, m, k, n } = p;
    if (batch * m * n === 0 || k === 0) return new Float32Array(batch * m * n);
    rt.reset();
    const A = rt.put(f32(as)); // [batch?, m, k] or [batch?, k, m] when transA
    const B = rt.put(f32(bs)); // [batch?, k, n] or [batch?, n, k] when transB
    const C = rt.alloc(batch * m * n); // [batch, m, n]
    gemmAt(A, B, C, p);
    return rt.take(C, batch * m * n);
  }

  /**
   * The lm head and its loss without a [N, V] logits array in JavaScript memory: row blocks of
   * logits live in wasm memory that every step reuses (fresh pages cost ~4 ms per MB here, far
   * more than the arithmetic), and only loss [N] leaves it, with dx and dw when asked for:
   * each block's dlogits are made, used and dropped while its logits are there.
   */
  const rowsPerBlock = (V: number) => Math.max(1, Math.floor(LCE_BLOCK / V));
  const rowProduct = (m: number, k: number, n: number, transA: boolean, transB: boolean): MatmulParams => ({ batch: 1, m, k, n, transA, transB, aBatched: false, bBatched: false });

  function linearCrossEntropy(xs: Storage, ws: Storage, targets: Int32Array, N: number, C: number, V: number, ignoreIndex: number, withGrad: boolean) {
    if (isF64(xs, ws)) return ref.linearCrossEntropy(xs, ws, targets, N, C, V, ignoreIndex, withGrad);
    rt.reset();
    const X = rt.put(f32(xs)); // [N, C]
    const W = rt.put(f32(ws)); // [V, C]
    const R = Math.min(N, rowsPerBlock(V));
    const LOGITS = rt.alloc(R * V); // [R, V], one block of rows at a time
    const L = rt.alloc(R, 8); // f64 logsumexp of the block's rows
    const grad = withGrad ? { DL: rt.alloc(R * V), DX: rt.alloc(N * C), DW: rt.alloc(V * C), G: rt.put(Float32Array.from(targets, (t) => (t === ignoreIndex ? 0 : 1))) } : null;
    const loss = new Float32Array(N);
    for (let r0 = 0; r0 < N; r0 += R) {
      const rows = Math.min(R, N - r0);
      gemmAt(X + 4 * r0 * C, W, LOGITS, rowProduct(rows, C, V, false, true)); // x·wᵀ
      rowsKernel('lse_rows', [LOGITS, L], rows, V);
      const f32v = rt.f32, f64v = rt.f64;
      for (let r = 0; r < rows; r++) {
        const t = targets[r0 + r];
        loss[r0 + r] = t === ignoreIndex ? 0 : f64v[(L >> 3) + r] - f32v[(LOGITS >> 2) + r * V + t];
      }
      if (grad === null) continue;
      // the gradient of Σ loss while this block's logits are here: dlogits = softmax − onehot
      const { DL, DX, DW, G } = grad;
      const LSE = rt.put(Float32Array.from({ length: rows }, (_, r) => f64v[(L >> 3) + r])); // [rows]
      rowsKernel('ce_back_rows', [LOGITS, DL, LSE, G + 4 * r0], rows, V); // 1·softmax (0 in ignored rows)
      const dl = rt.f32;
      for (let r = 0; r < rows; r++) if (targets[r0 + r] !== ignoreIndex) dl[(DL >> 2) + r * V + targets[r0 + r]] -= 1; // − onehot
      gemmAt(DL, W, DX + 4 * r0 * C, rowProduct(rows, V, C, false, false)); // dx = dlogits·w
      gemmAt(DL, X + 4 * r0 * C, DW, rowProduct(V, rows, C, true, false), r0 > 0); // dw += dlogitsᵀ·x
    }
    if (grad === null) return { loss, dx: null, dw: null };
    return { loss, dx: rt.take(grad.DX, N * C), dw: rt.take(grad.DW, V * C) };
  }

  /** A row kernel y = f(x) over [rows, cols] (softmax, logSoftmax), the reference for float64. */
  function forward(name: string, refFn: (x: Storage, r: number, c: number) => Storage) {
    return (xs: Storage, rows: number, cols: number): HostArray => {
      if (isF64(xs)) return refFn(xs, rows, cols) as HostArray;
      rt.reset();
      const X = rt.put(f32(xs));
      const Y = rt.alloc(rows * cols);
      rowsKernel(name, [X, Y], rows, cols);
      return rt.take(Y, rows * cols);
    };
  }

  function backward(name: string, refFn: (y: Storage, dy: Storage, r: number, c: number) => Storage) {
    return (ys: Storage, dys: Storage, rows: number, cols: number): HostArray => {
      if (isF64(ys, dys)) return refFn(ys, dys, rows, cols) as HostArray;
      rt.reset();
      const Y = rt.put(f32(ys));
      const DY = rt.put(f32(dys));
      const DX = rt.alloc(rows * cols);
      rowsKernel(name, [Y, DY, DX], rows, cols);
      return rt.take(DX, rows * cols);
    };
  }

  function crossEntropy(xs: Storage, targets: Int32Array, rows: number, cols: number, ignoreIndex: number) {
    if (isF64(xs)) return ref.crossEntropy(xs, targets, rows, cols, ignoreIndex);
    const x = f32(xs);
    rt.reset();
    const X = rt.put(x);
    const L = rt.alloc(rows, 8); // f64 logsumexp per row
    rowsKernel('lse_rows', [X, L], rows, cols);
    const lse = new Float32Array(rt.f64.subarray(L >> 3, (L >> 3) + rows));
    const loss = new Float32Array(rows);
    for (let r = 0; r < rows; r++) loss[r] = targets[r] === ignoreIndex ? 0 : lse[r] - x[r * cols + targets[r]];
    return { loss, lse };
  }

  function crossEntropyBackward(xs: Storage, lses: Storage, targets: Int32Array, dlosss: Storage, rows: number, cols: number, ignoreIndex: number) {
    if (isF64(xs, lses, dlosss)) return ref.crossEntropyBackward(xs, lses, targets, dlosss, rows, cols, ignoreIndex);
    const dloss = f32(dlosss);
    const g = new Float32Array(rows);
    for (let r = 0; r < rows; r++) g[r] = targets[r] === ignoreIndex ? 0 : dloss[r];
    rt.reset();
    const X = rt.put(f32(xs));
    const L = rt.put(f32(lses));
    const G = rt.put(g);
    const DX = rt.alloc(rows * cols);
    rowsKernel('ce_back_rows', [X, DX, L, G], rows, cols);
    const dx = rt.take(DX, rows * cols);
    for (let r = 0; r < rows; r++) {
      if (targets[r] === ignoreIndex) dx.fill(0, r * cols, (r + 1) * cols);
      else dx[r * cols + targets[r]] -= g[r];
    }
    return dx;
  }

  function unary(op: UnaryOp, xs: Storage): HostArray {
    if (op !== 'gelu' || isF64(xs)) return ref.unary(op, xs) as HostArray;
    const x = f32(xs);
    rt.reset();
    const X = rt.put(x);
    const Y = rt.alloc(x.length);
    elementwise('gelu', [X, Y], x.length);
    return rt.take(Y, x.length);
  }

  function geluBackward(xs: Storage, dys: Storage): HostArray {
    if (isF64(xs, dys)) return ref.geluBackward(xs, dys) as HostArray;
    const x = f32(xs);
    rt.reset();
    const X = rt.put(x);
    const DY = rt.put(f32(dys));
    const DX = rt.alloc(x.length);
    elementwise('gelu_back', [X, DY, DX], x.length);
    return rt.take(DX, x.length);
  }

  /** Attention chunks: one (batch·head) problem each (groups of them past MAX_CHUNKS). */
  const headChunks = (BH: number) => splitRange(BH, Math.min(BH, MAX_CHUNKS));
  /** Each thread's attention scratch: `blocks` [QB, Tk] score blocks, then its GEMM scratch. */
  const attnLocals = (Tk: number, blocks: number) =>
    rt.gemmLocals().map((g) => [...Array.from({ length: blocks }, () => rt.alloc(rt.mod.attnBlock * Tk)), ...g]);

  function attention(qs: Storage, ks: Storage, vs: Storage, p: AttentionParams) {
    if (isF64(qs, ks, vs)) return ref.attention(qs, ks, vs, p);
    const { BH, Tq, Tk, D, scale } = p;
    if (BH * Tq === 0) return { out: new Float32Array(BH * Tq * D), lse: new Float32Array(BH * Tq) };
    rt.reset();
    const Q = rt.put(f32(qs)), K = rt.put(f32(ks)), V = rt.put(f32(vs));
    const O = rt.alloc(BH * Tq * D), L = rt.alloc(BH * Tq);
    rt.run('attn_fwd', headChunks(BH).map(([h0, h1]) => [h0, h1, Q, K, V, O, L, Tq, Tk, D, scale]), attnLocals(Tk, 1));
    return { out: rt.take(O, BH * Tq * D), lse: rt.take(L, BH * Tq) };
  }

  function attentionBackward(douts: Storage, qs: Storage, ks: Storage, vs: Storage, outs: Storage, lses: Storage, p: AttentionParams) {
    if (isF64(douts, qs, ks, vs, outs, lses)) return ref.attentionBackward(douts, qs, ks, vs, outs, lses, p);
    const { BH, Tq, Tk, D, scale } = p;
    if (BH * Tq === 0) return { dq: new Float32Array(BH * Tq * D), dk: new Float32Array(BH * Tk * D), dv: new Float32Array(BH * Tk * D) };
    rt.reset();
    const DO = rt.put(f32(douts)), Q = rt.put(f32(qs)), K = rt.put(f32(ks)), V = rt.put(f32(vs));
    const O = rt.put(f32(outs)), L = rt.put(f32(lses));
    const DQ = rt.alloc(BH * Tq * D), DK = rt.alloc(BH * Tk * D), DV = rt.alloc(BH * Tk * D);
    rt.run('attn_bwd', headChunks(BH).map(([h0, h1]) => [h0, h1, DO, Q, K, V, O, L, DQ, DK, DV, Tq, Tk, D, scale]), attnLocals(Tk, 2));
    return { dq: rt.take(DQ, BH * Tq * D), dk: rt.take(DK, BH * Tk * D), dv: rt.take(DV, BH * Tk * D) };
  }

  const backend = withFallback('cpu', {
    matmul,
    softmax: forward('softmax_rows', ref.softmax),
    softmaxBackward: backward('softmax_back_rows', ref.softmaxBackward),
    logSoftmax: forward('logsoftmax_rows', ref.logSoftmax),
    logSoftmaxBackward: backward('logsoftmax_back_rows', ref.logSoftmaxBackward),
    crossEntropy,
    crossEntropyBackward,
    linearCrossEntropy,
    layerNorm: (x, w, b, rows, cols, eps) =>
      isF64(x, w, b) ? ref.layerNorm(x, w, b, rows, cols, eps) : layerNorm(f32(x), f32(w), f32(b), rows, cols, eps),
    layerNormBackward: (dy, x, w, mean, rstd, rows, cols) =>
      isF64(dy, x, w, mean, rstd)
        ? ref.layerNormBackward(dy, x, w, mean, rstd, rows, cols)
        : layerNormBackward(f32(dy), f32(x), f32(w), f32(mean), f32(rstd), rows, cols),
    attention,
    attentionBackward,
    unary,
    geluBackward,
    binary: (op: BinaryOp, a: Storage, aShape: number[], b: Storage, bShape: number[], outShape: number[]) =>
      (!isF64(a, b) && binaryFast(op, f32(a), aShape, f32(b), bShape, outShape)) || ref.binary(op, a, aShape, b, bShape, outShape),
    adamw: (p, g, m, v, hp) => (isF64(p, g, m, v) ? ref.adamw(p, g, m, v, hp) : adamw(f32(p), f32(g), f32(m), f32(v), hp)),
  });
  return Object.assign(backend, { threads: rt.threads, fma, stats: rt.stats });
}
