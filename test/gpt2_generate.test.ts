// Generation: the KV cache changes nothing (greedy and seeded sampling, also past n_ctx),
// the sampler's temperature/top-k/top-p rules, stopping at <|endoftext|>, streaming, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/autograd/random.ts';
import { makeConfig } from '../src/gpt2/config.ts';
import { GPT2Model } from '../src/gpt2/model.ts';
import { generate, sampleNext } from '../src/gpt2/generate.ts';
import { EOT } from '../src/gpt2/config.ts';

const cfg = makeConfig({ n_layers: 2, d_model: 32, n_heads: 4, vocab_size: 64, n_ctx: 16, dropout: 0.1 });
const model = new GPT2Model(cfg, { seed: 21 });
// larger weights than the init, so the distribution is far from uniform and paths diverge visibly
for (const p of model.parameters()) p.storage = p.backend.fromHost(Float32Array.from(p.data, (x) => x * 8));

test('greedy: with and without the KV cache, the same tokens, also when the context outgrows n_ctx', async () => {
  const prompt = [1, 2, 3, 4, 5];
  const withCache = await generate(model, prompt, { maxNewTokens: 30, temperature: 0 });
  const without = await generate(model, prompt, { maxNewTokens: 30, temperature: 0, useCache: false });
  assert.equal(withCache.length, 30);
  assert.deepEqual(withCache, without);
  assert.ok(new Set(withCache).size > 1, 'the test model should not repeat one token');
  // a prompt longer than n_ctx is cropped to its last n_ctx tokens
  const long = Array.from({ length: 40 }, (_, i) => (i * 5) % 64);
  assert.deepEqual(await generate(model, long, { maxNewTokens: 4, temperature: 0 }), await generate(model, long.slice(-16), { maxNewTokens: 4, temperature: 0, useCache: false }));
});

test('seeded sampling: with and without the cache, the same tokens; the seed decides them', async () => {
  const opts = { maxNewTokens: 25, temperature: 0.9, topK: 20, topP: 0.95, seed: 7 };
  const a = await generate(model, [9, 8, 7], opts);
  assert.deepEqual(await generate(model, [9, 8, 7], { ...opts, useCache: false }), a);
  assert.deepEqual(await generate(model, [9, 8, 7], opts), a);
  assert.notDeepEqual(await generate(model, [9, 8, 7], { ...opts, seed: 8 }), a);
});

test('generate runs without dropout and restores the training mode; onToken streams each id', async () => {
  model.train();
  const seen: number[] = [];
  const ids = await generate(model, [3], { maxNewTokens: 6, temperature: 0, onToken: (id) => seen.push(id) });
  assert.deepEqual(seen, ids);
  assert.equal(model.training, true);
  assert.deepEqual(await generate(model.eval(), [3], { maxNewTokens: 6, temperature: 0 }), ids);
  model.train();
});

test('sampleNext top-k (threshold from a heap of the k largest) draws what sorting every id by its logit draws, ties included', () => {
  // the definition: every id sorted by logit (ties: lower id first), the first k and any tied with the k-th
  const byDefinition = (logits: Float32Array, k: number, temperature: number, u: number): number => {
    const ids = Array.from(logits, (_, i) => i).sort((a, b) => logits[b] - logits[a] || a - b);
    const kept = ids.filter((i) => logits[i] >= logits[ids[k - 1]]);
    const p = kept.map((i) => Math.exp((logits[i] - logits[ids[0]]) / temperature));
    const total = p.reduce((a, b) => a + b, 0);
    let cum = 0;
    for (let j = 0; j < kept.length; j++) if (u * total < (cum += p[j])) return kept[j];
    return kept[kept.length - 1];
  };
  const r = new Rng(5);
  for (let trial = 0; trial < 200; trial++) {
    const V = 1 + r.int(300);
    const logits = Float32Array.from({ length: V }, () => Math.round(r.normal() * 4) / 2); // many ties
    const k = 1 + r.int(V + 2);
    const seed = r.int(1e9);
    const want = byDefinition(logits, Math.min(k, V), 0.8, new Rng(seed).uniform());
    assert.equal(sampleNext(logits, { topK: k, temperature: 0.8 }, new Rng(seed)), want, `V ${V}, k ${k}`);
  }
});

test('sampleNext: temperature 0 and top-k 1 are argmax; top-k keeps ties; top-p keeps the nucleus', () => {
  const rng = new Rng(1);
  const logits = Float32Array.of(0.5, 2, -1, 2, 1.5);
  assert.equal(sampleNext(logits, { temperature: 0 }, rng), 1); // the first of the tied maxima
  for (let i = 0; i < 50; i++) assert.ok([1, 3].includes(sampleNext(logits, { topK: 1 }, rng)), 'top-1 keeps both tied maxima');
  for (let i = 0; i < 50; i++) assert.ok([1, 3, 4].includes(sampleNext(logits, { topK: 3 }, rng)));
  // probabilities 0.1, 0.2, 0.3, 0.4: top-p 0.5 keeps {0.4, 0.3}, 0.75 keeps {0.4, 0.3, 0.2}
  const probs = Float32Array.from([0.1, 0.2, 0.3, 0.4], Math.log);
  const count = (opts: object, n = 4000) => {
    const c = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) c[sampleNext(probs, opts, rng)]++;
    return c.map((x) => x / n);
  };
  const nucleus = count({ topP: 0.5 });
  assert.deepEqual([nucleus[0], nucleus[1]], [0, 0]);
  assert.ok(Math.abs(nucleus[3] - 4 / 7) < 0.03, `p(3) = ${nucleus[3]}, want 4/7`);
  assert.equal(count({ topP: 0.75 })[0], 0);
  const plain = count({});
  [0.1, 0.2, 0.3, 0.4].forEach((p, i) => assert.ok(Math.abs(plain[i] - p) < 0.03, `p(${i}) = ${plain[i]}, want ${p}`));
  const cold = count({ temperature: 0.5 }); // p ∝ p², i.e. 1, 4, 9, 16 over 30
  assert.ok(Math.abs(cold[3] - 16 / 30) < 0.03, `p(3) at T=0.5 is ${cold[3]}`);
});

test('stopAtEot ends generation at <|endoftext|>, which is not returned', async () => {
  const big = new GPT2Model(makeConfig({ n_layers: 1, d_model: 8, n_heads: 2, vocab_size: 50257, n_ctx: 8, dropout: 0 }), { seed: 3 });
  // ln_f outputs its bias b whatever comes in; make EOT's embedding b·100, so EOT wins every time
  const b = Float32Array.from({ length: 8 }, (_, i) => (i % 2 ? 1 : -1));
  big.ln_f.weight.storage = big.ln_f.weight.backend.fromHost(new Float32Array(8));
  big.ln_f.bias.storage = big.ln_f.bias.backend.fromHost(b);
  const wte = Float32Array.from(big.wte.weight.data);
  wte.set(b.map((x) => 100 * x), EOT * 8);
  big.wte.weight.storage = big.wte.weight.backend.fromHost(wte);
  assert.deepEqual(await generate(big, [EOT], { maxNewTokens: 3, temperature: 0 }), [EOT, EOT, EOT]);
  assert.deepEqual(await generate(big, [EOT], { maxNewTokens: 3, temperature: 0, stopAtEot: true }), []);
});

test('bad generation options are refused', async () => {
  await assert.rejects(generate(model, [], { maxNewTokens: 1 }), /the prompt is empty/);
  await assert.rejects(generate(model, [1], { maxNewTokens: -1 }), /maxNewTokens must be an integer ≥ 0/);
  await assert.rejects(generate(model, [1], { maxNewTokens: 1, temperature: -0.5 }), /temperature must be a finite number ≥ 0/);
  await assert.rejects(generate(model, [1], { maxNewTokens: 1, topK: 0 }), /topK must be an integer ≥ 1/);
  await assert.rejects(generate(model, [1], { maxNewTokens: 1, topP: 1.5 }), /topP must be in \(0, 1\]/);
  await assert.rejects(generate(model, [64], { maxNewTokens: 1 }), /token id 64 at position 0 of row 0 is out of range/);
  assert.deepEqual(await generate(model, [1], { maxNewTokens: 0 }), []);
});
