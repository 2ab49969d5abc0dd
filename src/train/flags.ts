// Command-line plumbing shared by every command (./*_cli.ts): strict flag parsing, number
// flags checked by range, and the backend choice train also makes.
// Promise: every mistake is a ConfigError (one line; src/train/cli.ts's runCli exits 2).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { registeredBackends } from '../autograd/backend/index.ts';
import { ConfigError } from './errors.ts';
import { defaultBackendName, useBackend } from './backend_flag.ts';

/** util.parseArgs, strict, with its errors turned into ConfigErrors. */
export function parseFlags<O extends NonNullable<ParseArgsConfig['options']>>(options: O, args: string[]): ReturnType<typeof parseArgs<{ options: O; strict: true; allowPositionals: false }>>['values'] {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new ConfigError((err as Error).message.split('\n')[0]);
  }
}

/** A number flag's value (`fallback` when absent), which must lie in [min, max] and be an integer if asked. */
export function numberFlag(flag: string, value: string | undefined, fallback: number, { min = -Infinity, max = Infinity, integer = false } = {}): number {
  if (value === undefined) return fallback;
  const x = Number(value);
  if (value.trim() === '' || !Number.isFinite(x) || (integer && !Number.isInteger(x)) || x < min || x > max) {
    const range = max === Infinity ? `≥ ${min}` : `in [${min}, ${max}]`;
    throw new ConfigError(`--${flag} must be ${integer ? 'an integer' : 'a number'} ${range}, got '${value}'`);
  }
  return x;
}

/**
 * `--backend NAME` if given, else train's default ($TSGRAD_BACKEND or 'auto') when that
 * backend exists; otherwise the reference backend stays current.
 */
export async function selectBackend(flag: string | undefined): Promise<void> {
  const name = flag ?? defaultBackendName();
  if (flag !== undefined || registeredBackends().includes(name)) await useBackend(name);
}
