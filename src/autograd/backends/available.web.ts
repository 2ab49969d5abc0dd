// The backends a browser page can load by name, besides the reference 'js': 'cpu' (WebAssembly
// SIMD on Web Workers; its calls block in Atomics.wait, so only inside a Worker), 'webgpu' and
// 'webasm' (gpu.js). Importing this file is what makes `setBackend(NAME)` know them.
import { registerBackend } from './registry.ts';
registerBackend('cpu', async () => {
  const [{ createCpuBackend }, { webThreads }] = await Promise.all([import('./cpu/index.ts'), import('./cpu/threads.web.ts')]);
  return createCpuBackend(webThreads);
});
registerBackend('webgpu', () => import('./gpujs/index.web.ts').then((m) => m.createWebGPUBackend()));
registerBackend('webasm', () => import('./gpujs/index.web.ts').then((m) => m.createWebAsmBackend()));
