// Node-only wiring: gives this process the browser's `navigator.gpu`, backed by Dawn (npm
// `webgpu`), so gpu.js's `mode: 'webgpu'` finds it. Promise: idempotent; throws a clear
// error when Dawn's native module cannot load.

export async function installNodeWebGPU(): Promise<void> {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator?.gpu) return;
  let dawn: typeof import('webgpu');
  try {
    dawn = await import('webgpu');
  } catch (e) {
    throw new Error(`webgpu: the Dawn module (npm 'webgpu') does not load: ${(e as Error).message}`);
  }
  Object.assign(globalThis, dawn.globals);
  // Node ≥ 21 has a read-only navigator; define the property instead of assigning it
  Object.defineProperty(globalThis, 'navigator', { value: { ...(g.navigator ?? {}), gpu: dawn.create([]) }, configurable: true, writable: true });
}
