// GPT2Model and GPT2Config: Hugging Face parameter names, the GPT-2 init, forward's logits
// (every position, or the last only), the one loss and its agreement with crossEntropy of those
// logits, the KV-cache path, dropout
// determinism, and clear errors for bad configs, long sequences and bad token ids.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noGrad } from '../src/autograd/tensor.ts';
import { crossEntropy } from '../src/autograd/ops/cross_entropy.ts';
import { makeConfig, GPT2_SIZES } from '../src/gpt2/config.ts';
import { fromHfConfig } from '../src/gpt2/hf.ts';
import { GPT2Model } from '../src/gpt2/model.ts';
import { browserBundle, nodeBuiltins } from './helpers/bundle.ts';

const tiny = makeConfig({ n_layers: 2, d_model: 16, n_heads: 2, vocab_size: 40, n_ctx: 12, dropout: 0 });

function std(x: ArrayLike<number>): number {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < x.length; i++) (s += x[i]), (s2 += x[i] * x[i]);
  const m = s / x.length;
  return Math.sqrt(s2 / x.length - m * m);
}

test('config: the named sizes have the real GPT-2 shapes; bad configs are refused', () => {
  assert.deepEqual([GPT2_SIZES.gpt2.n_layers, GPT2_SIZES.gpt2.d_model, GPT2_SIZES.gpt2.n_heads, GPT2_SIZES.gpt2.d_mlp], [12, 768, 12, 3072]);
  assert.deepEqual([GPT2_SIZES['gpt2-xl'].n_layers, GPT2_SIZES['gpt2-xl'].d_model, GPT2_SIZES['gpt2-xl'].n_heads, GPT2_SIZES['gpt2-xl'].d_mlp], [48, 1600, 25, 6400]);
  for (const p of Object.values(GPT2_SIZES)) assert.equal(p.layer_norm_eps, 1e-5);
  assert.equal(makeConfig({ d_model: 64, n_heads: 4 }).d_mlp, 256); // d_mlp follows d_model
  assert.equal(fromHfConfig({ n_embd: 128, n_head: 4 }, 'config.json').d_mlp, 512); // n_inner absent: 4·n_embd
  assert.throws(() => makeConfig({ d_model: 65, n_heads: 4 }), /d_model 65 is not divisible by n_heads 4/);
  assert.throws(() => makeConfig({ n_layers: 0 }), /n_layers must be a positive integer, got 0/);
  assert.throws(() => makeConfig({ vocab_size: -3 }), /vocab_size must be a positive integer/);
  assert.throws(() => makeConfig({ dropout: 1 }), /dropout must be in \[0, 1\)/);
});

test('parameter names are the Hugging Face keys, in their order', () => {
  const names = new GPT2Model(tiny).namedParameters().map(([n]) => n);
  const block = (i: number) =>
    ['ln_1.weight', 'ln_1.bias', 'attn.c_attn.weight', 'attn.c_attn.bias', 'attn.c_proj.weight', 'attn.c_proj.bias', 'ln_2.weight', 'ln_2.bias', 'mlp.c_fc.weight', 'mlp.c_fc.bias', 'mlp.c_proj.weight', 'mlp.c_proj.bias'].map((n) => `h.${i}.${n}`);
  assert.deepEqual(names, ['wte.weight', 'wpe.weight', ...block(0), ...block(1), 'ln_f.weight', 'ln_f.bias']);
  const untied = new GPT2Model({ ...tiny, weight_tying: false });
  assert.deepEqual(untied.namedParameters().at(-1)![0], 'lm_head.weight'); // and no lm_head.bias
  assert.deepEqual(untied.lm_head!.weight.shape, [40, 16]);
});

test('init: normal(0, init_range), residual projections scaled by 1/√(2·n_layers), zero biases, LayerNorm 1 and 0', () => {
  const cfg = makeConfig({ n_layers: 8, d_model: 64, n_heads: 4, vocab_size: 500, n_ctx: 64, init_range: 0.02 });
  const model = new GPT2Model(cfg, { seed: 3 });
  const params = new Map(model.namedParameters());
  const near = (name: string, want: number) => {
    const got = std(params.get(name)!.data);
    assert.ok(Math.abs(got - want) < 0.05 * want, `${name}: std ${got}, want ${want}`);
  };
  near('wte.weight', 0.02);
  near('wpe.weight', 0.02);
  near('h.0.attn.c_attn.weight', 0.02);
  near('h.0.mlp.c_fc.weight', 0.02);
  near('h.3.attn.c_proj.weight', 0.02 / 4); // √(2·8) = 4
  near('h.3.mlp.c_proj.weight', 0.02 / 4);
  for (const [name, p] of params) {
    if (name.endsWith('.bias')) assert.ok(p.data.every((v) => v === 0), `${name} is not zero`);
    if (/ln_\d\.weight|ln_f\.weight/.test(name)) assert.ok(p.data.every((v) => v === 1), `${name} is not one`);
  }
  // same seed, same weights; another seed, other weights
  assert.deepEqual(new GPT2Model(tiny, { seed: 5 }).wte.weight.data, new GPT2Model(tiny, { seed: 5 }).wte.weight.data);
  assert.notDeepEqual(new GPT2Model(tiny, { seed: 5 }).wte.weight.data, new GPT2Model(tiny, { seed: 6 }).wte.weight.data);
  // init: false (for loaders): zero weights, nothing drawn from the Rng
  const blank = new GPT2Model(tiny, { seed: 5, init: false });
  assert.ok(blank.h[1].mlp.c_proj.weight.data.every((v) => v === 0) && blank.wte.weight.data.every((v) => v === 0));
  assert.deepEqual(blank.rng.getState(), new GPT2Model({ ...tiny, n_layers: 1 }, { seed: 5, init: false }).rng.getState());
});

test('forward: [B, T, V] logits; with lastOnly the last position\'s, [B, 1, V]', () => {
  const model = new GPT2Model(tiny, { seed: 1 });
  const tokens = Int32Array.from({ length: 2 * 5 }, (_, i) => (i * 7) % 40);
  const targets = Int32Array.from({ length: 2 * 5 }, (_, i) => (i * 3) % 40);
  const full = noGrad(() => model.forward(tokens, [2, 5]));
  assert.deepEqual(full.shape, [2, 5, 40]);
  assert.ok(Math.abs(noGrad(() => model.loss(tokens, [2, 5], targets)).item() - Math.log(40)) < 0.1, 'a fresh model is near uniform');
  const last = noGrad(() => model.forward(tokens, [2, 5], { lastOnly: true }));
  assert.deepEqual(last.shape, [2, 1, 40]);
  const fullData = full.data;
  const lastData = last.data;
  for (let b = 0; b < 2; b++) {
    for (let v = 0; v < 40; v++) assert.ok(Math.abs(lastData[b * 40 + v] - fullData[(b * 5 + 4) * 40 + v]) < 1e-6);
  }
  assert.throws(() => model.forward(tokens, [2, 5], { cahce: [] } as never), /GPT2Model\.forward: unknown option 'cahce'/);
});

test('ignored targets (−1): the loss is the mean cross-entropy over the kept positions of forward\'s logits', () => {
  const model = new GPT2Model(tiny, { seed: 1 });
  const tokens = Int32Array.from({ length: 2 * 5 }, (_, i) => (i * 7) % 40);
  const targets = Int32Array.from({ length: 2 * 5 }, (_, i) => (i % 5 === 0 || i === 7 ? -1 : (i * 3) % 40)); // 3 of 10 ignored
  // by hand, in float64: −log softmax(logits_r)[target_r], averaged over the 7 kept rows
  const x = noGrad(() => model.forward(tokens, [2, 5])).data;
  let sum = 0;
  let kept = 0;
  for (let r = 0; r < 10; r++) {
    if (targets[r] === -1) continue;
    const row = Array.from(x.subarray(r * 40, (r + 1) * 40));
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    sum += lse - row[targets[r]];
    kept++;
  }
  assert.equal(kept, 7);
  const want = sum / kept;
  // observed 3.5e-9 relative; the loss is a float32 (one ulp: 1.2e-7 relative), so the bound is 2 ulps
  const got = noGrad(() => model.loss(tokens, [2, 5], targets)).item();
  assert.ok(Math.abs(got - want) <= 2.4e-7 * want, `loss ${got}, want ${want} (mean over the kept positions)`);
});

test('loss (the lm head fused with its cross-entropy) equals crossEntropy(forward(...)), and so do the gradients', () => {
  for (const weight_tying of [true, false]) {
    const model = new GPT2Model({ ...tiny, weight_tying }, { seed: 2 });
    const tokens = Int32Array.from({ length: 2 * 6 }, (_, i) => (i * 11) % 40);
    const targets = Int32Array.from({ length: 2 * 6 }, (_, i) => (i % 4 === 0 ? -1 : (i * 5) % 40));
    const a = model.loss(tokens, [2, 6], targets);
    a.backward();
    const gradsA = model.parameters().map((p) => Float32Array.from(p.grad!.data));
    model.zeroGrad();
    const b = crossEntropy(model.forward(tokens, [2, 6]), targets, { ignoreIndex: -1 });
    b.backward();
    assert.ok(Math.abs(a.item() - b.item()) <= 1e-6 * b.item(), `loss ${a.item()} vs ${b.item()}`);
    model.parameters().forEach((p, i) => {
      const g = p.grad!.data;
      for (let j = 0; j < g.length; j++) assert.ok(Math.abs(g[j] - gradsA[i][j]) <= 1e-6 + 1e-5 * Math.abs(g[j]), `grad ${i}[${j}] ${gradsA[i][j]} vs ${g[j]}`);
    });
  }
});

test('forward with a KV cache, a token at a time, gives the logits of the full forward', () => {
  const model = new GPT2Model(tiny, { seed: 2 });
  const tokens = Int32Array.from([3, 14, 15, 9, 26, 5, 35]);
  const cache = model.newCache();
  noGrad(() => {
    model.forward(tokens.subarray(0, 4), [1, 4], { cache }); // a prompt of 4
    for (let t = 4; t < tokens.length; t++) {
      const step = model.forward(tokens.subarray(t, t + 1), [1, 1], { cache }).data;
      const full = model.forward(tokens.subarray(0, t + 1), [1, t + 1], { lastOnly: true }).data;
      for (let v = 0; v < 40; v++) assert.ok(Math.abs(step[v] - full[v]) < 1e-5, `position ${t}, logit ${v}`);
    }
  });
  assert.equal(cache[0].k!.shape[2], tokens.length);
});

test('dropout: the seed fixes the masks; eval mode turns it off', () => {
  const cfg = { ...tiny, dropout: 0.2 };
  const tokens = Int32Array.from([1, 2, 3, 4, 5, 6]);
  const targets = Int32Array.from([2, 3, 4, 5, 6, 7]);
  const loss = (m: GPT2Model) => noGrad(() => m.loss(tokens, [1, 6], targets).item());
  const a = new GPT2Model(cfg, { seed: 9 });
  const b = new GPT2Model(cfg, { seed: 9 });
  assert.equal(loss(a), loss(b));
  assert.notEqual(loss(a), loss(a)); // new masks each call
  const noDropout = new GPT2Model(tiny, { seed: 9 });
  a.eval();
  assert.equal(loss(a), loss(noDropout)); // same weights: init draws come before any mask
  assert.equal(loss(a), loss(a));
});

test('errors: sequence longer than n_ctx, token ids out of range, mismatched shapes', () => {
  const long = new GPT2Model(makeConfig({ n_layers: 1, d_model: 8, n_heads: 2, vocab_size: 50257, n_ctx: 1024 }));
  assert.throws(() => long.forward(new Int32Array(2000), [1, 2000]), { message: 'GPT2Model.forward: sequence length 2000 exceeds n_ctx 1024' });
  const model = new GPT2Model(tiny);
  assert.throws(() => model.forward(Int32Array.from([1, 2, 3, 4, 40, 6]), [2, 3]), /token id 40 at position 1 of row 1 is out of range \[0, 40\)/);
  assert.throws(() => model.forward(Int32Array.from([1, -1]), [1, 2]), /token id -1 at position 1 of row 0/);
  assert.throws(() => model.forward(Int32Array.from([1, 2, 3]), [2, 2]), /3 tokens do not fill shape \[2, 2\]/);
  assert.throws(() => model.loss(Int32Array.from([1, 2]), [1, 2], Int32Array.from([1])), /GPT2Model\.loss: 1 targets for 2 tokens/);
  assert.throws(() => model.loss(Int32Array.from([1, 2]), [1, 2], Int32Array.from([1, 40])), /target 40/);
  const cache = model.newCache();
  noGrad(() => model.forward(new Int32Array(10), [1, 10], { cache }));
  assert.throws(() => model.forward(new Int32Array(3), [1, 3], { cache }), /sequence length 13 \(3 new after 10 cached\) exceeds n_ctx 12/);
});

test('src/gpt2 bundles for a browser: no Node builtin, nothing from src/data', async () => {
  const { inputs } = await browserBundle("import * as gpt2 from './src/gpt2/index.ts'; console.log(Object.keys(gpt2));");
  assert.deepEqual(nodeBuiltins(inputs), []);
  assert.ok(inputs.some((f) => f.startsWith('src/gpt2/model.ts')), inputs.join('\n'));
  assert.deepEqual(inputs.filter((f) => f.startsWith('src/data/')), []);
});
