// The generate and eval commands, run as child processes on the tiny fixture model:
// --json output is exactly one JSON object, equal to the library's answer; mistakes give a
// one-line error and exit code 2 (command line) or 1 (missing or bad files).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { noGrad } from '../src/autograd/tensor.ts';
import { decode } from '../src/data/tokenizer.ts';
import { loadModel } from '../src/data/model_files.ts';
import { generate } from '../src/gpt2/generate.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const modelDir = join(root, 'test/fixtures/gpt2_tiny/model'); // vocab 512, n_ctx 32
const tmp = mkdtempSync(join(tmpdir(), 'tsgrad-gpt2-cli-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function run(cli: 'generate' | 'eval', args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', `src/train/cli/${cli}.ts`, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, TSGRAD_BACKEND: 'js' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('generate --json prints one JSON object: the library’s tokens and their text', async () => {
  const r = run('generate', ['--model', modelDir, '--prompt-ids', '1,2,3', '--max-new-tokens', '6', '--temperature', '0.8', '--top-k', '40', '--top-p', '0.95', '--seed', '5', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(out), ['prompt_ids', 'ids', 'text']);
  const want = await generate(loadModel(modelDir), [1, 2, 3], { maxNewTokens: 6, temperature: 0.8, topK: 40, topP: 0.95, seed: 5 });
  assert.deepEqual(out, { prompt_ids: [1, 2, 3], ids: want, text: decode(want) });
});

test('generate streams the prompt and the continuation as text', async () => {
  const r = run('generate', ['--model', modelDir, '--prompt', 'a', '--max-new-tokens', '5', '--greedy']); // "a" is token 64
  assert.equal(r.code, 0, r.stderr);
  const want = await generate(loadModel(modelDir), [64], { maxNewTokens: 5, temperature: 0 });
  assert.equal(r.stdout, decode([64, ...want]) + '\n');
});

test('generate: bad command lines exit 2, a missing model exits 1, each with one line on stderr', () => {
  const cases: [string[], number, RegExp][] = [
    [['--model', modelDir, '--bogus'], 2, /^generate: Unknown option '--bogus'/],
    [['--model', modelDir, '--top-p', '2'], 2, /^generate: --top-p: expected a number in \(0, 1\], got '2'/],
    [['--model', join(tmp, 'missing'), '--greedy'], 1, /^generate: model directory '.*missing' not found/],
  ];
  for (const [args, code, error] of cases) {
    const r = run('generate', args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, error);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(r.stdout, '');
  }
});

test('eval: the mean per-token loss over ⌊(N−1)/T⌋ windows in order, batched', () => {
  const T = 8;
  const tokens = Uint16Array.from({ length: 5 * T + 4 }, (_, i) => (i * 37) % 512); // W = 5 windows
  const path = join(tmp, 'val.bin');
  writeFileSync(path, new Uint8Array(tokens.buffer));
  const model = loadModel(modelDir);
  const windowLoss = (j: number) => {
    const x = Int32Array.from(tokens.subarray(j * T, j * T + T));
    const y = Int32Array.from(tokens.subarray(j * T + 1, j * T + T + 1));
    return noGrad(() => model.loss(x, [1, T], y).item());
  };
  const losses = [0, 1, 2, 3, 4].map(windowLoss);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

  const all = run('eval', ['--model', modelDir, '--data', path, '--ctx', String(T), '--batch-size', '2', '--json']);
  assert.equal(all.code, 0, all.stderr);
  const out = JSON.parse(all.stdout);
  assert.equal(out.windows, 5);
  assert.ok(Math.abs(out.loss - mean(losses)) < 1e-5, `${out.loss} vs ${mean(losses)}`);
  const first = JSON.parse(run('eval', ['--model', modelDir, '--data', path, '--ctx', String(T), '--batch-size', '2', '--max-batches', '1', '--json']).stdout);
  assert.equal(first.windows, 2);
  assert.ok(Math.abs(first.loss - mean(losses.slice(0, 2))) < 1e-5);

  writeFileSync(join(tmp, 'odd.bin'), new Uint8Array(7));
  const odd = run('eval', ['--model', modelDir, '--data', join(tmp, 'odd.bin'), '--ctx', '4']);
  assert.equal(odd.code, 1);
  assert.match(odd.stderr, /odd length/);
  const long = run('eval', ['--model', modelDir, '--data', path, '--ctx', '64']);
  assert.equal(long.code, 2);
  assert.match(long.stderr, /--ctx 64 exceeds the model's n_ctx 32/);
});
