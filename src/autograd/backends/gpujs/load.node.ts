// Node adapter: gpu.js for the gpu.js backends, from the bundle `npm run build` writes to
// dist/vendor/gpu.cjs (see scripts/bundle_gpujs.ts for why it is bundled).
import { createRequire } from 'node:module';
import type { GpuJs } from './launch.ts';

/**
 * Loaded on first use so backends that do not use it pay nothing. The path is the same from
 * src/autograd/backends/gpujs/ in a checkout and from dist/autograd/backends/gpujs/ in the
 * package: four levels up, then dist/vendor.
 */
export function loadGpuJs(): GpuJs {
  const bundle = '../../../../dist/vendor/gpu.cjs';
  try {
    return createRequire(import.meta.url)(bundle) as GpuJs;
  } catch (e) {
    const missing = (e as { code?: string }).code === 'MODULE_NOT_FOUND' && (e as Error).message.includes('gpu.cjs');
    throw new Error(missing ? `gpu.js: ${new URL(bundle, import.meta.url).pathname} is missing: run \`npm run build\`` : `gpu.js: ${(e as Error).message.split('\n')[0]}`);
  }
}
