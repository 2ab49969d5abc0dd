// The cpu backend's thread pool: the calling thread plus workers, all running exports of one
// wasm module over one shared WebAssembly.Memory. Platform-neutral: a ThreadHost adapter
// starts the workers (threads.node.ts: Node worker_threads; threads.web.ts: Web Workers).
//
// Work is a queue of chunks, not one fixed share per thread: a job is "call export fn once
// per chunk, with that chunk's arguments followed by the calling thread's own scratch
// arguments". The calling thread and the workers all take the next chunk with an atomic
// counter until none is left, so a thread slowed down by another process (the cores are
// shared) simply takes fewer chunks. No messages on the hot path: the calling thread writes
// the job into shared memory, bumps `seq` and notifies; workers (spinning briefly, then
// sleeping in Atomics.wait) run chunks and bump their `done` slot to `seq`. The calling thread
// blocks in Atomics.wait too, which a browser allows only inside a Worker.
import type { WasmMemory, WasmModule } from './wasm_api.ts';

// Layout of the control array `ctl` (int32): a job header, then one slot per worker.
const SEQ = 0; // job number, bumped by the calling thread
const FN = 1; // export index
const NCHUNKS = 2;
const NARGS = 3; // arguments per chunk
const NLOCAL = 4; // per-thread arguments appended to each call
const NEXT = 5; // the next chunk to take (atomic counter)
const FAILED = 6; // set by a thread whose call threw
const HEADER = 16;
const SLOT = 16; // ints per worker: [done, …] (a cache line apiece, so no false sharing)
export const MAX_CHUNKS = 256;
export const MAX_ARGS = 24;
export const MAX_LOCAL = 8;

/** What a worker receives when it starts (every field can be posted to a worker). */
export interface WorkerData {
  module: WasmModule;
  memory: WasmMemory;
  /** The control, chunk-argument and per-thread-argument arrays (SharedArrayBuffers). */
  ctlBuf: ArrayBufferLike;
  chunkBuf: ArrayBufferLike;
  localBuf: ArrayBufferLike;
  names: string[];
  /** 1-based: thread 0 is the calling thread. */
  id: number;
}

/** What the cpu backend needs from its platform: threads, shared memory, worker start-up. */
export interface ThreadHost {
  /** Hardware threads here (the default thread count). */
  hardwareThreads(): number;
  /**
   * Whether memory can be shared with workers: false in a browser page that is not
   * cross-origin isolated (no SharedArrayBuffer), where the backend runs on one thread.
   */
  canShareMemory(): boolean;
  /** Enables relaxed SIMD (f32x4.relaxed_madd) where the engine needs a flag; before compiling. */
  enableRelaxedSimd(): void;
  /**
   * Starts a worker that runs WORKER_MAIN (JavaScript source of a function (data, ready) that
   * never returns) with `data`; resolves once it has called ready().
   */
  startWorker(data: WorkerData): Promise<void>;
}

// The chunk loop, shared verbatim by the calling thread (below) and the workers (its source
// text is pasted into WORKER_MAIN, so it may not refer to any name outside itself: the layout
// constants above appear as literals, each named in a comment).
// Thread t calls fns[fn](...chunk args, ...local args of t) for each chunk it takes.
function takeChunks(
  ctl: Int32Array, chunkArgs: Float64Array, localArgs: Float64Array, fns: ((...a: number[]) => unknown)[], t: number,
): void {
  const n = ctl[2], nargs = ctl[3], nlocal = ctl[4], fn = fns[ctl[1]]; // NCHUNKS, NARGS, NLOCAL, FN
  const a = new Array<number>(nargs + nlocal);
  for (let i = 0; i < nlocal; i++) a[nargs + i] = localArgs[t * 8 + i]; // MAX_LOCAL
  for (;;) {
    const c = Atomics.add(ctl, 5, 1); // NEXT
    if (c >= n) return;
    for (let i = 0; i < nargs; i++) a[i] = chunkArgs[c * 24 + i]; // MAX_ARGS
    fn(...a);
  }
}

/**
 * A worker's whole program, as plain JavaScript source: `(data: WorkerData, ready) => never`.
 * It needs no loader and no platform API (each ThreadHost wraps it in its platform's worker
 * start-up): it instantiates the shared module, says ready, then waits for jobs forever.
 */
export const WORKER_MAIN = `(data, ready) => {
  const { module, memory, ctlBuf, chunkBuf, localBuf, names, id } = data;
  const instance = new WebAssembly.Instance(module, { env: { memory, log: Math.log } });
  const fns = names.map((n) => instance.exports[n]);
  const ctl = new Int32Array(ctlBuf);
  const chunkArgs = new Float64Array(chunkBuf);
  const localArgs = new Float64Array(localBuf);
  const takeChunks = ${takeChunks.toString()};
  const done = ${HEADER} + (id - 1) * ${SLOT};
  let seen = 0;
  ready();
  for (;;) {
    // spin a little (jobs come in bursts), then sleep until the calling thread bumps seq
    let spins = 0;
    while (Atomics.load(ctl, ${SEQ}) === seen) {
      if (++spins > 20000) { Atomics.wait(ctl, ${SEQ}, seen); spins = 0; }
    }
    seen = Atomics.load(ctl, ${SEQ});
    try {
      takeChunks(ctl, chunkArgs, localArgs, fns, id);
    } catch (e) {
      Atomics.store(ctl, ${FAILED}, 1);
      console.error('tsgrad cpu worker', id, e);
    }
    Atomics.store(ctl, done, seen);
    Atomics.notify(ctl, done);
  }
}`;

/** Runs chunked jobs over exports of one wasm module, on the calling thread plus workers. */
export interface ThreadPool {
  /** Threads including the calling one. */
  readonly size: number;
  /** Sets thread t's local arguments (its scratch pointers). */
  setLocal(t: number, args: number[]): void;
  /** Calls export `fn` once per chunk on all threads; returns when every chunk is done. */
  run(fn: number, chunks: number[][], nlocal: number): void;
}

/** Starts threads − 1 workers through `host` (none when threads is 1: then nothing is shared). */
export async function startPool(
  host: ThreadHost, module: WasmModule, memory: WasmMemory, names: string[], fns: ((...a: number[]) => unknown)[], threads: number,
): Promise<ThreadPool> {
  const workers = Math.max(0, threads - 1);
  const Buffer = workers > 0 ? SharedArrayBuffer : ArrayBuffer; // Atomics.add works on both
  const ctlBuf = new Buffer((HEADER + workers * SLOT) * 4);
  const chunkBuf = new Buffer(MAX_CHUNKS * MAX_ARGS * 8);
  const localBuf = new Buffer((workers + 1) * MAX_LOCAL * 8);
  const ctl = new Int32Array(ctlBuf);
  const chunkArgs = new Float64Array(chunkBuf);
  const localArgs = new Float64Array(localBuf);
  await Promise.all(
    Array.from({ length: workers }, (_, i) =>
      host.startWorker({ module, memory, ctlBuf, chunkBuf, localBuf, names, id: i + 1 })),
  );
  let seq = 0;
  return {
    size: workers + 1,
    setLocal(t, args) {
      if (args.length > MAX_LOCAL) throw new Error('cpu backend: too many per-thread arguments');
      localArgs.set(args, t * MAX_LOCAL);
    },
    run(fn, chunks, nlocal) {
      if (chunks.length === 0) return;
      if (chunks.length > MAX_CHUNKS) throw new Error(`cpu backend: too many chunks (${chunks.length})`);
      const nargs = chunks[0].length;
      if (nargs > MAX_ARGS) throw new Error(`cpu backend: too many kernel arguments (${nargs})`);
      for (let c = 0; c < chunks.length; c++) chunkArgs.set(chunks[c], c * MAX_ARGS);
      ctl[FN] = fn;
      ctl[NCHUNKS] = chunks.length;
      ctl[NARGS] = nargs;
      ctl[NLOCAL] = nlocal;
      Atomics.store(ctl, NEXT, 0);
      // wake the workers only when there is more than one chunk to share
      const helpers = chunks.length > 1 ? workers : 0;
      if (helpers > 0) {
        seq = (seq + 1) | 0;
        Atomics.store(ctl, SEQ, seq);
        Atomics.notify(ctl, SEQ);
      }
      let error: unknown = null;
      try {
        takeChunks(ctl, chunkArgs, localArgs, fns, 0);
      } catch (e) {
        error = e;
        Atomics.store(ctl, NEXT, MAX_CHUNKS); // stop handing out chunks
      }
      for (let w = 0; w < helpers; w++) {
        const done = HEADER + w * SLOT;
        let spins = 0;
        while (Atomics.load(ctl, done) !== seq) {
          if (++spins > 4000) Atomics.wait(ctl, done, Atomics.load(ctl, done), 20);
        }
      }
      if (error) throw error;
      if (Atomics.load(ctl, FAILED)) {
        Atomics.store(ctl, FAILED, 0);
        throw new Error('cpu backend: a worker thread failed (see its message above)');
      }
    },
  };
}
