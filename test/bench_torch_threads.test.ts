// The PyTorch benchmarks run on the threads they say: Debian's torch multiplies in OpenBLAS, which
// takes its thread count from the environment once, when it loads (torch.set_num_threads does
// not reach it). So every bench/*.py that loads torch or numpy first calls openblas_env()
// (bench/openblas_env.py), which sets OPENBLAS_NUM_THREADS from --threads. Needs python3 only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const BENCH = 'bench';

test('every bench script that imports torch or numpy calls openblas_env() before it', () => {
  const scripts = readdirSync(BENCH).filter((f) => f.endsWith('.py') && f !== 'openblas_env.py');
  const loading = scripts.filter((f) => /^import (torch|numpy)\b/m.test(readFileSync(join(BENCH, f), 'utf8')));
  assert.ok(loading.length >= 3, `expected the three PyTorch benchmarks, found ${loading.join(', ')}`);
  for (const f of loading) {
    const lines = readFileSync(join(BENCH, f), 'utf8').split('\n');
    const first = lines.findIndex((l) => /^import (torch|numpy)\b/.test(l));
    const call = lines.findIndex((l) => /^openblas_env\(/.test(l));
    assert.ok(call >= 0 && call < first, `${f}: openblas_env() must run before line ${first + 1} (${lines[first]})`);
  }
});

test('openblas_env sets OPENBLAS_NUM_THREADS from --threads (or the default), and keeps a value the environment sets', () => {
  const run = (args: string[], env: Record<string, string> = {}) => {
    const code = 'import sys, os; sys.path.insert(0, "bench"); from openblas_env import openblas_env; openblas_env(default_threads=2); print(os.environ["OPENBLAS_NUM_THREADS"])';
    const { OPENBLAS_NUM_THREADS: _, ...rest } = process.env;
    const r = spawnSync('python3', ['-c', code, ...args], { encoding: 'utf8', env: { ...rest, ...env } });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim();
  };
  assert.equal(run(['--threads', '1']), '1');
  assert.equal(run(['--data', 'x', '--threads', '3']), '3');
  assert.equal(run([]), '2');
  assert.equal(run(['--threads', '1'], { OPENBLAS_NUM_THREADS: '4' }), '4');
});
