// The training page in a real browser (test/helpers/chromium.ts: Debian's chromium driven by
// playwright-core) on the page `npm run web` serves (servePage, on a free port):
//   - `?preset=overfit&steps=N&backend=B&autostart=1` trains the overfit preset on each backend
//     the browser offers (cpu, WebAssembly SIMD on Web Workers: 60 steps; js, the reference: 3,
//     JS_STEPS; webgpu on SwiftShader with --enable-unsafe-webgpu: 3, WEBGPU_STEPS), and its losses are those of
//     `npm run train:overfit` in Node (cpu backend, same seed) within TOLERANCE; the samples
//     shown as it trains end with the sentence memorised, and Generate streams a continuation.
//   - On cpu, Resume to step 80, Stop on the way and Resume again give Node's losses to step 80.
//   - A final/ folder trained in Node, opened with the folder input, generates the sentence.
//   - Bad input (a .bin that is not uint16 ids, a corrupt checkpoint, a folder with no model)
//     is a one-line error on the page, and the run kept in the browser stays.
// The cpu page's screenshot goes to this run's temporary folder (printed; kept), and to
// docs/web_page.png (shown in README.md) when TSGRAD_UPDATE_SCREENSHOT=1.
// Without chromium or playwright-core the suite skips, saying why; with `chromium` in
// TSGRAD_REQUIRE_BACKENDS (.ci/run) it fails instead. No timed assertions.
import { before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { zipSync } from 'fflate';
import { useBackend } from '../src/train/cli/backend.ts';
import { parseTrainArgs } from '../src/train/cli/commands.ts';
import { trainOnDisk } from '../src/train/run.node.ts';
import { servePage } from '../src/train/web/server.node.ts';
import type { RunReport } from '../src/train/web/protocol.ts';
import { jobEnd, launch, pageErrors, scratchFolder, trainOverfit, playwrightOrSkip, requiredBrowser, type Browser, type Playwright } from './helpers/chromium.ts';
import { losses, root, tmp } from './helpers/train_runs.ts';

const STEPS = 60;
/**
 * SwiftShader runs WebGPU on the CPU, about 20 s a step of the overfit model on this 2-core
 * machine, so in CI's time webgpu trains 3 steps: each kernel's forward, backward and AdamW
 * through 3 updates, against Node's.
 */
const WEBGPU_STEPS = 3;
/**
 * The js backend is the plain-loop reference: about 11 s a step of the overfit model on this
 * machine (its 50257-row head in JavaScript loops), so in CI's time it trains 3 steps: the
 * forward, backward and AdamW of each kernel, through 3 updates, against Node's.
 */
const JS_STEPS = 3;
/** Node's run goes on to step 80, which the cpu page reaches through Stop and Resume (a constant lr: its first 60 steps are a 60-step run's). */
const NODE_STEPS = 80;
/**
 * Worst |page − Node| / |Node| over the losses, against Node's cpu run.
 *   cpu:    the same WebAssembly kernels on as many threads (2 here): 1e-6 allows for another
 *           thread count splitting the sums in another order; observed identical.
 *   js:     double-precision reference kernels, float32 storage, vs cpu's float32 SIMD sums with
 *           FMA: observed 9.4e-8 over 3 steps (2.7e-6 over 60); 1e-6.
 *   webgpu: gpu.js float32 kernels (no FMA, their own exp) on SwiftShader: observed 1.6e-6 over
 *           10 steps; 1e-5 over 3.
 */
const TOLERANCE: Record<string, number> = { cpu: 1e-6, js: 1e-6, webgpu: 1e-5 };
const SENTENCE = 'Hello, I am a large language model.';

const { scratch, shots } = scratchFolder();
let browser: Browser;
/** `npm run train:overfit -- --backend cpu --steps 80`'s run folder and losses. */
let node: { out: string; losses: number[] };


/** A served page in a fresh headless chromium; its errors must stay empty. */
async function withPage(name: string, webgpu: boolean, use: (page: Page, url: string) => Promise<void>, pw: Playwright): Promise<void> {
  const server = await servePage({ port: 0 });
  const profile = join(scratch, 'profiles', name);
  mkdirSync(profile, { recursive: true });
  const context = await launch(pw, profile, { webgpu });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const errors = pageErrors(page);
    await use(page, server.url);
    assert.deepEqual(errors, []);
  } finally {
    await context.close();
    await server.close();
  }
}

/** Checks the page's losses against Node's first ones, within the backend's tolerance (the first word of `what`). */
function closeTo(what: string, losses: number[], t: TestContext): void {
  const errors = losses.map((l, i) => Math.abs(l - node.losses[i]) / Math.abs(node.losses[i]));
  const worst = Math.max(...errors);
  const i = errors.indexOf(worst);
  const tolerance = TOLERANCE[what.split(/\W/)[0]];
  t.diagnostic(`${what}: worst relative difference from Node's cpu losses ${worst.toExponential(1)} at step ${i} of ${losses.length}`);
  assert.ok(worst <= tolerance, `${what}: loss of step ${i} is ${losses[i]}, Node's ${node.losses[i]} (tolerance ${tolerance})`);
}

/** Trains `steps` on `backend`, and checks the losses against Node's and the samples (one every 20 steps and at the last; at 60, the sentence). */
async function trainsLikeNode(t: TestContext, page: Page, url: string, backend: string, steps = STEPS): Promise<RunReport> {
  const { end, run } = await trainOverfit(page, url, backend, steps);
  assert.match(end, new RegExp(`^done: done: ${steps} steps, final loss \\d`), `the page ended in ${end}`);
  assert.equal(run.backend, backend);
  assert.equal(await page.evaluate('document.body.dataset.step'), String(steps));
  assert.equal(Number(await page.evaluate('document.body.dataset.loss')), run.losses[steps - 1]);
  assert.equal(run.losses.length, steps);
  closeTo(backend, run.losses, t);
  t.diagnostic(`${backend} (${run.detail}): ${run.doneLine}`);
  const every20 = [20, 40, 60].filter((s) => s <= steps);
  assert.deepEqual(run.samples.map((s) => s.step), steps % 20 === 0 ? every20 : [...every20, steps], 'a sample after every 20 steps and the last');
  if (steps === STEPS) assert.ok(run.samples[2].text.startsWith(SENTENCE), `the last sample shows the sentence memorised: ${JSON.stringify(run.samples[2].text)}`);
  return run;
}

/** Generates from the prompt with greedy decoding; returns the text, which must have come token by token. */
async function generate(page: Page, tokens: number): Promise<string> {
  await page.fill('#prompt', 'Hello, I am');
  await page.fill('#max-tokens', String(tokens));
  await page.fill('#temperature', '0');
  await page.evaluate("document.body.dataset.state = 'asked'"); // jobEnd waits for this job's end
  await page.click('#generate');
  const end = await jobEnd(page);
  assert.match(end, /^done: \d+ tokens from /, `Generate ended in ${end}`);
  const run = await page.evaluate<RunReport>('window.tsgradRun');
  assert.ok(run.tokenMessages > 1, `the tokens came one message each (${run.tokenMessages})`);
  assert.equal(await page.textContent('#output'), run.generated);
  return run.generated;
}

/** Opens files through an input and waits for the page's answer. */
async function open(page: Page, input: '#open-files' | '#open-folder', files: Parameters<Page['setInputFiles']>[1]): Promise<string> {
  await page.evaluate("document.body.dataset.state = 'asked'"); // jobEnd waits for this job's end
  await page.setInputFiles(input, files);
  return jobEnd(page);
}

describe('the training page in Chromium', () => {
  before(async () => {
    browser = await requiredBrowser();
    if ('why' in browser) return;
    await useBackend('cpu');
    const out = join(tmp(), 'overfit');
    await trainOnDisk(parseTrainArgs(['--preset', 'overfit', '--out', out, '--backend', 'cpu', '--no-progress', '--steps', String(NODE_STEPS)]), { log: () => {} });
    node = { out, losses: losses(out) };
  });

  test('cpu: 60 steps give Node\'s losses, Generate streams the sentence; bad input is one line and loses nothing; Stop and Resume go on as Node; a Node final/ opens', async (t) => {
    const pw = playwrightOrSkip(browser, t);
    if (!pw) return;
    await withPage('cpu', false, async (page, url) => {
      const run = await trainsLikeNode(t, page, url, 'cpu');
      assert.match(run.detail, /^\d+ threads?\b/);
      assert.ok((await generate(page, 8)).startsWith(SENTENCE));
      const shot = join(shots, 'web_page.png');
      await page.screenshot({ path: shot, fullPage: true });
      t.diagnostic(`screenshot: ${shot}`);
      if (process.env.TSGRAD_UPDATE_SCREENSHOT === '1') copyFileSync(shot, join(root, 'docs', 'web_page.png'));

      const kept = () => page.textContent('#saved-info');
      const before = await kept();
      assert.match(before!, /checkpoint at step 60 of 60, final model/);
      const bad = async (files: Parameters<Page['setInputFiles']>[1], input: '#open-files' | '#open-folder', message: RegExp) => {
        const end = await open(page, input, files);
        assert.match(end, /^error: open: /);
        assert.match(end, message);
        assert.doesNotMatch(end, /\n/, 'one line');
        assert.equal(await kept(), before, 'the run kept in the browser is unchanged');
        assert.equal(await page.isDisabled('#resume'), false);
      };
      await bad([{ name: 'train.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(7) }], '#open-files', /^error: open: train\.bin: 7 bytes is an odd length, so not a file of uint16 tokens$/);
      const corrupt = zipSync({ 'checkpoint/config.json': new Uint8Array(2), 'checkpoint/model.safetensors': new Uint8Array(3), 'checkpoint/optimizer.safetensors': new Uint8Array(4), 'checkpoint/state.json': new TextEncoder().encode('{"step": 3') });
      await bad([{ name: 'run.zip', mimeType: 'application/zip', buffer: Buffer.from(corrupt) }], '#open-files', /^error: open: .*run\.zip\/checkpoint\/state\.json is not valid JSON \(/);
      const notes = join(tmp(), 'notes');
      mkdirSync(notes);
      writeFileSync(join(notes, 'readme.txt'), 'no model here');
      await bad(notes, '#open-folder', /^error: open: nothing to open in notes\/readme\.txt: pick train\.bin\/val\.bin, a model folder/);

      // Resume to step 80, Stop on the way, Resume again: the losses of Node's uninterrupted run
      await page.fill('#steps', String(NODE_STEPS));
      await page.evaluate("document.body.dataset.state = 'asked'");
      await page.click('#resume');
      await page.waitForFunction(`Number(document.body.dataset.step) >= ${STEPS + 3}`);
      await page.click('#stop');
      const stopped = await jobEnd(page);
      const at = Number(/^stopped: stopped at step (\d+); its checkpoint is kept in this browser: Resume continues it$/.exec(stopped)?.[1]);
      assert.ok(at > STEPS && at < NODE_STEPS, `Stop ended in ${stopped}`);
      assert.match((await kept())!, new RegExp(`checkpoint at step ${at} of ${NODE_STEPS}`));
      await page.evaluate("document.body.dataset.state = 'asked'");
      await page.click('#resume');
      assert.match(await jobEnd(page), /^done: done: 80 steps, /);
      const resumed = await page.evaluate<RunReport>('window.tsgradRun');
      assert.equal(resumed.losses.length, NODE_STEPS);
      closeTo('cpu, stopped and resumed', resumed.losses, t);

      // Node's final/ (Hugging Face layout) through the folder input
      const end = await open(page, '#open-folder', join(node.out, 'final'));
      assert.match(end, /^done: model final \(3\.32M parameters, 2 layers\); Generate uses final /);
      assert.ok((await generate(page, 8)).startsWith(SENTENCE));
    }, pw);
  });

  test(`js (the reference kernels): ${JS_STEPS} steps give Node's losses`, async (t) => {
    const pw = playwrightOrSkip(browser, t);
    if (!pw) return;
    await withPage('js', false, async (page, url) => {
      await trainsLikeNode(t, page, url, 'js', JS_STEPS);
    }, pw);
  });

  test(`webgpu on SwiftShader (--enable-unsafe-webgpu): ${WEBGPU_STEPS} steps give Node's losses, Generate streams a continuation`, async (t) => {
    const pw = playwrightOrSkip(browser, t);
    if (!pw) return;
    await withPage('webgpu', true, async (page, url) => {
      const run = await trainsLikeNode(t, page, url, 'webgpu', WEBGPU_STEPS);
      assert.match(run.detail, /swiftshader/i);
      const text = await generate(page, 4);
      assert.ok(text.startsWith('Hello, I am') && text.length > 'Hello, I am'.length, `Generate gave ${JSON.stringify(text)}`);
    }, pw);
  });
});
