// The page in a real browser: Debian's chromium (/usr/bin/chromium, or $TSGRAD_CHROMIUM)
// driven by playwright-core, on the page `npm run web` serves (servePage, on a free port).
//   - Served with the COOP/COEP headers the page is crossOriginIsolated, and every backend the
//     browser offers computes the backend check (src/train/web/backend_check.ts: kernels and
//     three AdamW steps of the overfit GPT-2) like Node's reference 'js', within the stated
//     tolerances: js, cpu (on several threads where the machine has several cores) and webasm
//     without flags, where webgpu reports that it has no adapter; webgpu on SwiftShader (the CPU)
//     with --enable-unsafe-webgpu.
//   - Served without those headers (a plain static host), the cpu backend runs on one thread
//     and computes the same numbers.
//   - `npm run web` prints its URL and serves with the headers (and `--data DIR`'s .bin files);
//     `npm run web:build` writes the static page and refuses to write over a folder of other files.
// Without chromium or playwright-core the browser tests skip, saying why; with `chromium` in
// TSGRAD_REQUIRE_BACKENDS (.ci/run installs it) they fail instead. A screenshot of each page
// goes to this run's temporary folder (printed; kept). No timed assertions: the bound on the
// wait for a page is a guard against a hung browser, far above the ~40 s a page takes here.
import { before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setBackend } from '../src/autograd/backends/registry.ts';
import { backendCheck, checkErrors, type CheckValues } from '../src/train/web/backend_check.ts';
import type { CheckResult, PageReport } from '../src/train/web/protocol.ts';
import { buildPage } from '../src/train/web/bundle.node.ts';
import { ISOLATION_HEADERS, servePage } from '../src/train/web/server.node.ts';
import { jobEnd, launch, pageErrors, scratchFolder, playwrightOrSkip, requiredBrowser, type Browser, type Playwright } from './helpers/chromium.ts';

/**
 * Worst max |Δ| / max |ref| over the quantities of the check, per backend, against Node's 'js'.
 *   js:     the same code, IEEE double arithmetic and Math functions (V8's port of fdlibm in
 *           both): identical, 0 here; 1e-6 leaves room for an ulp of a Math function.
 *   cpu:    float32 sums in another order, with FMA: the same bounds as test/cpu_backend.test.ts
 *           (≤ 1e-5 relative per kernel), through 3 Adam steps; observed 2e-6.
 *   webasm, webgpu: gpu.js kernels (float32, no FMA, their own exp): observed 1e-5, as the
 *           PyTorch parity checks of test/gpujs_backends.test.ts allow.
 */
const TOLERANCE: Record<string, number> = { js: 1e-6, cpu: 1e-4, webasm: 1e-4, webgpu: 1e-4 };
const { scratch, shots } = scratchFolder();
let browser: Browser;
let reference: CheckValues;


interface PageRun {
  report: PageReport;
  /** Uncaught errors and console errors of the page and its workers. */
  errors: string[];
}

/** Opens the page in a fresh headless chromium, waits until it is done, screenshots it. */
async function runPage(t: TestContext, pw: Playwright, opts: { isolated: boolean; webgpu: boolean; backends: string[]; shot: string }): Promise<PageRun> {
  const server = await servePage({ port: 0, isolated: opts.isolated });
  const profile = join(scratch, 'profiles', opts.shot);
  mkdirSync(profile, { recursive: true });
  const context = await launch(pw, profile, opts);
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const errors = pageErrors(page);
    await page.goto(`${server.url}?check=1&backends=${opts.backends.join(',')}`);
    const state = await jobEnd(page);
    const shot = join(shots, `${opts.shot}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);
    assert.match(state, /^done: /, `the page ended in ${state}`);
    const report = await page.evaluate<PageReport>('window.tsgradReport');
    for (const r of report.results) t.diagnostic(`${r.backend}: ${r.type === 'checked' ? `${r.detail}, ${(r.ms / 1000).toFixed(1)} s` : r.type === 'unavailable' ? r.reason : r.error}`);
    return { report, errors };
  } finally {
    await context.close();
    await server.close();
  }
}

/** The result for `backend`, which must have run and match Node's reference within its tolerance. */
function matchesReference(t: TestContext, results: CheckResult[], backend: string): Extract<CheckResult, { type: 'checked' }> {
  const r = results.find((x) => x.backend === backend);
  assert.ok(r, `the page reported nothing for ${backend}`);
  assert.equal(r.type, 'checked', `${backend} did not run: ${JSON.stringify(r)}`);
  const errors = Object.entries(checkErrors(r.values, reference));
  const [worstName, worst] = errors.reduce((a, b) => (b[1] > a[1] || Number.isNaN(b[1]) ? b : a));
  const kernels = Math.max(...errors.filter(([n]) => !n.startsWith('gpt2.')).map(([, e]) => e));
  const losses = checkErrors({ l: r.values['gpt2.losses'] }, { l: reference['gpt2.losses'] }).l;
  t.diagnostic(`${backend} vs Node js: worst ${worst.toExponential(1)} (${worstName}); kernels ${kernels.toExponential(1)}; GPT-2 losses ${losses.toExponential(1)} (${r.values['gpt2.losses'].map((l) => l.toFixed(5)).join(' → ')})`);
  assert.ok(worst <= TOLERANCE[backend], `${backend}: ${worstName} is off by ${worst} of its scale (tolerance ${TOLERANCE[backend]})`);
  return r;
}

describe('the page in Chromium', () => {
  before(async () => {
    browser = await requiredBrowser();
    if ('why' in browser) return;
    await setBackend('js');
    reference = await backendCheck();
  });

  test('cross-origin isolated: js, cpu (threads) and webasm equal Node\'s reference; webgpu says it has no adapter', async (t) => {
    const pw = playwrightOrSkip(browser, t);
    if (!pw) return;
    const { report, errors } = await runPage(t, pw, { isolated: true, webgpu: false, backends: ['js', 'cpu', 'webasm', 'webgpu'], shot: 'isolated' });
    assert.deepEqual(errors, []);
    assert.equal(report.crossOriginIsolated, true);
    for (const backend of ['js', 'cpu', 'webasm']) matchesReference(t, report.results, backend);
    const cpu = report.results.find((r) => r.backend === 'cpu') as Extract<CheckResult, { type: 'checked' }>;
    const threads = Math.min(64, report.hardwareConcurrency);
    assert.match(cpu.detail, new RegExp(`^${threads} threads?\\b`), 'the cpu backend should use a thread per core');
    const webgpu = report.results.find((r) => r.backend === 'webgpu');
    assert.equal(webgpu?.type, 'unavailable', 'Chromium without --enable-unsafe-webgpu has no WebGPU adapter here');
  });

  test('webgpu on SwiftShader (--enable-unsafe-webgpu) equals Node\'s reference', async (t) => {
    const pw = playwrightOrSkip(browser, t);
    if (!pw) return;
    const { report, errors } = await runPage(t, pw, { isolated: true, webgpu: true, backends: ['webgpu'], shot: 'webgpu' });
    assert.deepEqual(errors, []);
    const r = matchesReference(t, report.results, 'webgpu');
    assert.match(r.detail, /swiftshader/i, 'the adapter Chromium gives here is SwiftShader');
  });

  test('not cross-origin isolated (no COOP/COEP headers): the cpu backend runs on one thread and equals Node\'s reference', async (t) => {
    const pw = playwrightOrSkip(browser, t);
    if (!pw) return;
    const { report, errors } = await runPage(t, pw, { isolated: false, webgpu: false, backends: ['cpu'], shot: 'not-isolated' });
    assert.deepEqual(errors, []);
    assert.equal(report.crossOriginIsolated, false);
    const r = matchesReference(t, report.results, 'cpu');
    assert.match(r.detail, /^1 thread\b.*not cross-origin isolated/);
  });
});

describe('npm run web and web:build', () => {
  test('npm run web prints its URL and serves the page with the COOP/COEP headers', async () => {
    // its own process group, so that the end of the test stops esbuild's service process too
    // (it holds the command's stderr, and with it this test process, open)
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/train/cli/web.ts', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d;
          const m = /^tsgrad page: (http:\/\/127\.0\.0\.1:\d+\/)$/m.exec(out);
          if (m) resolve(m[1]);
        });
        child.stderr.on('data', (d: Buffer) => (out += d));
        child.once('exit', (code) => reject(new Error(`npm run web exited ${code} before printing its URL:\n${out}`)));
      });
      for (const path of ['', 'main.js', 'trainer.worker.js']) {
        const res = await fetch(url + path);
        assert.equal(res.status, 200, `${url}${path}`);
        for (const [name, value] of Object.entries(ISOLATION_HEADERS)) assert.equal(res.headers.get(name), value, `${name} of ${url}${path}`);
        await res.arrayBuffer();
      }
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
    }
  });

  test('npm run web -- --data DIR serves DIR/train.bin and val.bin as data/, with the headers; a folder without train.bin is one line', async () => {
    const dir = join(scratch, 'build', 'data');
    mkdirSync(dir, { recursive: true });
    const bytes = new Uint8Array([1, 0, 2, 0, 3, 0]);
    writeFileSync(join(dir, 'train.bin'), bytes);
    const server = await servePage({ port: 0, data: dir });
    try {
      assert.deepEqual(server.data, { train: join(dir, 'train.bin'), val: null });
      const train = await fetch(`${server.url}data/train.bin`);
      assert.equal(train.status, 200);
      for (const [name, value] of Object.entries(ISOLATION_HEADERS)) assert.equal(train.headers.get(name), value, name);
      assert.deepEqual(new Uint8Array(await train.arrayBuffer()), bytes);
      const val = await fetch(`${server.url}data/val.bin`);
      assert.equal(val.status, 404, 'no val.bin in DIR');
      await val.arrayBuffer();
    } finally {
      await server.close();
    }
    const empty = join(scratch, 'build', 'empty');
    mkdirSync(empty, { recursive: true });
    await assert.rejects(servePage({ port: 0, data: empty }), { message: `--data ${empty}: no train.bin there (make one with npm run pretokenize)` });
  });

  test('npm run web:build writes the static page, replaces an earlier build, refuses a folder of other files', async () => {
    const out = join(scratch, 'build', 'page');
    await buildPage(out);
    await buildPage(out); // over an earlier build
    for (const file of ['index.html', 'main.js', 'trainer.worker.js']) assert.ok(existsSync(join(out, file)), `no ${file} in ${out}`);
    const other = join(scratch, 'build', 'other');
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, 'notes.txt'), 'mine');
    await assert.rejects(buildPage(other), { message: `${other} is not empty and holds no earlier page build: pick another --out` });
    assert.ok(existsSync(join(other, 'notes.txt')), 'the folder of other files lost a file');
  });
});
