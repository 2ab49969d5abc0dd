// The backends tsgrad can load by name. Each is registered lazily: its code (and gpu.js,
// worker threads, WebAssembly compilation) loads only when setBackend asks for it.
// Importing this file is what makes `--backend NAME` and `setBackend(NAME)` know the names.
import { registerBackend } from './registry.ts';
registerBackend('cpu', async () => {
  const [{ createCpuBackend }, { nodeThreads }] = await Promise.all([import('./cpu/index.ts'), import('./cpu/threads.node.ts')]);
  return createCpuBackend(nodeThreads);
});
registerBackend('webgpu', () => import('./gpujs/index.node.ts').then((m) => m.createWebGPUBackend()));
registerBackend('headlessgl', () => import('./gpujs/index.node.ts').then((m) => m.createHeadlessGLBackend()));
registerBackend('webasm', () => import('./gpujs/index.node.ts').then((m) => m.createWebAsmBackend()));
registerBackend('auto', (opts) => import('./gpujs/index.node.ts').then((m) => m.createAutoBackend(opts)));
