// Fault injection for files tsgrad did not make: a config.json that claims a bigger model than
// its model.safetensors holds (refused before any memory is allocated), a text source with no
// story separator (refused at the story-length cap instead of read whole), a directory given as
// a source, and a source with no stories (an error, not an empty .bin reported as success).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { referenceBackend, setBackend } from '../src/autograd/backends/registry.ts';
import type { Backend } from '../src/autograd/backend.ts';
import { pretokenizeAndSave } from '../src/data/pretokenize.ts';
import { localSource } from '../src/data/sources.ts';
import { loadModel, saveModel } from '../src/data/model_files.ts';
import { makeConfig } from '../src/gpt2/config.ts';
import { checkpointShapes, saveTensors, toHfConfig } from '../src/gpt2/hf.ts';
import { GPT2Model } from '../src/gpt2/model.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tsgrad-faults-files-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const small = makeConfig({ n_layers: 2, d_model: 16, n_heads: 2, vocab_size: 30, n_ctx: 8 });

// ── 12: config.json against the safetensors header, before allocating ─────────────────────────

test('checkpointShapes(cfg) lists what a model of that config saves, from the config alone', () => {
  for (const cfg of [small, { ...small, weight_tying: false }, { ...small, d_mlp: 24 }]) {
    const saved = saveTensors(new GPT2Model(cfg)).map((t) => [t.name.replace(/^transformer\./, ''), t.shape]);
    assert.deepEqual([...checkpointShapes(cfg)], saved);
  }
});

test('a config.json that claims a bigger model than model.safetensors holds is refused before anything is allocated', async (t) => {
  const modelDir = join(dir, 'liar');
  await saveModel(new GPT2Model(small, { seed: 1 }), modelDir);
  // the reference backend, counting the arrays tensors are made of
  let allocated = 0;
  const counting: Backend = {
    ...referenceBackend,
    fill: (...a) => (allocated++, referenceBackend.fill(...a)),
    fromHost: (x) => (allocated++, referenceBackend.fromHost(x)),
  };
  await setBackend(counting);
  t.after(() => setBackend('js'));
  const arrays = () => allocated;
  const before = arrays();
  new GPT2Model(small, { init: false });
  assert.ok(arrays() > before, 'building a model is seen by this probe');

  const claims: [string, unknown][] = [
    ['{} (the 124M GPT-2 by default)', {}],
    ['GPT-2 XL', toHfConfig(makeConfig({}, 'gpt2-xl'))],
    ['wider layers', { ...toHfConfig(small), n_embd: 4096, n_head: 2 }],
    ['more layers', { ...toHfConfig(small), n_layer: 400 }],
  ];
  for (const [what, config] of claims) {
    await writeFile(join(modelDir, 'config.json'), JSON.stringify(config));
    const start = arrays();
    assert.throws(() => loadModel(modelDir), /model\.safetensors \(with .*config\.json\): (does not match the config|'.*' has shape \[.*\] but the config needs)/, what);
    assert.equal(arrays(), start, `${what}: no array allocated before the refusal`);
  }
  await writeFile(join(modelDir, 'config.json'), JSON.stringify(toHfConfig(small)));
  assert.equal(loadModel(modelDir).cfg.d_model, 16, 'the true config loads');
});

// ── 13: a story with no separator ────────────────────────────────────────────────────────────

test('a .txt with no <|endoftext|> is refused at the story-length cap instead of being held whole', async () => {
  const txt = join(dir, 'one-long-story.txt');
  const file = await open(txt, 'w');
  const line = 'Once upon a time there was a story that never ended. '.repeat(20) + '\n';
  for (let i = 0; i < 8 * 1024; i++) await file.write(line); // ~8.5 MB, not one separator
  await file.close();
  const out = join(dir, 'long', 'train.bin');
  let stories = 0;
  const source = await localSource(txt, { maxStoryChars: 50_000 });
  await assert.rejects(
    pretokenizeAndSave(source, out, { onProgress: (n) => (stories = n) }),
    new RegExp(`^Error: ${txt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: story 1 is longer than 50,000 characters \\(stories in a \\.txt are separated by <\\|endoftext\\|> lines\\); raise --max-story-chars`),
  );
  assert.equal(stories, 0, 'nothing was tokenized');
  assert.ok(!existsSync(out) && !existsSync(out + '.tmp'));

  // a long story among short ones is caught too, with its number
  const mixed = join(dir, 'mixed.txt');
  await writeFile(mixed, `short one\n<|endoftext|>\n${'x'.repeat(200)}\n<|endoftext|>\nshort again\n`);
  await assert.rejects(pretokenizeAndSave(await localSource(mixed, { maxStoryChars: 100 }), out), /mixed\.txt: story 2 is longer than 100 characters/);
  const ok = await pretokenizeAndSave(await localSource(mixed, { maxStoryChars: 200 }), out);
  assert.equal(ok.stories, 3, 'a story of exactly the cap is accepted');
});

// ── 14: a directory as a source; a source with no stories ────────────────────────────────────

test('a directory given as a source is refused with its name (not a bare EISDIR)', async () => {
  const folder = join(dir, 'a-folder');
  await mkdir(folder, { recursive: true });
  await assert.rejects(
    localSource(folder).then((s) => pretokenizeAndSave(s, join(dir, 'dir-out', 'train.bin'))),
    (err: Error) => err.message === `${folder} is a directory; a source is a .txt or .parquet file of stories`,
  );
  await assert.rejects(localSource(folder + '.parquet'), /source file not found/);
});

test('a source with no stories is an error, and no empty .bin is left', async () => {
  for (const [name, text] of [
    ['empty.txt', ''],
    ['separators.txt', '<|endoftext|>\n\n<|endoftext|>\n   \n'],
  ]) {
    const txt = join(dir, name);
    await writeFile(txt, text);
    const out = join(dir, 'none', 'train.bin');
    await assert.rejects(pretokenizeAndSave(await localSource(txt), out), new RegExp(`${name}: no stories in it \\(0 tokens\\); nothing was written to .*train\\.bin$`));
    assert.ok(!existsSync(out) && !existsSync(out + '.tmp') && !existsSync(out + '.json'));
  }
});

test('CLI: --max-story-chars, and a failure exits 1 with one line', async () => {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const run = (args: string[]) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', join(root, 'src/train/cli/pretokenize.ts'), ...args], { cwd: root }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
  const txt = join(dir, 'cli.txt');
  await writeFile(txt, 'a'.repeat(5000));
  const out = join(dir, 'cli-out');
  const refused = await run(['--source', txt, '--split', 'train', '--out', out, '--max-story-chars', '1000']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^pretokenize: .*cli\.txt: story 1 is longer than 1,000 characters .*\n$/);
  assert.equal((await run(['--source', txt, '--split', 'train', '--out', out, '--max-story-chars', '0'])).code, 2);
  assert.equal((await run(['--source', txt, '--split', 'train', '--out', out])).code, 0);
  assert.ok((await readFile(join(out, 'train.bin'))).length > 0);
});
