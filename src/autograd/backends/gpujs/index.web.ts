// The browser's gpu.js backends, on gpu.js's browser build (its package's `browser` field,
// which a bundler picks): 'webgpu' over the page's navigator.gpu and 'webasm'. Chromium gives
// an adapter on a supported GPU, or SwiftShader's (on the CPU) with --enable-unsafe-webgpu.
import gpujsModule from 'gpu.js';
import type { Backend } from '../../backend.ts';
import { webasmBackend, webgpuBackend } from './index.ts';
import type { GpuJs } from './launch.ts';

const gpujs = gpujsModule as unknown as GpuJs;

export function createWebGPUBackend(): Promise<Backend> {
  return webgpuBackend(gpujs, 'this browser offers no WebGPU adapter: Chromium needs a supported GPU, or --enable-unsafe-webgpu for its CPU adapter');
}

export function createWebAsmBackend(): Promise<Backend> {
  return webasmBackend(gpujs);
}
