// What the training-run suites share: scratch directories (removed when the file's tests end),
// a directory of random GPT-2 token ids, the losses a run logged, and this repo's commands run
// as a user runs them (child processes of node + tsx), synchronously or with a handle to
// signal and await.
import { after } from 'node:test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/autograd/random.ts';

export const root = fileURLToPath(new URL('../..', import.meta.url));

const scratch: string[] = [];
after(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** A fresh scratch directory. */
export function tmp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-train-'));
  scratch.push(dir);
  return dir;
}

/** The train records of out/metrics.jsonl, as their losses. */
export function losses(out: string): number[] {
  return metricLines(out)
    .map((l) => JSON.parse(l))
    .filter((r) => 'loss' in r)
    .map((r) => r.loss);
}

/** The validation records of out/metrics.jsonl, as written. */
export function evalLines(out: string): string[] {
  return metricLines(out).filter((l) => l.includes('val_loss'));
}

function metricLines(out: string): string[] {
  return readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
}

/** A directory with train.bin and val.bin of random GPT-2 ids (little-endian uint16). */
export function tokenDir(trainTokens: number, valTokens: number): string {
  const dir = tmp();
  const rng = new Rng(7);
  for (const [name, n] of [['train.bin', trainTokens], ['val.bin', valTokens]] as const) {
    const ids = new Uint16Array(n);
    for (let i = 0; i < n; i++) ids[i] = rng.int(50257);
    writeFileSync(join(dir, name), new Uint8Array(ids.buffer));
  }
  return dir;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const childEnv = (env: Record<string, string>) => ({ ...process.env, TSGRAD_BACKEND: 'cpu', ...env });

/** Runs src/<script> with args to the end (or, given `timeout` ms, until it is killed as hung), capturing its output. */
export function cli(script: string, args: string[], env: Record<string, string> = {}, timeout?: number): CliResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { cwd: root, encoding: 'utf8', env: childEnv(env), timeout });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Starts src/<script>; `done` resolves once it has exited. */
export function startCli(script: string, args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: root, env: childEnv(env) });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) => child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}
