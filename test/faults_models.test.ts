// Model files that lie: weights holding NaN make generate and eval fail with one line naming
// the model (never a token chosen from NaN logits, never {"loss":null} with exit 0), and a
// directory where a file belongs is named as such, not as a bare EISDIR.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, readSafetensors, writeSafetensors } from '../src/data/model_files.ts';
import { generate } from '../src/gpt2/generate.ts';
import { cli, root, tmp } from './helpers/train_runs.ts';

const fixture = join(root, 'test/fixtures/gpt2_tiny/model'); // vocab 512, n_ctx 32

/** The fixture model with one weight set to NaN. */
async function nanModel(): Promise<string> {
  const dir = tmp();
  cpSync(fixture, dir, { recursive: true });
  const weights = join(dir, 'model.safetensors');
  const saved = readSafetensors(weights);
  saved.get('wpe.weight')!.data[0] = NaN; // position 0: every forward reads it
  await writeSafetensors(weights, [...saved].map(([name, t]) => ({ name, shape: t.shape, data: () => t.data })));
  return dir;
}

test('generate on NaN weights rejects, whatever the sampling, instead of returning token 0 or undefined', async () => {
  const model = loadModel(await nanModel());
  for (const opts of [{ temperature: 0 }, { temperature: 1, topP: 0.9 }, { temperature: 0.8, topK: 5 }, { temperature: 1 }]) {
    await assert.rejects(generate(model, [1, 2, 3], { maxNewTokens: 3, ...opts }), /^Error: the model's logits are not finite \(NaN for token 0\) at new token 0: its weights hold NaN\/Inf or overflow$/, JSON.stringify(opts));
  }
});

test('generate and eval on NaN weights: exit 1, one line naming the model', async () => {
  const dir = await nanModel();
  const data = join(tmp(), 'val.bin');
  writeFileSync(data, new Uint8Array(new Uint16Array(Array.from({ length: 40 }, (_, i) => i)).buffer));
  const cases: [string, string[], RegExp][] = [
    ['generate', ['--greedy'], /not finite \(NaN for token 0\)/],
    ['generate', ['--top-p', '0.9', '--seed', '1', '--json'], /not finite \(NaN for token 0\)/],
    ['eval', ['--data', data, '--ctx', '8', '--json'], new RegExp(`the loss on ${data} is NaN`)],
  ];
  for (const [command, args, message] of cases) {
    const r = cli(`src/train/cli/${command}.ts`, ['--model', dir, ...(command === 'generate' ? ['--prompt-ids', '1,2', '--max-new-tokens', '3'] : []), ...args, '--backend', 'js']);
    assert.equal(r.code, 1, `${command} ${args.join(' ')}: exit ${r.code}, stdout ${r.stdout}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.ok(lines[0].startsWith(`${command}: ${dir}: `), lines[0]);
    assert.match(lines[0], message);
    if (args.includes('--json')) assert.equal(r.stdout, '', 'no JSON for a failed run');
  }
});

test('a directory where model.safetensors or a .bin belongs: one line naming it', () => {
  const model = tmp();
  cpSync(fixture, model, { recursive: true });
  rmSync(join(model, 'model.safetensors'));
  mkdirSync(join(model, 'model.safetensors'));
  const r = cli('src/train/cli/generate.ts', ['--model', model, '--prompt-ids', '1', '--max-new-tokens', '1', '--backend', 'js']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), `generate: ${model}/model.safetensors: a directory, not a regular file`);
  const data = tmp();
  const e = cli('src/train/cli/eval.ts', ['--model', fixture, '--data', data, '--ctx', '8', '--backend', 'js']);
  assert.equal(e.code, 1);
  assert.equal(e.stderr.trim(), `eval: ${data}: a directory, not a regular file`);
});
