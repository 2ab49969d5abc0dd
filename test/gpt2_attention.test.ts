// GPT-2's CausalSelfAttention (src/gpt2/model.ts): its fused, composed and KV-cache paths agree
// (float64: |Δ| ≤ 1e-10 + 1e-8·|x|); in train mode its attention dropout acts on the masked
// softmax weights, by the formula, and stays causal.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { dropout, Rng, tensor, type Tensor } from '../src/autograd/index.ts';
import { attentionComposed, Dropout } from '../src/nn/index.ts';
import { CausalSelfAttention, type KVCache } from '../src/gpt2/model.ts';
import { assertClose } from './helpers/gradcheck.ts';
import { property, seedArb, t64 } from './helpers/arbitraries.ts';

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
