// The fast CPU backend ('cpu'): the kernels as WebAssembly generated at run time (see
// wasm_emit.ts), spread over worker threads that share one wasm memory; the layout kernels as
// plain JavaScript over contiguous runs (layout.ts); the rest (embedding, maskedFill, unary ops
// other than GELU) are the reference kernels (../../reference). All write into arrays from
// this backend's memory pool (../memory.ts), which the training loop enters with
// reuseMemory.
// Promise: float32 results within the tolerances of test/cpu_backend.test.ts of the
// reference; float64 inputs run the reference kernels. adamw updates the parameter and its
// moments in place: the one kernel here that writes into its inputs, to save a copy of every
// weight each step.
// Calls block the calling thread until the workers finish (Atomics.wait): fine on Node's main
// thread; in a browser the backend must run inside a Worker. The platform's threads come from
// a ThreadHost (threads.node.ts, threads.web.ts); where it cannot share memory (a page that is
// not cross-origin isolated) the backend runs on one thread, with unshared memory.
import type { AdamWArgs, AttentionArgs, AttentionBackwardArgs, Backend, BinaryArgs, ReduceArgs, CrossEntropyArgs, CrossEntropyBackwardArgs, HostArray, LayerNormArgs, LayerNormBackwardArgs, LinearCrossEntropyArgs, MatmulParams, NewtonSchulzArgs, RowsArgs, RowsBackwardArgs, Storage, UnaryOp } from '../../backend.ts';
import { matmulParams } from '../../backend.ts';
import { numel } from '../../shape.ts';
import { completeBackend } from '../../composed.ts';
import { hostKernel, hostKernels } from '../../reference/index.ts';
import { allocLike } from '../../reference/host.ts';
import { MemoryPool } from '../memory.ts';
import { buildCpuModule, MAX_PAGES, relaxedSimdProbe } from './module.ts';
import { CpuRuntime, splitRange } from './runtime.ts';
import { MAX_CHUNKS, startPool, type ThreadHost } from './threads.ts';
import { binaryLayout } from './binary.ts';
import * as layout from './layout.ts';
import type { GemmConfig } from './gemm_wasm.ts';
import { wasm } from './wasm_api.ts';

export interface CpuBackendOptions {
  /** Threads including the calling one (default: the machine's hardware threads; 1 where memory cannot be shared). */
  threads?: number;
  /** Use relaxed-SIMD FMA when the engine supports it (default true). */
  fma?: boolean;
  /** GEMM blocking overrides, for tuning experiments. */
  gemm?: Partial<GemmConfig>;
}

/** Below this many multiply-adds (≈128³) a matmul runs on the calling thread alone. */
const PARALLEL_MATMUL = 128 * 128 * 128;
/** Below this many elements a row or elementwise kernel runs on the calling thread alone. */
const PARALLEL_ELEMS = 1 << 15;
/** Below this many elements a binary op or a reduction is the reference's loop (a wasm call costs more). */
const SMALL_ELEMENTWISE = 4096;
/** Logits per block in linearCrossEntropy: 16M floats (64 MB) of reused wasm memory. */
const LCE_BLOCK = 1 << 24;

export interface CpuBackend extends Backend {
  readonly threads: number;
  /** The arrays every kernel's output comes from (see reuseMemory in ../memory.ts). */
  readonly memoryPool: MemoryPool;
  /** Whether the GEMM uses relaxed-SIMD fused multiply-add. */
  readonly fma: boolean;
  /** Cumulative ms copying into / out of wasm memory and computing (see runtime.ts). */
  readonly stats: { copyIn: number; copyOut: number; compute: number };
}

const instances = new Map<ThreadHost, Promise<CpuBackend>>();

/**
 * Creates the cpu backend on `host`'s threads: compiles the kernels and starts threads − 1
 * workers. Without options it returns one instance per host, so `setBackend('cpu')` twice
 * does not start a second set of workers and a second wasm memory.
 */
export function createCpuBackend(host: ThreadHost, opts?: CpuBackendOptions): Promise<CpuBackend> {
  if (opts) return create(host, opts);
  if (!instances.has(host)) instances.set(host, create(host, {}));
  return instances.get(host)!;
}

async function create(host: ThreadHost, opts: CpuBackendOptions): Promise<CpuBackend> {
  host.enableRelaxedSimd();
  const shared = host.canShareMemory();
  const fma = (opts.fma ?? true) && wasm.validate(relaxedSimdProbe());
  const mod = buildCpuModule(fma, shared, opts.gemm);
  const module = await wasm.compile(mod.bytes);
  const memory = new wasm.Memory({ initial: 1, maximum: MAX_PAGES, shared });
  const instance = await wasm.instantiate(module, { env: { memory, log: Math.log } });
  const fns = mod.exports.map((n) => instance.exports[n] as (...a: number[]) => unknown);
  // (at most 64: 4 chunks per thread must fit the pool's MAX_CHUNKS = 256)
  const threads = shared ? Math.max(1, Math.min(64, opts.threads ?? host.hardwareThreads())) : 1;
  const workers = await startPool(host, module, memory, mod.exports, fns, threads);
  const pool = new MemoryPool();
  const rt = new CpuRuntime(mod, memory, workers, pool.alloc);
  /** The reference kernels, their outputs from the pool: float64, and every op without a fast kernel here. */
  const ref = completeBackend(hostKernels('cpu', pool.alloc));
  /** A float32 output from the pool. */
  const out32 = (n: number) => pool.alloc('float32', n) as Float32Array;
  const like = allocLike(pool.alloc);

  const isF64 = (...xs: Storage[]): boolean => xs.some((x) => x instanceof Float64Array);
  const f32 = (x: Storage): Float32Array => {
    if (x instanceof Float32Array) return x;
    throw new Error(`cpu backend: expected a Float32Array, got ${(x as object).constructor?.name}`);
  };

  /** Chunks for a job of `n` elements: one when small, else 4 per thread (a shared core may lag). */
  const chunksFor = (n: number): number => (n >= PARALLEL_ELEMS ? 4 * rt.threads : 1);

  /** Runs a `*_rows(…pointers, r0, r1, cols, …extra)` export over row chunks. */
  function rowsKernel(name: string, ptrs: number[], rows: number, cols: number, extra: number[] = []): void {
    rt.run(name, splitRange(rows, chunksFor(rows * cols)).map(([a, b]) => [...ptrs, a, b, cols, ...extra]));
  }

  /** Runs an elementwise export f(in…, out…, n, …extra) over chunks of the elements. */
  function elementwise(name: string, ptrs: number[], n: number, extra: number[] = []): void {
    rt.run(name, splitRange(n, chunksFor(n), 16).map(([a, b]) => [...ptrs.map((p) => p + a * 4), b - a, ...extra]));
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
    if (batch * m * n === 0 || k === 0) return out32(batch * m * n);
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

  function linearCrossEntropy(a: LinearCrossEntropyArgs) {
    const { x: xs, w: ws, targets, N, C, V, ignoreIndex, withGrad } = a;
    if (isF64(xs, ws)) return ref.linearCrossEntropy(a);
    rt.reset();
    const X = rt.put(f32(xs)); // [N, C]
    const W = rt.put(f32(ws)); // [V, C]
    const R = Math.min(N, rowsPerBlock(V));
    const LOGITS = rt.alloc(R * V); // [R, V], one block of rows at a time
    const L = rt.alloc(R, 8); // f64 logsumexp of the block's rows
    const grad = withGrad ? { DL: rt.alloc(R * V), DX: rt.alloc(N * C), DW: rt.alloc(V * C), G: rt.put(Float32Array.from(targets, (t) => (t === ignoreIndex ? 0 : 1))) } : null;
    const loss = out32(N);
    for (let r0 = 0; r0 < N; r0 += R) {
      const rows = Math.min(R, N - r0);
      gemmAt(X + 4 * r0 * C, W, LOGITS, matmulParams(rows, C, V, { transB: true })); // x·wᵀ
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
      gemmAt(DL, W, DX + 4 * r0 * C, matmulParams(rows, V, C)); // dx = dlogits·w
      gemmAt(DL, X + 4 * r0 * C, DW, matmulParams(V, rows, C, { transA: true }), r0 > 0); // dw += dlogitsᵀ·x
    }
    if (grad === null) return { loss, dx: null, dw: null };
    return { loss, dx: rt.take(grad.DX, N * C), dw: rt.take(grad.DW, V * C) };
  }

  /** A row kernel y = f(x) over [rows, cols] (softmax, logSoftmax), the reference for float64. */
  function forward(name: string, refFn: (a: RowsArgs) => Storage) {
    return (a: RowsArgs): HostArray => {
      const { x: xs, rows, cols } = a;
      if (isF64(xs)) return refFn(a) as HostArray;
      rt.reset();
      const X = rt.put(f32(xs));
      const Y = rt.alloc(rows * cols);
      rowsKernel(name, [X, Y], rows, cols);
      return rt.take(Y, rows * cols);
    };
  }

  function backward(name: string, refFn: (a: RowsBackwardArgs) => Storage) {
    return (a: RowsBackwardArgs): HostArray => {
      const { y: ys, dy: dys, rows, cols } = a;
      if (isF64(ys, dys)) return refFn(a) as HostArray;
      rt.reset();
      const Y = rt.put(f32(ys));
      const DY = rt.put(f32(dys));
      const DX = rt.alloc(rows * cols);
      rowsKernel(name, [Y, DY, DX], rows, cols);
      return rt.take(DX, rows * cols);
    };
  }

  function crossEntropy(a: CrossEntropyArgs) {
    const { logits: xs, targets, rows, cols, ignoreIndex } = a;
    if (isF64(xs)) return ref.crossEntropy(a);
    const x = f32(xs);
    rt.reset();
    const X = rt.put(x);
    const L = rt.alloc(rows, 8); // f64 logsumexp per row
    rowsKernel('lse_rows', [X, L], rows, cols);
    const lse = out32(rows);
    lse.set(rt.f64.subarray(L >> 3, (L >> 3) + rows));
    const loss = out32(rows);
    for (let r = 0; r < rows; r++) loss[r] = targets[r] === ignoreIndex ? 0 : lse[r] - x[r * cols + targets[r]];
    return { loss, lse };
  }

  function crossEntropyBackward(a: CrossEntropyBackwardArgs) {
    const { logits: xs, lse: lses, dloss: dlosss, targets, rows, cols, ignoreIndex } = a;
    if (isF64(xs, lses, dlosss)) return ref.crossEntropyBackward(a);
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

  /** Sum or max over one axis in wasm: split by outputs, each summing its terms in order. */
  function reduce(a: ReduceArgs): HostArray {
    const { op, x, shape, axis } = a;
    if (isF64(x) || x.length < SMALL_ELEMENTWISE) return ref.reduce(a) as HostArray;
    const outer = numel(shape.slice(0, axis)), n = shape[axis], inner = numel(shape.slice(axis + 1));
    rt.reset();
    const X = rt.put(f32(x)), OUT = rt.alloc(outer * inner);
    if (inner === 1) {
      rt.run(`${op}_runs`, splitRange(outer, chunksFor(x.length)).map(([o0, o1]) => [X, OUT, o0, o1, n]));
    } else {
      const ACC = rt.alloc(inner, 8);
      rt.run(`${op}_cols`, splitRange(inner, chunksFor(x.length), 16).map(([i0, i1]) => [X, OUT, ACC, i0, i1, outer, n, inner]));
    }
    return rt.take(OUT, outer * inner);
  }

  /** LayerNorm in wasm (the reference's arithmetic, bit for bit): y, mean and rstd by rows. */
  function layerNorm(a: LayerNormArgs) {
    const { x, weight, bias, rows, cols, eps } = a;
    if (isF64(x, weight, bias)) return ref.layerNorm(a);
    rt.reset();
    const X = rt.put(f32(x)), W = rt.put(f32(weight)), B = rt.put(f32(bias));
    const Y = rt.alloc(rows * cols), M = rt.alloc(rows), S = rt.alloc(rows);
    rowsKernel('ln_rows', [X, Y, M, S], rows, cols, [W, B, eps]);
    return { y: rt.take(Y, rows * cols), mean: rt.take(M, rows), rstd: rt.take(S, rows) };
  }

  /** LayerNorm's backward in wasm: dx by rows; dweight and dbias (float64 sums over the rows in order) by columns. */
  function layerNormBackward(a: LayerNormBackwardArgs) {
    const { dy, x, weight, mean, rstd, rows, cols } = a;
    if (isF64(dy, x, weight, mean, rstd)) return ref.layerNormBackward(a);
    rt.reset();
    const DY = rt.put(f32(dy)), X = rt.put(f32(x)), W = rt.put(f32(weight)), M = rt.put(f32(mean)), S = rt.put(f32(rstd));
    const DX = rt.alloc(rows * cols), DW = rt.alloc(cols, 8), DB = rt.alloc(cols, 8);
    rowsKernel('ln_back_rows', [DY, X, DX], rows, cols, [W, M, S]);
    rt.f64.fill(0, DW >> 3, (DW >> 3) + cols);
    rt.f64.fill(0, DB >> 3, (DB >> 3) + cols);
    rt.run('ln_back_cols', splitRange(cols, chunksFor(rows * cols)).map(([c0, c1]) => [DY, X, DW, DB, c0, c1, rows, cols, M, S]));
    const sums = (at: number) => {
      const out = out32(cols);
      out.set(rt.f64.subarray(at >> 3, (at >> 3) + cols)); // rounded to float32 once, as the reference
      return out;
    };
    return { dx: rt.take(DX, rows * cols), dweight: sums(DW), dbias: sums(DB) };
  }

  /** gelu and its derivative as wasm kernels; the other unary ops are the reference's. */
  function unary(op: UnaryOp, xs: Storage): HostArray {
    if ((op !== 'gelu' && op !== 'gelu_grad') || isF64(xs)) return ref.unary(op, xs) as HostArray;
    const x = f32(xs);
    rt.reset();
    const X = rt.put(x);
    const Y = rt.alloc(x.length);
    elementwise(op, [X, Y], x.length);
    return rt.take(Y, x.length);
  }

  /** Attention chunks: one (batch·head) problem each (groups of them past MAX_CHUNKS). */
  const headChunks = (BH: number) => splitRange(BH, Math.min(BH, MAX_CHUNKS));
  /** Each thread's attention scratch: `blocks` [QB, Tk] score blocks, then its GEMM scratch. */
  const attnLocals = (Tk: number, blocks: number) =>
    rt.gemmLocals().map((g) => [...Array.from({ length: blocks }, () => rt.alloc(rt.mod.attnBlock * Tk)), ...g]);

  function attention(a: AttentionArgs) {
    const { q: qs, k: ks, v: vs, BH, Tq, Tk, D, scale } = a;
    if (isF64(qs, ks, vs)) return ref.attention(a);
    if (BH * Tq === 0) return { out: out32(BH * Tq * D), lse: out32(BH * Tq) };
    rt.reset();
    const Q = rt.put(f32(qs)), K = rt.put(f32(ks)), V = rt.put(f32(vs));
    const O = rt.alloc(BH * Tq * D), L = rt.alloc(BH * Tq);
    rt.run('attn_fwd', headChunks(BH).map(([h0, h1]) => [h0, h1, Q, K, V, O, L, Tq, Tk, D, scale]), attnLocals(Tk, 1));
    return { out: rt.take(O, BH * Tq * D), lse: rt.take(L, BH * Tq) };
  }

  function attentionBackward(a: AttentionBackwardArgs) {
    const { dout: douts, q: qs, k: ks, v: vs, out: outs, lse: lses, BH, Tq, Tk, D, scale } = a;
    if (isF64(douts, qs, ks, vs, outs, lses)) return ref.attentionBackward(a);
    if (BH * Tq === 0) return { dq: out32(BH * Tq * D), dk: out32(BH * Tk * D), dv: out32(BH * Tk * D) };
    rt.reset();
    const DO = rt.put(f32(douts)), Q = rt.put(f32(qs)), K = rt.put(f32(ks)), V = rt.put(f32(vs));
    const O = rt.put(f32(outs)), L = rt.put(f32(lses));
    const DQ = rt.alloc(BH * Tq * D), DK = rt.alloc(BH * Tk * D), DV = rt.alloc(BH * Tk * D);
    rt.run('attn_bwd', headChunks(BH).map(([h0, h1]) => [h0, h1, DO, Q, K, V, O, L, DQ, DK, DV, Tq, Tk, D, scale]), attnLocals(Tk, 2));
    return { dq: rt.take(DQ, BH * Tq * D), dk: rt.take(DK, BH * Tk * D), dv: rt.take(DV, BH * Tk * D) };
  }

  /** add, sub and mul in wasm where binaryLayout takes the shapes; the reference's otherwise. */
  function binary(args: BinaryArgs): HostArray {
    const l = binaryLayout(args);
    if (l === null || l.n < SMALL_ELEMENTWISE) return ref.binary(args) as HostArray;
    rt.reset();
    const A = rt.put(l.a), B = l.b === l.a ? A : rt.put(l.b), OUT = rt.alloc(l.n); // x·x (the grad norm) copies x once
    if (l.kind === 'same') elementwise(`${l.op}_same`, [A, B, OUT], l.n);
    else if (l.kind === 'scalar') elementwise(`${l.op}_scalar`, [A, OUT], l.n, [B]);
    else rowsKernel(`${l.op}_rows`, [A, OUT], l.n / l.cols, l.cols, [B]);
    return rt.take(OUT, l.n);
  }

  /** The AdamW step in wasm (the reference's arithmetic), written back into the inputs: an update in place. */
  function adamw(a: AdamWArgs) {
    if (isF64(a.param, a.grad, a.m, a.v)) return ref.adamw(a);
    const [p, g, m, v] = [a.param, a.grad, a.m, a.v].map(f32);
    const { lr, beta1, beta2, eps, weightDecay, step } = a;
    const n = p.length;
    rt.reset();
    const [P, G, M, V] = [p, g, m, v].map((x) => rt.put(x));
    // the reference's constants, computed the same way (reference/adamw.ts)
    elementwise('adamw', [P, G, M, V], n, [beta1, 1 - beta1, beta2, 1 - beta2, 1 - lr * weightDecay, lr, 1 - beta1 ** step, 1 - beta2 ** step, eps]);
    const mem = rt.f32;
    for (const [x, X] of [[p, P], [m, M], [v, V]] as const) x.set(mem.subarray(X >> 2, (X >> 2) + n));
    return { param: a.param, m: a.m, v: a.v };
  }

  /**
   * Newton–Schulz (NewtonSchulzArgs) with every iterate in wasm memory: x goes in once, scaled
   * to X0 = x/(‖x‖ + eps) on the way, the 3·steps products run on the threads as GEMMs (the
   * tall side through their strides, no transposes), M = a·I + b·A + c·A² [s, s] is formed in
   * place, and only the result comes out.
   */
  function newtonSchulz(args: NewtonSchulzArgs): HostArray {
    if (isF64(args.x)) return ref.newtonSchulz(args) as HostArray;
    const { rows, cols, steps, coefficients: [a, b, c], eps } = args;
    const x = f32(args.x);
    const n = rows * cols, wide = rows <= cols, s = Math.min(rows, cols);
    let sumSq = 0;
    for (let i = 0; i < n; i++) sumSq += x[i] * x[i];
    const scale = 1 / (Math.fround(Math.sqrt(Math.fround(sumSq))) + eps);
    rt.reset();
    let X = rt.alloc(n), Y = rt.alloc(n); // [rows, cols]: the iterate and the next one
    const A = rt.alloc(s * s), M = rt.alloc(s * s); // [s, s]
    const mem = rt.f32;
    for (let i = 0; i < n; i++) mem[(X >> 2) + i] = x[i] * scale;
    for (let it = 0; it < steps; it++) {
      gemmAt(X, X, A, wide ? matmulParams(s, cols, s, { transB: true }) : matmulParams(s, rows, s, { transA: true })); // A = X·Xᵀ or Xᵀ·X
      gemmAt(A, A, M, matmulParams(s, s, s)); // A²
      for (let i = 0, pa = A >> 2, pm = M >> 2; i < s * s; i++) mem[pm + i] = c * mem[pm + i] + b * mem[pa + i]; // b·A + c·A²
      for (let d = 0; d < s; d++) mem[(M >> 2) + d * (s + 1)] += a; // + a·I
      if (wide) gemmAt(M, X, Y, matmulParams(s, s, cols)); // M·X
      else gemmAt(X, M, Y, matmulParams(rows, s, s)); // X·M
      [X, Y] = [Y, X];
    }
    return rt.take(X, n);
  }

  const backend = completeBackend({
    ...ref,
    matmul,
    softmax: forward('softmax_rows', ref.softmax),
    softmaxBackward: backward('softmax_back_rows', ref.softmaxBackward),
    logSoftmax: forward('logsoftmax_rows', ref.logSoftmax),
    logSoftmaxBackward: backward('logsoftmax_back_rows', ref.logSoftmaxBackward),
    crossEntropy,
    crossEntropyBackward,
    linearCrossEntropy,
    attention,
    attentionBackward,
    unary,
    binary,
    layerNorm,
    layerNormBackward,
    permute: hostKernel(layout.permute, (a) => like(a.x, a.x.length)),
    slice: hostKernel(layout.slice, (a) => like(a.x, numel(a.size))),
    pad: hostKernel(layout.pad, (a) => like(a.x, numel(a.outShape))),
    reduce,
    adamw,
    newtonSchulz,
  });
  return Object.assign(backend, { threads: rt.threads, fma, stats: rt.stats, memoryPool: pool });
}
