// Which backend the page's trainer worker runs, and what it runs on. `auto` takes WebGPU when
// navigator.gpu gives an adapter that is not a software fallback (SwiftShader, on the CPU, is
// slower than the cpu backend), else the cpu backend (WebAssembly SIMD on Web Workers over
// shared memory; one thread when the page is not cross-origin isolated), else the reference
// 'js'. A name picks that backend.
// Promise: each backend is started once per worker (the cpu backend's threads are not started
// again on a switch back), and every answer says in words what was chosen and why.
import '../../autograd/backends/available.web.ts';
import { setBackend } from '../../autograd/backends/registry.ts';
import type { Backend } from '../../autograd/backend.ts';

interface AdapterInfo {
  vendor: string;
  architecture: string;
  description: string;
  isFallbackAdapter?: boolean;
}
interface GPUAdapterLike {
  info: AdapterInfo;
  /** Older Chromium (before `info.isFallbackAdapter`). */
  isFallbackAdapter?: boolean;
}
const gpu = (globalThis.navigator as unknown as { gpu?: { requestAdapter(): Promise<GPUAdapterLike | null> } }).gpu;

/** The WebGPU adapter in words, or null when the browser offers none. */
async function adapter(): Promise<{ name: string; fallback: boolean } | null> {
  const a = await gpu?.requestAdapter();
  if (!a) return null;
  const name = [a.info.vendor, a.info.architecture, a.info.description].filter((s) => s).join(' ') || 'unnamed';
  return { name, fallback: a.info.isFallbackAdapter ?? a.isFallbackAdapter ?? false };
}

/** One line on what runs the kernels: threads for cpu, the WebGPU adapter for the gpu.js backends. */
export async function describe(backend: Backend): Promise<string> {
  if (backend.name === 'cpu') {
    const { threads, fma } = backend as Backend & { threads: number; fma: boolean };
    const why = crossOriginIsolated ? '' : ' (the page is not cross-origin isolated: no shared memory for workers)';
    return `${threads} thread${threads === 1 ? '' : 's'}${fma ? ', relaxed-SIMD FMA' : ''}${why}`;
  }
  if (backend.name === 'webgpu') {
    const a = await adapter();
    return a === null ? 'no adapter' : `adapter: ${a.name}${a.fallback ? ' (software fallback)' : ''}`;
  }
  return backend.name === 'js' ? 'reference kernels (plain JavaScript)' : 'gpu.js WebAssembly kernels';
}

const started = new Map<string, Backend>();

/** Makes the named backend current, starting it the first time. */
export async function useBackend(name: string): Promise<Backend> {
  const backend = started.get(name) ?? (await setBackend(name));
  started.set(name, backend);
  return setBackend(backend);
}

export interface Chosen {
  backend: Backend;
  /** What runs the kernels (describe). */
  detail: string;
  /** For auto: why the others were passed over ('' when the first choice ran). */
  why: string;
}

/** `choice` is 'auto' or a backend's name; a named backend that cannot start rejects. */
export async function chooseBackend(choice: string): Promise<Chosen> {
  const chosen = async (backend: Backend, why: string[]): Promise<Chosen> => ({ backend, detail: await describe(backend), why: why.join('; ') });
  if (choice !== 'auto') return chosen(await useBackend(choice), []);
  const why: string[] = [];
  const a = await adapter();
  if (a === null) why.push('webgpu: this browser offers no adapter');
  else if (a.fallback) why.push(`webgpu: the adapter is a software fallback (${a.name}), slower than cpu`);
  else {
    try {
      return await chosen(await useBackend('webgpu'), why);
    } catch (e) {
      why.push(`webgpu: ${(e as Error).message}`);
    }
  }
  try {
    return await chosen(await useBackend('cpu'), why);
  } catch (e) {
    why.push(`cpu: ${(e as Error).message}`); // e.g. a browser without WebAssembly SIMD
  }
  return chosen(await useBackend('js'), why);
}
