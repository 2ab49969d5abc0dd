// The page's engine: a dedicated Worker that loads the backends and runs what the UI asks for
// (./protocol.ts). It lives off the page's main thread because the cpu backend blocks its
// calling thread in Atomics.wait, which a page's main thread may not do; the cpu backend
// starts its own Web Workers from here. Requests are answered one at a time, in order.
import '../../autograd/backends/available.web.ts';
import { BackendUnavailable, setBackend } from '../../autograd/backends/registry.ts';
import type { Backend } from '../../autograd/backend.ts';
import { backendCheck } from './backend_check.ts';
import type { FromTrainer, Port, ToTrainer } from './protocol.ts';

const port = self as unknown as Port<ToTrainer, FromTrainer>;

interface AdapterInfo {
  vendor: string;
  architecture: string;
  description: string;
  isFallbackAdapter?: boolean;
}

/** One line on what runs the kernels: threads for cpu, the WebGPU adapter for the gpu.js backends. */
async function describe(backend: Backend): Promise<string> {
  if (backend.name === 'cpu') {
    const { threads, fma } = backend as Backend & { threads: number; fma: boolean };
    const why = crossOriginIsolated ? '' : ' (the page is not cross-origin isolated: no shared memory for workers)';
    return `${threads} thread${threads === 1 ? '' : 's'}${fma ? ', relaxed-SIMD FMA' : ''}${why}`;
  }
  if (backend.name === 'webgpu') {
    const gpu = (navigator as unknown as { gpu: { requestAdapter(): Promise<{ info: AdapterInfo } | null> } }).gpu;
    const info = (await gpu.requestAdapter())?.info;
    if (!info) return 'no adapter';
    const name = [info.vendor, info.architecture, info.description].filter((s) => s).join(' ');
    return `adapter: ${name || 'unnamed'}${info.isFallbackAdapter ? ' (software fallback)' : ''}`;
  }
  return backend.name === 'js' ? 'reference kernels (plain JavaScript)' : 'gpu.js WebAssembly kernels';
}

async function answer(msg: ToTrainer): Promise<FromTrainer> {
  const { backend: name } = msg;
  try {
    const backend = await setBackend(name);
    const t0 = performance.now();
    const values = await backendCheck();
    return { type: 'checked', backend: name, detail: await describe(backend), ms: performance.now() - t0, values };
  } catch (e) {
    if (e instanceof BackendUnavailable) return { type: 'unavailable', backend: name, reason: e.message };
    return { type: 'failed', backend: name, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
}

let queue = Promise.resolve();
port.onmessage = ({ data }) => {
  queue = queue.then(async () => port.postMessage(await answer(data)));
};
