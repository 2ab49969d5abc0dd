// Node adapter for the cpu backend (the ThreadHost of ./threads.ts): worker_threads, the CPU
// count and the V8 flag for relaxed SIMD. Every Node-only API of the backend lives here.
import os from 'node:os';
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import { WORKER_MAIN, type ThreadHost } from './threads.ts';

// CommonJS run with eval, so the worker needs no TypeScript loader
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
(${WORKER_MAIN})(workerData, () => parentPort.postMessage('ready'));
`;

export const nodeThreads: ThreadHost = {
  hardwareThreads: () => (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length),
  canShareMemory: () => true,
  /** Enables V8's relaxed SIMD (f32x4.relaxed_madd = FMA) on Node 20; must run before compiling. */
  enableRelaxedSimd() {
    try {
      v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    } catch {
      // a V8 without the flag: callers detect support with WebAssembly.validate
    }
  },
  startWorker: (workerData) => new Promise<void>((resolve, reject) => {
    // the source is CommonJS: a parent run as `node --input-type=module` must not pass that on
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
    const w = new Worker(WORKER_SOURCE, { eval: true, execArgv, workerData });
    w.once('message', () => {
      w.unref(); // from now on an idle pool must not keep the process alive
      resolve();
    });
    w.once('error', reject);
  }),
};
