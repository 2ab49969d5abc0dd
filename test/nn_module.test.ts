// nn layers and Module plumbing: dotted parameter names with tied-weight dedup, state dicts
// (shape checks, strict missing/unexpected errors, identity kept), train/eval toggling
// Dropout (statistics and reproducibility), layer shapes, and CausalSelfAttention's fused,
// composed and KV-cache paths agreeing (float64: |Δ| ≤ 1e-10 + 1e-8·|x|); in train mode its
// attention dropout acts on the masked softmax weights, by the formula, and stays causal.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dropout, layerNorm, linear, Rng, tensor, type Tensor } from '../src/autograd/index.ts';
import { AdamW, CausalSelfAttention, Dropout, Embedding, GELU, LayerNorm, Linear, Module, Parameter, SGD, attentionComposed, type KVCache } from '../src/nn/index.ts';
import { assertClose } from './helpers/gradcheck.ts';
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

// ---- CausalSelfAttention ----------------------------------------------------------------

/** Copies a float32 module's parameters to float64 by replacing each tensor field. */
function toFloat64(m: CausalSelfAttention): CausalSelfAttention {
  for (const lin of [m.c_attn, m.c_proj]) {
    lin.weight = lin.weight.to('float64');
    lin.bias = lin.bias!.to('float64');
  }
  return m;
}

describe('CausalSelfAttention', () => {
  test('d_model not divisible by n_heads throws', () => {
    assert.throws(() => new CausalSelfAttention(6, 4), /CausalSelfAttention: d_model 6 is not divisible by n_heads 4/);
  });

  property(
    'fused path (eval) == composed path, and the KV cache (one token at a time) == the full forward',
    fc.record({ B: fc.integer({ min: 1, max: 2 }), T: fc.integer({ min: 1, max: 4 }), H: fc.constantFrom(1, 2), D: fc.integer({ min: 1, max: 3 }), seed: seedArb }),
    ({ B, T, H, D, seed }) => {
      const C = H * D;
      const m = toFloat64(new CausalSelfAttention(C, H, { rng: new Rng(seed), dropout: 0.2 })).eval();
      const x = t64([B, T, C], seed + 1);
      const full = m.forward(x); // eval: the fused kernel
      assert.deepEqual(full.shape, [B, T, C]);
      // composed by hand from the same weights
      const qkv = m.c_attn.forward(x);
      const heads = (i: number) => qkv.slice(-1, i * C, (i + 1) * C).reshape([B, T, H, D]).transpose(1, 2);
      const y = attentionComposed(heads(0), heads(1), heads(2)).transpose(1, 2).reshape([B, T, C]);
      assertClose(full, m.c_proj.forward(y), { atol: 1e-10, rtol: 1e-8, what: 'fused vs composed module' });
      // KV cache: feed position by position
      const cache: KVCache = { k: null, v: null };
      const steps: Tensor[] = [];
      for (let t = 0; t < T; t++) steps.push(m.forward(x.slice(1, t, t + 1), cache));
      assert.deepEqual(cache.k!.shape, [B, H, T, D]);
      steps.forEach((s, t) => assertClose(s, full.slice(1, t, t + 1), { atol: 1e-10, rtol: 1e-8, what: `cached step ${t}` }));
    },
    60,
  );

  test('train mode with attention dropout uses the composed path and is reproducible from the seed', () => {
    const make = () => new CausalSelfAttention(4, 2, { rng: new Rng(5), dropout: 0.5 });
    const x = t64([1, 3, 4], 1).to('float32');
    const a = make().forward(x).data;
    const b = make().forward(x).data;
    assert.deepEqual(Array.from(a), Array.from(b));
    const ev = make().eval().forward(x).data;
    assert.notDeepEqual(Array.from(a), Array.from(ev));
  });

  test('attention dropout drops softmax weights, after the causal mask: y = (softmax(masked q·kᵀ/√D) ⊙ keep/(1−p))·v', () => {
    const [B, T, H, D, p] = [2, 5, 2, 3, 0.4];
    const C = H * D;
    const m = toFloat64(new CausalSelfAttention(C, H, { rng: new Rng(11), dropout: p }));
    m.attn_dropout = new Dropout(p, new Rng(21));
    m.resid_dropout.eval(); // only the attention weights are dropped here
    const x = t64([B, T, C], 3);
    const got = m.forward(x);
    // the mask attn_dropout drew: the same Rng stream over a [B, H, T, T] tensor of ones (0 or 1/(1−p))
    const keep = dropout(tensor(new Float64Array(B * H * T * T).fill(1), { shape: [B, H, T, T], dtype: 'float64' }), p, new Rng(21)).data;
    // the formula, by hand in float64, from the module's own q, k, v
    const qkv = m.c_attn.forward(x).data; // [B, T, 3C]: q | k | v, head h at columns h·D … h·D + D − 1
    const at = (b: number, t: number, part: number, h: number, d: number) => qkv[(b * T + t) * 3 * C + part * C + h * D + d];
    const y = new Float64Array(B * T * C);
    let dropped = 0;
    let kept = 0;
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        for (let i = 0; i < T; i++) {
          const s = Array.from({ length: i + 1 }, (_, j) => Array.from({ length: D }, (_, d) => at(b, i, 0, h, d) * at(b, j, 1, h, d)).reduce((u, w) => u + w, 0) / Math.sqrt(D));
          const max = Math.max(...s);
          const e = s.map((v) => Math.exp(v - max));
          const z = e.reduce((u, w) => u + w, 0);
          for (let j = 0; j <= i; j++) {
            const k = keep[((b * H + h) * T + i) * T + j];
            if (k === 0) dropped++;
            else kept++;
            for (let d = 0; d < D; d++) y[(b * T + i) * C + h * D + d] += (e[j] / z) * k * at(b, j, 2, h, d);
          }
        }
      }
    }
    assert.ok(dropped > 0 && kept > 0, `the mask drops ${dropped} and keeps ${kept} of the allowed weights`);
    assertClose(got, m.c_proj.forward(tensor(y, { shape: [B, T, C], dtype: 'float64' })), { atol: 1e-12, rtol: 1e-10, what: 'attention with dropout' });
  });

  test('train mode with dropout: the output at position t does not depend on the inputs after t', () => {
    const [B, T, H, D] = [2, 6, 2, 2];
    const C = H * D;
    const make = () => toFloat64(new CausalSelfAttention(C, H, { rng: new Rng(5), dropout: 0.5 })); // same weights, same masks
    const x = t64([B, T, C], 1);
    const other = t64([B, T, C], 2).data;
    const y = make().forward(x).data;
    for (let t = 0; t < T - 1; t++) {
      // every input after position t replaced
      const changed = Float64Array.from(x.data, (v, i) => (Math.floor(i / C) % T > t ? other[i] : v));
      const y2 = make().forward(tensor(changed, { shape: [B, T, C], dtype: 'float64' })).data;
      for (let i = 0; i < y.length; i++) {
        const pos = Math.floor(i / C) % T;
        if (pos <= t) assert.equal(y2[i], y[i], `position ${pos} changed when inputs after ${t} did`);
      }
      assert.notDeepEqual(Array.from(y2), Array.from(y), 'the later positions do change');
    }
  });
});
