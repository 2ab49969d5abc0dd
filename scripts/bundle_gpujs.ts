// Bundles gpu.js (with its dependencies acorn and gpu-mock.js) into dist/vendor/gpu.cjs, the one
// copy of gpu.js that tsgrad's gpu.js backends load (src/autograd/backends/gpujs/launch.ts).
// Why a bundle: gpu.js pins webgpu 0.2.9, so a package that depended on gpu.js would install a
// second Dawn (84 MB) beside the webgpu 0.6.2 tsgrad uses, in every user's node_modules; and
// 0.2.9's binary does not even load on Debian 12 (its libstdc++ lacks GLIBCXX_3.4.32). Bundled,
// gpu.js is a devDependency only, and a user of the package installs one Dawn.
// Promise: class and function names survive (the backends check which gpu.js kernel class
// ran), the three packages' licences head the file, and `gl` (opt-in headless-gl) stays a
// runtime require, resolved from the user's node_modules. Run by `npm run build`.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** A bundled package's directory, version and licence text. */
function bundled(name: string): { dir: string; notice: string; main: string } {
  const dir = dirname(require.resolve(`${name}/package.json`, { paths: [dirname(require.resolve('gpu.js/package.json'))] }));
  const { version, main } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string; main: string };
  return { dir, main, notice: `${name} ${version}:\n\n${readFileSync(join(dir, 'LICENSE'), 'utf8').trim()}` };
}

const [gpujs, ...deps] = ['gpu.js', 'acorn', 'gpu-mock.js'].map(bundled);

await build({
  entryPoints: [join(gpujs.dir, gpujs.main)],
  outfile: 'dist/vendor/gpu.cjs',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  keepNames: true,
  external: ['gl'],
  banner: { js: `/*! Bundled by tsgrad's scripts/bundle_gpujs.ts from these packages:\n\n${[gpujs, ...deps].map((p) => p.notice).join('\n\n')}\n*/` },
  logLevel: 'warning',
});
