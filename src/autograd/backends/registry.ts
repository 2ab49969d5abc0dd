// Which backend runs the kernels. One backend is current at a time; tensors remember the
// backend that holds their numbers, and float64 tensors always live on the reference.
// Promise: `setBackend(name)` loads a backend by name (the Node entry registers them through
// ./available.ts); `ready()` makes the fastest one this platform has current, quietly. A
// factory that cannot start because something it needs is absent here (no adapter, a native
// module not built, no display) rejects with BackendUnavailable; any other rejection means
// the backend is broken.
import type { Backend } from '../backend.ts';
import { referenceBackend } from '../reference/index.ts';

export type { Backend } from '../backend.ts';
export { referenceBackend };

export interface BackendOptions {
  /** Receives the line a backend says about itself ('auto': which backend it chose, and why); without it, nothing is said. */
  log?: (line: string) => void;
}

let current: Backend = referenceBackend;
const factories = new Map<string, (opts: BackendOptions) => Promise<Backend>>();

/**
 * A backend cannot start because this machine lacks something it needs, not because it is
 * broken. The message says what is missing and how to get it. The tests skip such a backend
 * and fail on any other start-up error.
 */
export class BackendUnavailable extends Error {
  override name = 'BackendUnavailable';
}

/** Makes a backend loadable by name with setBackend. */
export function registerBackend(name: string, factory: (opts: BackendOptions) => Promise<Backend>): void {
  factories.set(name, factory);
}

export function registeredBackends(): string[] {
  return ['js', ...factories.keys()];
}

/** The backend new float32 tensors are created on. */
export function getBackend(): Backend {
  return current;
}

/** Makes `backend` (a name, or an instance) current and returns it. */
export async function setBackend(backend: string | Backend, opts: BackendOptions = {}): Promise<Backend> {
  if (typeof backend !== 'string') {
    current = backend;
    return current;
  }
  if (backend === 'js') {
    current = referenceBackend;
    return current;
  }
  const factory = factories.get(backend);
  if (!factory) throw new Error(`setBackend: unknown backend '${backend}' (known: ${registeredBackends().join(', ')})`);
  current = await factory(opts);
  return current;
}

let best: Promise<Backend> | null = null;

/**
 * Makes the fastest backend available here current and resolves to it: 'auto' where it is
 * registered (the Node entry registers it: webgpu on a hardware GPU, else headlessgl, else
 * 'cpu'), else the reference 'js'. Chosen once; later calls make the same instance current
 * again. Create tensors after it: until then they live on 'js'. Says nothing unless given
 * `log` (e.g. `ready({ log: console.error })`).
 */
export async function ready(opts: BackendOptions = {}): Promise<Backend> {
  best ??= factories.has('auto') ? factories.get('auto')!(opts) : Promise.resolve(referenceBackend);
  current = await best;
  return current;
}
