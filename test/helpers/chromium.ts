// Debian's chromium (/usr/bin/chromium, or $TSGRAD_CHROMIUM) driven by playwright-core, for the
// page's tests and bench/web_page.ts: the browser or why it cannot run here, a fresh headless
// browser on a profile folder, the errors a page and its workers report, and one training run
// of the page through its URL parameters; a scratch folder for screenshots and profiles.
// Promise: no browser download (only Debian's chromium); the bound on a wait is a guard against
// a hung browser, never a speed check.
import { after } from 'node:test';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { BrowserContext, Page } from 'playwright-core';
import { absent } from './backends.ts';
import type { RunReport } from '../../src/train/web/protocol.ts';

export const CHROMIUM = process.env.TSGRAD_CHROMIUM ?? '/usr/bin/chromium';
export type Playwright = typeof import('playwright-core');

/** Guards against a hung browser (not a speed check): far above what one page takes here. */
export const PAGE_WAIT_MS = 30 * 60_000;

/**
 * A scratch folder for a test file (tsgrad-web-test-*): screenshots/ is kept (and printed by
 * the tests), profiles/ and build/ go when the file's tests end.
 */
export function scratchFolder(): { scratch: string; shots: string } {
  const scratch = mkdtempSync(join(tmpdir(), 'tsgrad-web-test-'));
  const shots = join(scratch, 'screenshots');
  mkdirSync(shots);
  after(() => {
    for (const name of ['profiles', 'build']) rmSync(join(scratch, name), { recursive: true, force: true });
  });
  return { scratch, shots };
}

/** playwright-core and chromium, or why the browser tests cannot run here. */
export async function browserOrWhy(): Promise<{ playwright: Playwright } | { why: string }> {
  if (!existsSync(CHROMIUM)) return { why: `no chromium at ${CHROMIUM} (apt-get install chromium, or set TSGRAD_CHROMIUM)` };
  try {
    return { playwright: await import('playwright-core') };
  } catch (e) {
    return { why: `playwright-core does not load (npm ci installs it): ${(e as Error).message.split('\n')[0]}` };
  }
}

export type Browser = Awaited<ReturnType<typeof browserOrWhy>>;

/** browserOrWhy for a suite's before(): where TSGRAD_REQUIRE_BACKENDS names chromium, its absence throws. */
export async function requiredBrowser(): Promise<Browser> {
  const browser = await browserOrWhy();
  if ('why' in browser) absent('chromium', browser.why);
  return browser;
}

/** Playwright, or null after skipping `t` with the reason the browser is absent. */
export function playwrightOrSkip(browser: Browser, t: TestContext): Playwright | null {
  if ('why' in browser) {
    t.skip(browser.why);
    return null;
  }
  return browser.playwright;
}

/**
 * A fresh headless chromium on `profile`; `webgpu` gives it an adapter (SwiftShader here).
 * Every wait (a page load, a click) is bounded by PAGE_WAIT_MS, not playwright's 30 s: a
 * loaded machine may take longer to bundle and load the page.
 */
export async function launch(pw: Playwright, profile: string, opts: { webgpu: boolean }): Promise<BrowserContext> {
  const context = await pw.chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1100, height: 900 },
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', ...(opts.webgpu ? ['--enable-unsafe-webgpu'] : []),
    ],
  });
  context.setDefaultTimeout(PAGE_WAIT_MS);
  return context;
}

/**
 * The page's uncaught errors and console errors (its workers' included), as they come. A 404
 * for data/train.bin is not one: the page asks whether `npm run web -- --data` serves data.
 */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.location().url.endsWith('/data/train.bin')) errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/** Waits until the page's job ended (state done, stopped or error); returns `state: status line`. */
export async function jobEnd(page: Page): Promise<string> {
  // (page code as strings: these files are typed without the DOM)
  await page.waitForFunction("['done', 'stopped', 'error'].includes(document.body.dataset.state)", null, { timeout: PAGE_WAIT_MS });
  return page.evaluate<string>("`${document.body.dataset.state}: ${document.getElementById('status').textContent}`");
}

/**
 * Opens `url` with the page's settings as its query (`preset=overfit&steps=N&backend=B`, and
 * `head_vocab`) and `autostart=1`, and waits for the run's end (the page is `loading`, `ready`,
 * then `running` until then).
 */
export async function trainOnPage(page: Page, url: string, settings: Record<string, string | number>): Promise<{ end: string; run: RunReport }> {
  const query = new URLSearchParams({ ...Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, String(v)])), autostart: '1' });
  await page.goto(`${url}?${query}`);
  const end = await jobEnd(page);
  return { end, run: await page.evaluate<RunReport>('window.tsgradRun') };
}
