// Node adapter for the cpu backend: worker threads, the CPU count and the V8 flag for
// relaxed SIMD. Every Node-only API of the backend lives here, so a browser build can swap
// this one file (Web Workers + navigator.hardwareConcurrency) and keep everything else.
//
// Work is a queue of chunks, not one fixed share per thread: a job is "call export fn once
// per chunk, with that chunk's arguments followed by the calling thread's own scratch
// arguments". The main thread and the workers all take the next chunk with an atomic
// counter until none is left, so a thread slowed down by another process (the cores are
// shared) simply takes fewer chunks. No messages on the hot path: the main thread writes
// the job into shared memory, bumps `seq` and notifies; workers (spinning briefly, then
// sleeping in Atomics.wait) run chunks and bump their `done` slot to `seq`.
import os from 'node:os';
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { WasmMemory, WasmModule } from './wasm_api.ts';

// Layout of the shared control array `ctl` (int32): a job header, then one slot per worker.
const SEQ = 0; // job number, bumped by the main thread
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

/** Enables V8's relaxed SIMD (f32x4.relaxed_madd = FMA) on Node 20; must run before compiling. */
export function enableRelaxedSimd(): void {
  try {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    // a V8 without the flag: callers detect support with WebAssembly.validate
  }
}

export function hardwareThreads(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

// The chunk loop, shared verbatim by the main thread (below) and the workers (its source text
// is pasted into WORKER_SOURCE, so it may not refer to any name outside itself: the layout
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

// The worker's whole program: plain JavaScript run with eval, so it needs no TypeScript
// loader. It instantiates the shared module and then waits for jobs forever.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { module, memory, ctlBuf, chunkBuf, localBuf, names, id } = workerData;
const instance = new WebAssembly.Instance(module, { env: { memory, log: Math.log } });
const fns = names.map((n) => instance.exports[n]);
const ctl = new Int32Array(ctlBuf);
const chunkArgs = new Float64Array(chunkBuf);
const localArgs = new Float64Array(localBuf);
const takeChunks = ${takeChunks.toString()};
const done = ${HEADER} + (id - 1) * ${SLOT};
let seen = 0;
parentPort.postMessage('ready');
for (;;) {
  // spin a little (jobs come in bursts), then sleep until the main thread bumps seq
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
`;

/** Runs chunked jobs over exports of one wasm module, on the main thread plus workers. */
export interface ThreadPool {
  /** Threads including the main one. */
  readonly size: number;
  /** Sets thread t's local arguments (its scratch pointers). */
  setLocal(t: number, args: number[]): void;
  /** Calls export `fn` once per chunk on all threads; returns when every chunk is done. */
  run(fn: number, chunks: number[][], nlocal: number): void;
}

export async function startPool(
  module: WasmModule, memory: WasmMemory, names: string[], fns: ((...a: number[]) => unknown)[], threads: number,
): Promise<ThreadPool> {
  const workers = Math.max(0, threads - 1);
  const ctlBuf = new SharedArrayBuffer((HEADER + workers * SLOT) * 4);
  const chunkBuf = new SharedArrayBuffer(MAX_CHUNKS * MAX_ARGS * 8);
  const localBuf = new SharedArrayBuffer((workers + 1) * MAX_LOCAL * 8);
  const ctl = new Int32Array(ctlBuf);
  const chunkArgs = new Float64Array(chunkBuf);
  const localArgs = new Float64Array(localBuf);
  await Promise.all(
    Array.from({ length: workers }, (_, i) => new Promise<Worker>((resolve, reject) => {
      // the source is CommonJS: a parent run as `node --input-type=module` must not pass that on
      const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
      const w = new Worker(WORKER_SOURCE, { eval: true, execArgv, workerData: { module, memory, ctlBuf, chunkBuf, localBuf, names, id: i + 1 } });
      w.once('message', () => {
        w.unref(); // from now on an idle pool must not keep the process alive
        resolve(w);
      });
      w.once('error', reject);
    })),
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
