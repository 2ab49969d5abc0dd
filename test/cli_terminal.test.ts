// What a user sees in a terminal. Under a real pseudo-terminal (util-linux `script`) a
// training run shows its lines (loss, val loss, sample) while it runs, above a live bar that
// keeps counting; piped, the same run prints plain lines and no escape codes. The backend
// `auto` picks is one tsgrad line, with nothing from native code (Dawn's warnings).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tokenDir } from './helpers/train_runs.ts';

const hasScript = /util-linux/.test(spawnSync('script', ['--version'], { encoding: 'utf8' }).stdout ?? '');
const tmp = () => mkdtempSync(join(tmpdir(), 'tsgrad-term-'));
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs a command of this repo as a user does; under a pty when `pty`, its output as one stream. */
function runCommand(args: string[], pty: boolean): Promise<{ code: number | null; output: string; stderr: string }> {
  const node = [process.execPath, '--import', 'tsx', ...args];
  const child = pty
    ? spawn('script', ['-qfec', node.map(quote).join(' '), '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(node[0], node.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output, stderr })));
}

/** Asserts that the markers appear in `text` in this order; returns nothing. */
function assertInOrder(text: string, markers: string[]): void {
  let at = 0;
  for (const m of markers) {
    const i = text.indexOf(m, at);
    assert.ok(i >= 0, `'${m}' should follow '${text.slice(Math.max(0, at - 80), at)}' in:\n${JSON.stringify(text)}`);
    at = i + m.length;
  }
}

const trainArgs = (data: string, out: string) => [
  'src/train/cli/train.ts', '--backend', 'cpu', '--data', data, '--out', out, '--steps', '20', '--ctx', '16', '--batch-size', '2',
  '--log-every', '10', '--eval-every', '10', '--eval-batches', '1', '--sample-prompt', 'Once', '--sample-tokens', '3',
];

test('a terminal shows each line while the run goes on, above a live bar', { skip: !hasScript && 'needs util-linux script' }, async () => {
  const data = tokenDir(4000, 600);
  const r = await runCommand(trainArgs(data, tmp()), true);
  assert.equal(r.code, 0, r.output);
  // Each line is followed by a frame of the bar at the next step: the line reached the
  // terminal before that step was taken, not when the run ended.
  assertInOrder(r.output, [
    'training overfit:',
    'step=   0 | Loss:', 'step 1/20 | loss',
    'step 10: val loss', '(best, saved best/)', 'sample: "Once', 'step 10/20 |',
    'step=  10 | Loss:', 'step 11/20 | loss',
    'step 20: val loss', 'sample: "Once', 'step 20/20 |',
    'done: 20 steps',
  ]);
  assert.match(r.output, /ETA \d+s/);
});

test('piped, the same run prints plain lines', async () => {
  const data = tokenDir(4000, 600);
  const r = await runCommand(trainArgs(data, tmp()), false);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.output + r.stderr, /\x1b/, 'no terminal escape codes');
  assertInOrder(r.output, ['training overfit:', 'step=   0 | Loss:', 'step 10: val loss', 'sample: "Once', 'step=  10 | Loss:', 'step 20: val loss', 'done: 20 steps']);
});

// ---- the backend line: `auto` asks for the WebGPU adapter in a child process ----

test('the WebGPU probe answers from a child process and caches the answer under its key', async () => {
  const saved = process.env.TSGRAD_PROBE_CACHE;
  process.env.TSGRAD_PROBE_CACHE = tmp();
  try {
    const { probeWebGPUAdapter, probeKey, probeCacheDir } = await import('../src/autograd/backends/gpujs/adapter_probe.node.ts');
    const first = await probeWebGPUAdapter();
    assert.ok(['hardware', 'software', 'none'].includes(first.adapter) && first.detail !== '', JSON.stringify(first));
    // lavapipe, where installed, is always there to answer
    if (existsSync('/usr/share/vulkan/icd.d/lvp_icd.json')) assert.notEqual(first.adapter, 'none', first.detail);
    const file = join(probeCacheDir(), 'webgpu-adapter.json');
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), { key: probeKey(), result: first });
    writeFileSync(file, JSON.stringify({ key: probeKey(), result: { adapter: 'none', detail: 'from the cache' } }));
    assert.equal((await probeWebGPUAdapter()).detail, 'from the cache');
    writeFileSync(file, JSON.stringify({ key: probeKey().replace(process.version, 'v0.0.0'), result: { adapter: 'none', detail: 'from the cache' } }));
    assert.deepEqual(await probeWebGPUAdapter(), first, 'another Node version probes again');
  } finally {
    if (saved === undefined) delete process.env.TSGRAD_PROBE_CACHE;
    else process.env.TSGRAD_PROBE_CACHE = saved;
  }
});

test('--backend auto and the default print one tsgrad line about the backend and nothing from Dawn', async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, TSGRAD_PROBE_CACHE: tmp() };
  delete env.TSGRAD_BACKEND;
  const commands = [
    ['src/train/cli/train.ts', '--backend', 'auto', '--steps', '1', '--ctx', '8', '--batch-size', '1', '--out', tmp(), '--overwrite'],
    ['src/train/cli/generate.ts', '--model', 'test/fixtures/gpt2_tiny/model', '--prompt-ids', '1,2', '--max-new-tokens', '2', '--seed', '1'], // the default: auto
  ];
  // the second round reads the cached probe
  for (const args of [...commands, ...commands]) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', ...args], { encoding: 'utf8', env });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${args[0]}: expected only the backend line on stderr, got:\n${r.stderr}`);
    assert.match(lines[0], /^tsgrad: backend auto → (webgpu|headlessgl|cpu)( \(.*\))?$/);
  }
});
