// The cpu backend's runtime: one WasmMemory (shared with the workers), the module instantiated
// on the calling thread and on each worker, per-thread GEMM scratch, and a bump arena for the
// inputs and outputs of one kernel call. Promise: `run` calls an export once per chunk, spread
// over all threads, and returns when every chunk is done (the calling thread works too, then blocks).
//
// Memory layout (byte addresses):
//   [0, scratchEnd)       per thread t: packA_t | packB_t | tile_t  (fixed, reused forever)
//   [scratchEnd, top)     the arena: reset at the start of every kernel call, grown as needed
// Kernels copy their inputs into the arena, run, and copy the result out into a host array
// from `alloc` (the backend's memory pool, ../memory.ts); the arena is reused, so big buffers
// are not reallocated each step.
import type { CpuModule } from './module.ts';
import type { WasmMemory } from './wasm_api.ts';
import { MAX_PAGES } from './module.ts';
import type { ThreadPool } from './threads.ts';
import { gemmScratchBytes } from './gemm_wasm.ts';
import type { Alloc } from '../../reference/host.ts';

const PAGE = 65536;
const ALIGN = 64; // cache-line aligned allocations

export interface ThreadScratch {
  packA: number;
  packB: number;
  tile: number;
}

export class CpuRuntime {
  readonly threads: number;
  readonly scratch: ThreadScratch[];
  private readonly fnIndex: Map<string, number>;
  private readonly scratchEnd: number;
  private top = 0;
  /** Milliseconds spent copying into / out of wasm memory and running kernels (for benchmarks). */
  readonly stats = { copyIn: 0, copyOut: 0, compute: 0 };
  private f32view: Float32Array<ArrayBufferLike> = new Float32Array(0);
  private f64view: Float64Array<ArrayBufferLike> = new Float64Array(0);

  constructor(
    readonly mod: CpuModule,
    readonly memory: WasmMemory,
    private readonly pool: ThreadPool,
    /** Where take() puts a result. */
    private readonly allocOut: Alloc,
  ) {
    this.threads = pool.size;
    this.fnIndex = new Map(mod.exports.map((n, i) => [n, i]));
    const s = gemmScratchBytes(mod.gemm);
    let at = ALIGN; // keep address 0 unused
    this.scratch = [];
    for (let t = 0; t < this.threads; t++) {
      const packA = at;
      const packB = (at = roundUp(at + s.packA));
      const tile = (at = roundUp(at + s.packB));
      at = roundUp(at + s.tile);
      this.scratch.push({ packA, packB, tile });
    }
    this.scratchEnd = at;
    this.reset();
    this.ensure(this.scratchEnd);
  }

  /** Wasm memory as f32 / f64 (views are rebuilt after the memory grows). */
  get f32(): Float32Array<ArrayBufferLike> {
    if (this.f32view.byteLength !== this.memory.buffer.byteLength) this.refreshViews();
    return this.f32view;
  }
  get f64(): Float64Array<ArrayBufferLike> {
    if (this.f64view.byteLength !== this.memory.buffer.byteLength) this.refreshViews();
    return this.f64view;
  }
  private refreshViews(): void {
    this.f32view = new Float32Array(this.memory.buffer);
    this.f64view = new Float64Array(this.memory.buffer);
  }

  /** Frees the whole arena (call at the start of each kernel). */
  reset(): void {
    this.top = this.scratchEnd;
  }

  /** Reserves n floats (or n f64 with bytesPer = 8) in the arena; returns the byte address. */
  alloc(n: number, bytesPer = 4): number {
    const at = this.top;
    this.top = roundUp(at + n * bytesPer);
    this.ensure(this.top);
    return at;
  }

  /** Copies x into the arena; returns its byte address. */
  put(x: Float32Array): number {
    const t0 = performance.now();
    const at = this.alloc(x.length);
    this.f32.set(x, at >> 2);
    this.stats.copyIn += performance.now() - t0;
    return at;
  }

  /** Copies n floats at byte address `at` out of wasm memory into a host array from allocOut. */
  take(at: number, n: number): Float32Array {
    const t0 = performance.now();
    // (alloc + set is a memcpy; slice() of a view on shared memory is about 2× slower)
    const out = this.allocOut('float32', n) as Float32Array;
    out.set(this.f32.subarray(at >>> 2, (at >>> 2) + n));
    this.stats.copyOut += performance.now() - t0;
    return out;
  }

  private ensure(bytes: number): void {
    if (bytes > MAX_PAGES * PAGE) throw new Error(`cpu backend: a kernel needs ${(bytes / 2 ** 30).toFixed(2)} GiB of wasm memory (limit 4 GiB)`);
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE));
  }

  /** Each thread's GEMM scratch as kernel arguments: (packA, packB, tile). */
  gemmLocals(): number[][] {
    return this.scratch.map((s) => [s.packA, s.packB, s.tile]);
  }

  /**
   * Calls export `name` once per chunk, chunks taken by whichever thread is free; thread t
   * appends locals[t] (its scratch pointers) to each chunk's arguments.
   */
  run(name: string, chunks: number[][], locals?: number[][]): void {
    const t0 = performance.now();
    if (locals) for (let t = 0; t < this.threads; t++) this.pool.setLocal(t, locals[t]);
    this.pool.run(this.index(name), chunks, locals ? locals[0].length : 0);
    this.stats.compute += performance.now() - t0;
  }

  private index(name: string): number {
    const i = this.fnIndex.get(name);
    if (i === undefined) throw new Error(`cpu backend: no kernel '${name}'`);
    return i;
  }
}

function roundUp(x: number): number {
  return Math.ceil(x / ALIGN) * ALIGN;
}

/** Splits [0, n) into `parts` contiguous ranges whose starts are multiples of `align`. */
export function splitRange(n: number, parts: number, align = 1): [number, number][] {
  parts = Math.max(1, Math.min(parts, Math.ceil(n / align)));
  const out: [number, number][] = [];
  const units = Math.ceil(n / align);
  for (let p = 0; p < parts; p++) {
    const a = Math.min(n, Math.round((units * p) / parts) * align);
    const b = Math.min(n, Math.round((units * (p + 1)) / parts) * align);
    if (b > a) out.push([a, b]);
  }
  return out;
}
