// Fault injection for files tsgrad did not make: a config.json that claims a bigger model than
// its model.safetensors holds (refused before any memory is allocated).

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hostPoolStats } from '../src/autograd/memory.ts';
import { loadModel, saveModel } from '../src/gpt2/checkpoint.node.ts';
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

test('a config.json that claims a bigger model than model.safetensors holds is refused before anything is allocated', async () => {
  const modelDir = join(dir, 'liar');
  await saveModel(new GPT2Model(small, { seed: 1 }), modelDir);
  const arrays = () => hostPoolStats.fresh;
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
