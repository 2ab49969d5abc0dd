// Starting a backend inside a test. A backend that is absent on this machine (its factory
// rejects with BackendUnavailable: no WebGPU adapter, `gl` not built, no display) is skipped
// with the reason; any other start-up error (a probe kernel that ran on the wrong mode or
// returned wrong numbers) fails the test. TSGRAD_REQUIRE_BACKENDS=webgpu,headlessgl,webasm,chromium
// (set by .ci/run, which installs what they need; chromium: the browser of
// test/web_browser.test.ts) turns the absence of a named one into a failure too, so CI cannot
// go green by skipping.
import type { TestContext } from 'node:test';
import { BackendUnavailable, type Backend } from '../../src/autograd/backends/registry.ts';
import type { Primitives } from '../../src/autograd/backend.ts';

/** The backends this run must start: TSGRAD_REQUIRE_BACKENDS, comma-separated. */
export function requiredBackends(env: NodeJS.ProcessEnv = process.env): Set<string> {
  return new Set((env.TSGRAD_REQUIRE_BACKENDS ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''));
}

/**
 * The backend `start` makes, or `{ skip: reason }` when it is absent here and not required.
 * Throws when it is broken, or absent but required.
 */
export async function startOrSkip(name: string, start: () => Promise<Backend>, required = requiredBackends()): Promise<Backend | { skip: string }> {
  try {
    return await start();
  } catch (e) {
    if (!(e instanceof BackendUnavailable)) throw e;
    return absent(name, e.message, required);
  }
}

/** `{ skip: reason }` for an absent backend, or a throw when this run requires it. */
export function absent(name: string, reason: string, required = requiredBackends()): { skip: string } {
  if (required.has(name)) throw new Error(`${name} is required here (TSGRAD_REQUIRE_BACKENDS=${[...required].join(',')}) but cannot start: ${reason}`);
  return { skip: `${name} unavailable: ${reason}` };
}

/** startOrSkip inside a test: skips `t` and resolves to null when the backend is absent. */
export async function openBackend(t: TestContext, name: string, start: () => Promise<Backend>): Promise<Backend | null> {
  const got = await startOrSkip(name, start);
  if ('skip' in got) {
    t.skip(got.skip);
    return null;
  }
  return got;
}

/** A backend's primitives and nothing else (what a new backend must write; see src/autograd/backend.ts). */
export function primitivesOf(b: Backend): Primitives {
  const { name, asyncOnly, fromHost, toHost, toHostAsync, fill, unary, binary, maskedFill, permute, slice, pad, reduce, matmul } = b;
  return { name, asyncOnly, fromHost, toHost, toHostAsync, fill, unary, binary, maskedFill, permute, slice, pad, reduce, matmul };
}
