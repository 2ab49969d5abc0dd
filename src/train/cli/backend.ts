// `--backend NAME` for every command: picks the backend that runs the kernels
// (js | cpu | webasm | webgpu | headlessgl | auto; default $TSGRAD_BACKEND, else auto)
// and, with --profile, wraps it so each kernel call is timed.
import '../../autograd/backends/available.ts';
import { getBackend, registeredBackends, setBackend, type Backend } from '../../autograd/backends/registry.ts';
import { withProfiling } from '../../autograd/backends/profile.ts';
import { ConfigError } from '../errors.ts';

export function defaultBackendName(): string {
  return process.env.TSGRAD_BACKEND || 'auto';
}

export async function useBackend(name: string, opts: { profile?: boolean } = {}): Promise<Backend> {
  if (!registeredBackends().includes(name)) {
    throw new ConfigError(`--backend: unknown backend '${name}' (known: ${registeredBackends().join(', ')})`);
  }
  await setBackend(name, { log: (line) => process.stderr.write(`${line}\n`) });
  if (opts.profile) await setBackend(withProfiling(getBackend()));
  return getBackend();
}
