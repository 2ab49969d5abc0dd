// The install a new user runs: `npm ci` compiles nothing (headless-gl, which builds from source
// for minutes, is opt-in through `npm run setup:headlessgl`), the headlessgl backend says how to
// enable it when `gl` is absent, and CI runs exactly the README's commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string>; allowScripts: Record<string, boolean> };
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };

/** Install scripts that only check or unpack a prebuilt binary (esbuild's postinstall verifies its platform binary). */
const NO_COMPILE = new Set(['esbuild']);

test('npm ci runs no install script that compiles: every package with one is denied, or known not to compile', () => {
  const withScripts = Object.entries(lock.packages)
    .filter(([, p]) => p.hasInstallScript)
    .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
  assert.ok(withScripts.includes('gl'), 'gl is no longer in the lockfile: update this test and setup:headlessgl');
  for (const name of withScripts) {
    assert.ok(name in pkg.allowScripts, `${name} has an install script that package.json "allowScripts" neither allows nor denies (npm would run it with a notice)`);
    if (pkg.allowScripts[name]) assert.ok(NO_COMPILE.has(name), `allowScripts lets ${name} run its install script during npm ci`);
  }
  assert.equal(pkg.allowScripts.gl, false);
  assert.match(pkg.scripts['setup:headlessgl'], /\bnpm rebuild gl\b/);
});

test("without a built 'gl', the headlessgl backend says how to enable it", () => {
  // a child in which require('gl') fails as it does when gl is absent or unbuilt
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-install-'));
  try {
    // loaded after tsx, so this resolver wraps tsx's own
    const hide = join(dir, 'hide_gl.mjs');
    writeFileSync(
      hide,
      `import Module from 'node:module';
       const resolve = Module._resolveFilename;
       Module._resolveFilename = function (request, ...rest) {
         if (request === 'gl') throw Object.assign(new Error("Cannot find module 'gl'"), { code: 'MODULE_NOT_FOUND' });
         return resolve.call(this, request, ...rest);
       };`,
    );
    const script = "import('./src/autograd/backends/gpujs/index.node.ts').then((m) => m.createHeadlessGLBackend()).then(() => process.exit(3), (e) => { console.log(e.message); })";
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', pathToFileURL(hide).href, '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^headlessgl: .*not installed or not built.*`npm run setup:headlessgl`.*`npm install gl`/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("CI runs the README's install and test commands, with headless-gl built between them", () => {
  const readme = readFileSync('README.md', 'utf8');
  const block = /## Install, run, test\n+```sh\n([\s\S]*?)```/.exec(readme)![1];
  const readmeCommands = block.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter((l) => /^npm (ci|test)$/.test(l));
  assert.deepEqual(readmeCommands, ['npm ci', 'npm test']);
  assert.match(readme, /`npm run setup:headlessgl`/, 'the README does not say how to build headless-gl');
  const ci = readFileSync('.ci/run', 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^npm /.test(l));
  assert.deepEqual(ci, ['npm ci', 'npm run setup:headlessgl', 'npm test']);
});
