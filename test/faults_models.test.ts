// Model files that lie: a directory where a file belongs is named as such, not as a bare EISDIR.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cli, root, tmp } from './helpers/train_runs.ts';

const fixture = join(root, 'test/fixtures/gpt2_tiny/model'); // vocab 512, n_ctx 32

test('a directory where model.safetensors or a .bin belongs: one line naming it', () => {
  const model = tmp();
  cpSync(fixture, model, { recursive: true });
  rmSync(join(model, 'model.safetensors'));
  mkdirSync(join(model, 'model.safetensors'));
  const r = cli('src/train/generate_cli.ts', ['--model', model, '--prompt-ids', '1', '--max-new-tokens', '1', '--backend', 'js']);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.trim(), `generate: ${model}/model.safetensors: a directory, not a regular file`);
  const data = tmp();
  const e = cli('src/train/eval_cli.ts', ['--model', fixture, '--data', data, '--ctx', '8', '--backend', 'js']);
  assert.equal(e.code, 1);
  assert.equal(e.stderr.trim(), `eval: ${data}: a directory, not a regular file`);
});
