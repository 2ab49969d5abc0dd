// Browser adapter for the cpu backend (the ThreadHost of ./threads.ts): Web Workers started
// from a Blob URL, navigator.hardwareConcurrency. The backend blocks its calling thread in
// Atomics.wait, which a page's main thread may not do: create it inside a dedicated Worker.
// Workers share memory only in a cross-origin isolated page (served with
// Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp);
// elsewhere canShareMemory() is false and the backend runs on its calling thread alone.

import { WORKER_MAIN, type ThreadHost } from './threads.ts';

// Just the parts of the Web Worker API this file touches (tsconfig's lib has no DOM).
interface WebWorker {
  onmessage: ((e: { data: unknown }) => void) | null;
  onerror: ((e: { message: string }) => void) | null;
  postMessage(data: unknown): void;
}
const web = globalThis as unknown as {
  Worker: new (url: string, opts: { name: string }) => WebWorker;
  navigator: { hardwareConcurrency?: number };
  crossOriginIsolated?: boolean;
};

// a classic script: the first message carries the WorkerData
const WORKER_SOURCE = `onmessage = (e) => (${WORKER_MAIN})(e.data, () => postMessage('ready'));`;
let workerUrl: string | null = null; // one Blob URL serves every worker

export const webThreads: ThreadHost = {
  hardwareThreads: () => web.navigator.hardwareConcurrency ?? 1,
  canShareMemory: () => web.crossOriginIsolated === true,
  enableRelaxedSimd() {
    // browsers that have relaxed SIMD ship it on; WebAssembly.validate tells the others
  },
  startWorker: (data) => new Promise<void>((resolve, reject) => {
    workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'text/javascript' }));
    const w = new web.Worker(workerUrl, { name: `tsgrad cpu ${data.id}` });
    w.onmessage = () => resolve();
    w.onerror = (e) => reject(new Error(`cpu backend: worker ${data.id} did not start: ${e.message}`));
    w.postMessage(data);
  }),
};
