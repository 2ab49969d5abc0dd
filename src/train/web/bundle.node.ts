// How the page is bundled (esbuild): index.html, main.ts (the UI) and trainer.worker.ts (the
// engine, in a module Worker), for browsers with module workers and WebAssembly SIMD. Backends
// load on demand (gpu.js only for webgpu and webasm): code splitting makes them chunks of their
// own. gpu.js comes from its package's browser build. Names are kept: the gpu.js backends
// check which gpu.js kernel class ran.
// Promise: the same options for `npm run web` (served from memory, see ./server.node.ts) and
// `npm run web:build` (written to a folder, minified, nothing stale left beside it).
import { build, type BuildOptions } from 'esbuild';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

export function pageBuildOptions(outdir: string, minify: boolean): BuildOptions {
  return {
    entryPoints: [here('index.html'), here('main.ts'), here('trainer.worker.ts')],
    loader: { '.html': 'copy' },
    outdir,
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome113', 'firefox141', 'safari26'],
    minify,
    keepNames: true,
    sourcemap: true,
    logLevel: 'warning',
  };
}

/**
 * Writes the static page to `outdir` (index.html, main.js, trainer.worker.js, chunks/),
 * replacing an earlier build there; refuses a folder with other files in it.
 */
export async function buildPage(outdir: string): Promise<void> {
  if (existsSync(outdir) && readdirSync(outdir).length > 0) {
    if (!existsSync(join(outdir, 'trainer.worker.js'))) throw new Error(`${outdir} is not empty and holds no earlier page build: pick another --out`);
    rmSync(outdir, { recursive: true });
  }
  await build(pageBuildOptions(outdir, true));
}
