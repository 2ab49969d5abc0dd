// nn layers and Module plumbing: dotted parameter names with tied-weight dedup, state dicts
// (shape checks, strict missing/unexpected errors, identity kept), train/eval toggling
// Dropout (statistics and reproducibility) and layer shapes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { layerNorm, linear, Rng, tensor, type Tensor } from '../src/autograd/index.ts';
import { AdamW, Dropout, Embedding, GELU, LayerNorm, Linear, Module, Parameter, SGD } from '../src/nn/index.ts';
import { CausalSelfAttention } from '../src/gpt2/model.ts';
import { property, seedArb, shapeArb, t64 } from './helpers/arbitraries.ts';

class Block extends Module {
  ln_1: LayerNorm;
  attn: CausalSelfAttention;
  mlp: Linear;
  constructor(C: number, rng: Rng) {
    super();
    this.ln_1 = new LayerNorm(C);
    this.attn = new CausalSelfAttention(C, 2, { rng, dropout: 0.1 });
    this.mlp = new Linear(C, C, { rng });
  }
}

/** A GPT-2-shaped toy: embeddings, a list of blocks, a head tied to the token embedding. */
class Toy extends Module {
  wte: Embedding;
  h: Block[];
  buffer: Tensor; // a plain tensor: not a parameter
  scale: Tensor; // a plain tensor with requiresGrad: still not a parameter (as PyTorch)
  lm_head: Linear;
  constructor(seed = 0, V = 7, C = 4) {
    super();
    const rng = new Rng(seed);
    this.wte = new Embedding(V, C, { rng, std: 0.02 });
    this.h = [new Block(C, rng), new Block(C, rng)];
    this.buffer = tensor([1, 2, 3]);
    this.scale = tensor([2], { requiresGrad: true });
    this.lm_head = new Linear(C, V, { rng, bias: false });
    this.lm_head.weight = this.wte.weight; // tied
  }
}

const blockNames = (i: number) => [
  `h.${i}.ln_1.weight`,
  `h.${i}.ln_1.bias`,
  `h.${i}.attn.c_attn.weight`,
  `h.${i}.attn.c_attn.bias`,
  `h.${i}.attn.c_proj.weight`,
  `h.${i}.attn.c_proj.bias`,
  `h.${i}.mlp.weight`,
  `h.${i}.mlp.bias`,
];

describe('Module', () => {
  test('namedParameters: dotted names in field order, list indices, tied weight listed once', () => {
    const m = new Toy();
    const names = m.namedParameters().map(([n]) => n);
    assert.deepEqual(names, ['wte.weight', ...blockNames(0), ...blockNames(1)]);
    assert.equal(m.parameters().length, names.length);
    assert.ok(m.parameters().includes(m.lm_head.weight)); // reached through wte.weight
    const C = 4;
    const V = 7;
    const perBlock = 2 * C + (3 * C * C + 3 * C) + (C * C + C) + (C * C + C);
    assert.equal(m.numParameters(), V * C + 2 * perBlock); // the tied head counted once
  });

  test('stateDict holds the tensors themselves; loadStateDict copies values and keeps identity', () => {
    const a = new Toy(1);
    const b = new Toy(2);
    const before = b.parameters();
    const x = [0, 3, 5];
    const out = (m: Toy) => m.h[0].mlp.forward(m.wte.forward(x)).data;
    assert.notDeepEqual(Array.from(out(a)), Array.from(out(b)));
    const sd = a.stateDict();
    assert.equal(sd.get('wte.weight'), a.wte.weight);
    b.loadStateDict(sd);
    assert.deepEqual(Array.from(out(a)), Array.from(out(b)));
    b.parameters().forEach((p, i) => assert.equal(p, before[i])); // same objects
    assert.equal(b.lm_head.weight, b.wte.weight); // still tied
    // a copy, not shared storage: changing a afterwards leaves b alone
    a.wte.weight.storage = new Float32Array(a.wte.weight.size);
    assert.notDeepEqual(Array.from(b.wte.weight.data), Array.from(a.wte.weight.data));
  });

  test('loadStateDict: shape mismatch names the parameter and both shapes', () => {
    const m = new Toy();
    const sd = m.stateDict();
    sd.set('h.1.mlp.bias', tensor([1, 2, 3]));
    assert.throws(() => m.loadStateDict(sd), { message: 'loadStateDict: h.1.mlp.bias has shape [3] but the model expects [4]' });
  });

  test('loadStateDict strict: missing and unexpected names listed; non-strict skips both', () => {
    const m = new Toy();
    const sd = new Map(m.stateDict());
    sd.delete('h.0.mlp.weight');
    sd.set('h.9.extra', tensor([1]));
    assert.throws(() => m.loadStateDict(sd), { message: 'loadStateDict: missing [h.0.mlp.weight], unexpected [h.9.extra]' });
    const before = Array.from(m.h[0].mlp.weight.data);
    m.loadStateDict(new Map([['h.9.extra', tensor([1])], ['h.0.ln_1.bias', tensor([1, 1, 1, 1])]]), false);
    assert.deepEqual(Array.from(m.h[0].ln_1.bias.data), [1, 1, 1, 1]);
    assert.deepEqual(Array.from(m.h[0].mlp.weight.data), before);
  });

  test('train()/eval() reach every submodule, lists included', () => {
    const m = new Toy();
    assert.ok(m.modules().every((s) => s.training));
    m.eval();
    assert.ok(m.modules().every((s) => !s.training));
    assert.equal(m.h[1].attn.attn_dropout.training, false);
    m.train();
    assert.ok(m.modules().every((s) => s.training));
    // Toy, wte, lm_head, and per block: itself, ln_1, attn (+ 2 Linear + 2 Dropout), mlp
    assert.equal(m.modules().length, 3 + 2 * (1 + 1 + (1 + 2 + 2) + 1));
  });

  test('zeroGrad clears every parameter gradient', () => {
    const m = new Toy();
    m.h[0].mlp.forward(m.wte.forward([1, 2])).sum().backward();
    assert.ok(m.wte.weight.grad !== null);
    m.zeroGrad();
    assert.ok(m.parameters().every((p) => p.grad === null));
  });
});

// ---- Dropout module --------------------------------------------------------------------

describe('Parameter', () => {
  /** y = frozen·x + trained·x, summed: a model with one frozen parameter. */
  class TwoScales extends Module {
    frozen = new Parameter(tensor([2, 3]), false);
    trained = new Parameter(tensor([5, 7]));
    loss(): Tensor {
      const x = tensor([1, 10]);
      return this.frozen.mul(x).add(this.trained.mul(x)).sum();
    }
  }

  test('a Parameter shares the numbers it is made from and wants a gradient unless told otherwise', () => {
    const t = tensor([1, 2]);
    const p = new Parameter(t);
    assert.ok(p.storage === t.storage && p.requiresGrad && p.gradFn === null);
    assert.equal(new Parameter(t, false).requiresGrad, false);
  });

  test('a frozen parameter stays a parameter: in namedParameters, stateDict and a state-dict round trip', () => {
    const m = new TwoScales();
    assert.deepEqual(m.namedParameters().map(([n]) => n), ['frozen', 'trained']);
    assert.equal(m.stateDict().get('frozen'), m.frozen);
    const other = new TwoScales();
    other.frozen.storage = tensor([0, 0]).storage;
    other.loadStateDict(m.stateDict()); // strict: frozen must be there
    assert.deepEqual([...other.frozen.data], [2, 3]);
    assert.equal(other.frozen.requiresGrad, false, 'loading keeps it frozen');
  });

  for (const [name, make] of [['AdamW', (ps: Tensor[]) => new AdamW(ps, { lr: 0.1 })], ['SGD', (ps: Tensor[]) => new SGD(ps, { lr: 0.1, momentum: 0.9 })]] as const) {
    test(`${name} updates the trained parameter and leaves the frozen one (no gradient) as it is`, () => {
      const m = new TwoScales();
      const opt = make(m.parameters());
      for (let i = 0; i < 3; i++) {
        m.loss().backward();
        assert.equal(m.frozen.grad, null, 'a frozen parameter gets no gradient');
        opt.step();
        opt.zeroGrad();
      }
      assert.deepEqual([...m.frozen.data], [2, 3]);
      assert.notDeepEqual([...m.trained.data], [5, 7]);
      assert.ok(!opt.state.has(m.frozen) && opt.state.has(m.trained), 'state only for the parameter that was updated');
    });
  }
});

describe('Dropout', () => {
  test('eval mode is the identity (the same tensor)', () => {
    const d = new Dropout(0.5, new Rng(1)).eval();
    const x = tensor([1, 2, 3]);
    assert.equal(d.forward(x), x);
  });

  property(
    'train mode: zero fraction ≈ p (±5σ), survivors scaled exactly 1/(1−p) (float32), reproducible from the seed',
    fc.tuple(fc.constantFrom(0.1, 0.25, 0.5, 0.8), seedArb),
    ([p, seed]) => {
      const n = 20_000;
      const x = tensor(new Float32Array(n).fill(1.5));
      const y = new Dropout(p, new Rng(seed)).forward(x).data;
      const zeros = y.filter((v) => v === 0).length / n;
      const sigma = Math.sqrt((p * (1 - p)) / n); // binomial std of the fraction
      assert.ok(Math.abs(zeros - p) < 5 * sigma, `zero fraction ${zeros} vs p ${p}`);
      const kept = Math.fround(1.5 * Math.fround(1 / (1 - p))); // one float32 product
      assert.ok(y.every((v) => v === 0 || v === kept), 'survivors are x/(1−p)');
      // same seed, same mask; the stream moves on between calls
      const d2 = new Dropout(p, new Rng(seed));
      assert.deepEqual(Array.from(d2.forward(x).data), Array.from(y));
      assert.notDeepEqual(Array.from(d2.forward(x).data), Array.from(y));
    },
    12,
  );

  test('gradient flows only through the kept elements, scaled by 1/(1−p)', () => {
    const x = tensor(new Float64Array(100).fill(2), { dtype: 'float64', requiresGrad: true });
    const y = new Dropout(0.3, new Rng(4)).forward(x);
    y.sum().backward();
    x.grad!.data.forEach((g, i) => assert.equal(g, y.data[i] === 0 ? 0 : 1 / 0.7));
  });
});

// ---- layers -----------------------------------------------------------------------------

describe('layers', () => {
  property(
    'Linear: weight [out, in], bias [out], [..., in] → [..., out], equals linear(); default init within ±1/√in',
    fc.record({ lead: shapeArb(0, 3, 3), inF: fc.integer({ min: 1, max: 6 }), outF: fc.integer({ min: 1, max: 6 }), bias: fc.boolean(), seed: seedArb }),
    ({ lead, inF, outF, bias, seed }) => {
      const l = new Linear(inF, outF, { rng: new Rng(seed), bias });
      assert.deepEqual(l.weight.shape, [outF, inF]);
      assert.equal(l.weight.requiresGrad, true);
      if (bias) assert.deepEqual(l.bias!.shape, [outF]);
      else assert.equal(l.bias, null);
      const bound = 1 / Math.sqrt(inF);
      assert.ok(l.weight.data.every((w) => Math.abs(w) <= bound));
      const x = t64([...lead, inF], seed).to('float32');
      const y = l.forward(x);
      assert.deepEqual(y.shape, [...lead, outF]);
      assert.deepEqual(Array.from(y.data), Array.from(linear(x, l.weight, l.bias).data));
      assert.deepEqual(l.namedParameters().map(([n]) => n), bias ? ['weight', 'bias'] : ['weight']);
    },
    60,
  );

  test('Linear with std: normal weights of that std, zero bias', () => {
    const l = new Linear(64, 64, { rng: new Rng(3), std: 0.02 });
    const w = Array.from(l.weight.data);
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    assert.ok(Math.abs(std - 0.02) < 0.002, `std ${std}`);
    assert.ok(l.bias!.data.every((b) => b === 0));
  });

  test('Embedding: [V, C] table, ids of any shape → [...idsShape, C]', () => {
    const e = new Embedding(5, 3, { rng: new Rng(0) });
    assert.deepEqual(e.weight.shape, [5, 3]);
    const y = e.forward([4, 0, 4, 1, 2, 3], [2, 3]);
    assert.deepEqual(y.shape, [2, 3, 3]);
    assert.deepEqual(Array.from(y.data.subarray(0, 3)), Array.from(e.weight.data.subarray(12, 15)));
    assert.throws(() => e.forward([5]), /embedding: index 5 at position 0 is out of range \[0, 5\)/);
  });

  test('LayerNorm module: weight 1, bias 0, eps 1e-5 (GPT-2), equals the functional op', () => {
    const ln = new LayerNorm(4);
    assert.deepEqual(Array.from(ln.weight.data), [1, 1, 1, 1]);
    assert.deepEqual(Array.from(ln.bias.data), [0, 0, 0, 0]);
    assert.equal(ln.eps, 1e-5);
    const x = t64([2, 4], 9).to('float32');
    assert.deepEqual(Array.from(ln.forward(x).data), Array.from(layerNorm(x, ln.weight, ln.bias, 1e-5).data));
  });

  test('GELU module is x.gelu()', () => {
    const x = t64([5], 2).to('float32');
    assert.deepEqual(Array.from(new GELU().forward(x).data), Array.from(x.gelu().data));
  });
});
