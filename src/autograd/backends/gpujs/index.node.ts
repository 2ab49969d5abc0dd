// Node's gpu.js backends: 'webgpu' (Dawn over Vulkan), 'headlessgl' (WebGL 1 in Node, under a
// display) and 'webasm' (WebAssembly + SIMD on the CPU), built by ./index.ts on the gpu.js
// bundle of load.node.ts, and 'auto', which picks the fastest backend this machine runs. Promise:
// as ./index.ts's builders; a module that fails to load is a plain Error.
import { createRequire } from 'node:module';
import { BackendUnavailable, registeredBackends, setBackend, type BackendOptions } from '../registry.ts';
import type { Backend } from '../../backend.ts';
import { createDeviceBackend } from './device.ts';
import { checkedLauncher, glRowSplit, tracked, webasmBackend, webgpuBackend } from './index.ts';
import { loadGpuJs } from './load.node.ts';

/** WebGPU through Dawn; on a CPU-only Linux machine, Mesa ≥ 25's lavapipe Vulkan driver. */
export async function createWebGPUBackend(): Promise<Backend> {
  const { installNodeWebGPU } = await import('./webgpu.node.ts');
  await installNodeWebGPU();
  return webgpuBackend(loadGpuJs(), 'install Mesa ≥ 25 lavapipe: mesa-vulkan-drivers libvulkan1 from bookworm-backports, see .ci/install-gpu-deps.sh');
}

/** WebGL 1 through the npm `gl` package; needs an X display (xvfb-run -a on a server). */
export async function createHeadlessGLBackend(): Promise<Backend> {
  let createContext: (w: number, h: number) => WebGLRenderingContextLike | null;
  try {
    createContext = createRequire(import.meta.url)('gl');
  } catch (e) {
    if (!isNotBuilt(e)) throw e;
    throw new BackendUnavailable(`headlessgl: headless-gl (npm 'gl', opt-in: it compiles for minutes) is not installed or not built: run \`npm run setup:headlessgl\` in a tsgrad checkout, or \`npm install gl\` in a project that uses tsgrad (${(e as Error).message.split('\n')[0]})`);
  }
  const ctx = createContext(1, 1);
  if (!ctx) throw new BackendUnavailable(`headlessgl: no GL context opens${process.env.DISPLAY ? '' : ' (DISPLAY is unset: run under xvfb-run -a)'}`);
  const maxTex: number = ctx.getParameter(ctx.MAX_TEXTURE_SIZE);
  ctx.getExtension('STACKGL_destroy_context')?.destroy();
  const gpujs = loadGpuJs();
  if (!gpujs.GPU.isHeadlessGLSupported) throw new Error('headlessgl: gpu.js cannot open a headless-gl context');
  const launcher = await checkedLauncher(gpujs, 'headlessgl');
  return tracked(createDeviceBackend({
    name: 'headlessgl',
    launcher,
    asyncOnly: false,
    // the texture of a [rows, cols] result must fit maxTex × maxTex
    maxElements: maxTex * maxTex,
    rowSplit: (rows, cols) => glRowSplit(rows, cols, maxTex),
  }), launcher);
}

/** `gl` is absent (not installed) or its native part was never compiled: not a broken backend. */
function isNotBuilt(e: unknown): boolean {
  const { code, message } = e as { code?: string; message?: string };
  return code === 'MODULE_NOT_FOUND' || /Could not locate the bindings file/.test(message ?? '');
}

/** WebAssembly (f32x4 SIMD) on the CPU: host memory, so no handles and no transfers. */
export function createWebAsmBackend(): Promise<Backend> {
  return webasmBackend(loadGpuJs());
}

// Just the part of WebGL this file touches.
interface WebGLRenderingContextLike {
  MAX_TEXTURE_SIZE: number;
  getParameter(p: number): number;
  getExtension(name: string): { destroy(): void } | null;
}

/**
 * 'auto': webgpu if a hardware adapter answers, else headlessgl if a GL context opens, else
 * the 'cpu' backend (or the reference 'js' where 'cpu' is not registered). Tells `opts.log`
 * which, and why. The adapter is asked for in a child process (adapter_probe.node.ts), so
 * Dawn is loaded here only when it will run the kernels. A software WebGPU adapter (lavapipe:
 * `info.isFallbackAdapter`) is passed over: it runs at about 1 GFLOP/s, far below 'cpu'; ask
 * for `--backend webgpu` to use it anyway.
 */
export async function createAutoBackend(opts: BackendOptions = {}): Promise<Backend> {
  const reasons: string[] = [];
  const firstLine = (e: unknown) => (e as Error).message.split('\n')[0];
  const picked = (name: string): void => {
    opts.log?.(`tsgrad: backend auto → ${name}${reasons.length ? ` (${reasons.join('; ')})` : ''}`);
  };
  const { probeWebGPUAdapter } = await import('./adapter_probe.node.ts');
  const probe = await probeWebGPUAdapter();
  if (probe.adapter === 'hardware') {
    try {
      const backend = await createWebGPUBackend();
      picked(backend.name);
      return backend;
    } catch (e) {
      reasons.push(firstLine(e));
    }
  } else {
    reasons.push(probe.adapter === 'software' ? `webgpu: software adapter only (${probe.detail})` : probe.detail);
  }
  try {
    const backend = await createHeadlessGLBackend();
    picked(backend.name);
    return backend;
  } catch (e) {
    reasons.push(firstLine(e));
  }
  const name = registeredBackends().includes('cpu') ? 'cpu' : 'js';
  picked(name);
  return setBackend(name); // setBackend('auto') makes the result current right after
}
