// Where layers get their random numbers, and what their option objects accept: fresh layers draw
// from one global generator (so two of them differ), manualSeed(n) makes a whole program's draws
// reproducible, an explicit `rng` or `seed` still pins one module, and a misspelt option key is
// an error naming it instead of a silently ignored setting.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { defaultRng, manualSeed, randn, Rng, tensor, type Tensor } from '../src/autograd/index.ts';
import { AdamW, Dropout, Embedding, Linear, SGD } from '../src/nn/index.ts';
import { CausalSelfAttention, GPT2Model, makeConfig } from '../src/gpt2/index.ts';
import { property, seedArb } from './helpers/arbitraries.ts';

const numbers = (...ts: Tensor[]): number[] => ts.flatMap((t) => Array.from(t.data));
const tiny = makeConfig({ n_layers: 1, d_model: 8, n_heads: 2, vocab_size: 16, n_ctx: 4 }, 'overfit');

/** Everything a small program draws: two layers, an embedding, attention, randn, a dropout mask, a GPT-2. */
function drawAll(): number[] {
  const a = new Linear(5, 3);
  const b = new Linear(5, 3);
  const e = new Embedding(4, 3);
  const attn = new CausalSelfAttention(4, 2);
  const mask = new Dropout(0.5).forward(tensor(new Float32Array(16).fill(1)));
  const gpt = new GPT2Model(tiny);
  return [...numbers(a.weight, a.bias!, b.weight, e.weight, randn([3]), mask), ...numbers(...attn.parameters(), ...gpt.parameters())];
}

describe('the global generator', () => {
  property(
    'two fresh Linear layers of the same shape get different weights',
    fc.record({ inF: fc.integer({ min: 1, max: 8 }), outF: fc.integer({ min: 1, max: 8 }) }),
    ({ inF, outF }) => {
      const a = new Linear(inF, outF);
      const b = new Linear(inF, outF);
      assert.notDeepEqual(numbers(a.weight, a.bias!), numbers(b.weight, b.bias!));
    },
    30,
  );

  test('two fresh Embeddings, CausalSelfAttentions, randn calls and GPT2Models differ', () => {
    assert.notDeepEqual(numbers(new Embedding(4, 3).weight), numbers(new Embedding(4, 3).weight));
    assert.notDeepEqual(numbers(...new CausalSelfAttention(4, 2).parameters()), numbers(...new CausalSelfAttention(4, 2).parameters()));
    assert.notDeepEqual(numbers(randn([5])), numbers(randn([5])));
    assert.notDeepEqual(numbers(new GPT2Model(tiny).wte.weight), numbers(new GPT2Model(tiny).wte.weight));
  });

  property(
    'manualSeed(n) replays every draw of a program; another seed gives other numbers',
    seedArb,
    (seed) => {
      manualSeed(seed);
      const first = drawAll();
      manualSeed(seed);
      assert.deepEqual(drawAll(), first);
      manualSeed(seed + 1);
      assert.notDeepEqual(drawAll(), first);
    },
    10,
  );

  test('manualSeed rejects a seed that is not an integer', () => {
    assert.throws(() => manualSeed(1.5), /seed must be an integer, got 1\.5/);
    assert.throws(() => manualSeed(NaN), /seed must be an integer/);
  });
});

describe('explicit seeds still pin one module', () => {
  property(
    'the same seed or Rng gives the same weights whatever the global generator did before',
    seedArb,
    (seed) => {
      const pinned = () => [
        ...numbers(new Linear(4, 3, { seed }).weight, new Embedding(5, 2, { rng: new Rng(seed) }).weight, randn([3], { seed })),
        ...numbers(...new CausalSelfAttention(4, 2, { seed }).parameters(), ...new GPT2Model(tiny, { seed }).parameters()),
      ];
      const first = pinned();
      defaultRng().nextUint32(); // the global stream moves on
      new Linear(8, 8);
      assert.deepEqual(pinned(), first);
    },
    10,
  );

  test('a seeded GPT2Model does not touch the global generator', () => {
    manualSeed(7);
    const before = defaultRng().getState();
    new GPT2Model(tiny, { seed: 3 });
    assert.deepEqual(defaultRng().getState(), before);
  });
});

describe('unknown option keys are rejected', () => {
  const p = [tensor([1, 2], { requiresGrad: true })];
  const cases: [string, () => unknown, RegExp][] = [
    ['Linear', () => new Linear(2, 2, { sed: 1 } as never), /Linear: unknown option 'sed' \(known: rng, seed, std, bias\)/],
    ['Embedding', () => new Embedding(2, 2, { bias: false } as never), /Embedding: unknown option 'bias'/],
    ['CausalSelfAttention', () => new CausalSelfAttention(4, 2, { dropOut: 0.1 } as never), /CausalSelfAttention: unknown option 'dropOut'/],
    ['AdamW', () => new AdamW(p, { weight_decay: 0.1 } as never), /AdamW: unknown option 'weight_decay' \(known: lr, betas, eps, weightDecay\)/],
    ['an AdamW group', () => new AdamW([{ params: p, beta1: 0.8 } as never]), /AdamW parameter group: unknown option 'beta1'/],
    ['SGD', () => new SGD(p, { nesterov: true } as never), /SGD: unknown option 'nesterov'/],
    ['GPT2Model', () => new GPT2Model(tiny, { sead: 1 } as never), /GPT2Model: unknown option 'sead'/],
  ];
  for (const [what, make, message] of cases) test(what, () => assert.throws(make, message));

  test('known keys, even when undefined, are accepted', () => {
    new Linear(2, 2, { rng: undefined, seed: undefined, std: undefined, bias: true });
    new AdamW(p, { lr: 1e-3, betas: [0.9, 0.99], eps: 1e-8, weightDecay: 0 });
    new SGD(p, { lr: 0.1, momentum: 0.9, weightDecay: 0 });
  });
});
