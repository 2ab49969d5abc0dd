// The backends tsgrad can load by name. Each is registered lazily: its code (and gpu.js,
// worker threads, WebAssembly compilation) loads only when setBackend asks for it.
// Importing this file is what makes `--backend NAME` and `setBackend(NAME)` know the names.
import { registerBackend } from './registry.ts';
registerBackend('cpu', () => import('./cpu/index.ts').then((m) => m.createCpuBackend()));
registerBackend('webgpu', () => import('./gpujs/index.ts').then((m) => m.createWebGPUBackend()));
registerBackend('headlessgl', () => import('./gpujs/index.ts').then((m) => m.createHeadlessGLBackend()));
registerBackend('webasm', () => import('./gpujs/index.ts').then((m) => m.createWebAsmBackend()));
registerBackend('auto', (opts) => import('./gpujs/index.ts').then((m) => m.createAutoBackend(opts)));
