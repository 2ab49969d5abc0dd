// Property tests of the fused ops and functional ops: layerNorm, crossEntropy, causalAttention,
// gelu, linear, embedding, dropout. Each: gradient vs float64 finite differences, float32
// forward vs float64, and fused == composed from primitive ops (forward and backward, float64,
// |Δ| ≤ 1e-10 + 1e-8·|expected|); plus invariants (softmax/layerNorm/crossEntropy identities).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { causalAttention, crossEntropy, dropout, embedding, layerNorm, linear, linearCrossEntropy, Rng, tensor, type Tensor } from '../src/autograd/index.ts';
import { attentionComposed } from '../src/nn/index.ts';
import { assertSameFunction, checkFloat32, gradcheck } from './helpers/gradcheck.ts';
import { property, seedArb, shapeArb, t64 } from './helpers/arbitraries.ts';

// ---- layerNorm --------------------------------------------------------------------------

/** LayerNorm from primitive ops: (x − mean)/√(biased var + eps)·w + b over the last axis. */
function layerNormComposed(x: Tensor, w: Tensor, b: Tensor, eps: number): Tensor {
  const mu = x.mean(-1, true);
  const xc = x.sub(mu);
  const variance = xc.mul(xc).mean(-1, true);
  return xc.div(variance.add(eps).sqrt()).mul(w).add(b);
}

const lnArb = fc.record({
  lead: shapeArb(0, 2, 3),
  C: fc.integer({ min: 2, max: 6 }),
  eps: fc.constantFrom(1e-5, 1e-3, 0.1),
  seed: seedArb,
});

describe('layerNorm', () => {
  property('gradient w.r.t. x, weight, bias; float32 forward and gradients', lnArb, ({ lead, C, eps, seed }) => {
    const x = t64([...lead, C], seed);
    const w = t64([C], seed + 1);
    const b = t64([C], seed + 2);
    const f = (x: Tensor, w: Tensor, b: Tensor) => layerNorm(x, w, b, eps);
    gradcheck(f, [x, w, b]);
    // float32: rstd ≤ 1/√eps amplifies rounding of (x − mean) by up to ~300 for eps 1e-5 on
    // near-constant rows; with N(0,1) rows (var ≳ 0.01) the error stays ≲ 1e-5, so 1e-4.
    checkFloat32(f, [x, w, b], { atol: 1e-4, rtol: 1e-4, grads: true, gradAtol: 1e-3, gradRtol: 1e-3 });
  });

  property('fused == composed from mean/var, forward and backward', lnArb, ({ lead, C, eps, seed }) => {
    const inputs = [t64([...lead, C], seed), t64([C], seed + 1), t64([C], seed + 2)];
    assertSameFunction(
      (x, w, b) => layerNorm(x, w, b, eps),
      (x, w, b) => layerNormComposed(x, w, b, eps),
      inputs,
    );
  });

  property('weight 1, bias 0: each row has mean 0 and variance v/(v+eps) ≈ 1', lnArb, ({ lead, C, eps, seed }) => {
    const x = t64([...lead, C], seed, { lo: -3, hi: 5 });
    const y = layerNorm(x, tensor(new Float64Array(C).fill(1), { dtype: 'float64' }), tensor(new Float64Array(C), { dtype: 'float64' }), eps);
    const rows = x.size / C;
    for (let r = 0; r < rows; r++) {
      const row = Array.from(y.data.subarray(r * C, r * C + C));
      const xr = Array.from(x.data.subarray(r * C, r * C + C));
      const mean = row.reduce((a, v) => a + v, 0) / C;
      const vr = row.reduce((a, v) => a + (v - mean) ** 2, 0) / C;
      const xm = xr.reduce((a, v) => a + v, 0) / C;
      const xv = xr.reduce((a, v) => a + (v - xm) ** 2, 0) / C;
      assert.ok(Math.abs(mean) < 1e-12, `row ${r} mean ${mean}`);
      assert.ok(Math.abs(vr - xv / (xv + eps)) < 1e-12, `row ${r} variance ${vr}, expected ${xv / (xv + eps)}`);
      if (eps === 1e-5 && xv > 0.01) assert.ok(Math.abs(vr - 1) < 1e-3, `row ${r} variance ${vr}`);
    }
  });

  test('mismatched weight size names the shapes', () => {
    assert.throws(() => layerNorm(tensor([[1, 2, 3]]), tensor([1, 1]), tensor([0, 0])), /layerNorm: input \[1,3\] needs weight and bias of \[3\], got \[2\] and \[2\]/);
  });
});

// ---- crossEntropy -----------------------------------------------------------------------

/** −logSoftmax(logits)[target] averaged over non-ignored rows, from primitive ops. */
function crossEntropyComposed(logits: Tensor, targets: number[], ignoreIndex: number): Tensor {
  const V = logits.shape[logits.ndim - 1];
  const rows = logits.size / V;
  const pick = new Float64Array(rows * V); // one-hot of each counted row's target
  let count = 0;
  targets.forEach((t, r) => {
    if (t === ignoreIndex) return;
    pick[r * V + t] = 1;
    count++;
  });
  const onehot = tensor(pick, { shape: logits.shape, dtype: logits.dtype });
  return logits.logSoftmax(-1).mul(onehot).sum().neg().div(count);
}

const ceArb = fc
  .record({
    lead: shapeArb(1, 2, 3),
    V: fc.integer({ min: 2, max: 6 }),
    ignoreIndex: fc.constantFrom(-1, -100, 0, 3),
    ignoreSome: fc.boolean(),
    seed: seedArb,
  })
  .map(({ lead, V, ignoreIndex, ignoreSome, seed }) => {
    const rows = lead.reduce((a, b) => a * b, 1);
    const rng = new Rng(seed);
    // valid targets never equal ignoreIndex (it would mean "skip"); at least row 0 counts
    const valid = Array.from({ length: V }, (_, i) => i).filter((i) => i !== ignoreIndex);
    const targets = Array.from({ length: rows }, (_, r) => (ignoreSome && r > 0 && rng.uniform() < 0.4 ? ignoreIndex : valid[rng.int(valid.length)]));
    return { shape: [...lead, V], targets, ignoreIndex, seed };
  });

describe('crossEntropy', () => {
  property('gradient w.r.t. logits (with ignored rows); float32 forward and gradient', ceArb, ({ shape, targets, ignoreIndex, seed }) => {
    const logits = t64(shape, seed, { lo: -3, hi: 3 });
    const f = (x: Tensor) => crossEntropy(x, targets, { ignoreIndex });
    gradcheck(f, [logits]);
    checkFloat32(f, [logits], { grads: true });
  });

  property('fused == −logSoftmax picked at targets, averaged over non-ignored rows (fwd + bwd)', ceArb, ({ shape, targets, ignoreIndex, seed }) => {
    assertSameFunction(
      (x) => crossEntropy(x, targets, { ignoreIndex }),
      (x) => crossEntropyComposed(x, targets, ignoreIndex),
      [t64(shape, seed, { lo: -5, hi: 5 })],
    );
  });

  property('linearCrossEntropy == crossEntropy(linear(x, W)) (fwd + bwd, both inputs); gradient vs finite differences', ceArb, ({ shape, targets, ignoreIndex, seed }) => {
    const V = shape[shape.length - 1];
    const x = t64([...shape.slice(0, -1), 3], seed, { lo: -2, hi: 2 });
    const w = t64([V, 3], seed + 1, { lo: -1, hi: 1 });
    const fused = (x: Tensor, w: Tensor) => linearCrossEntropy(x, w, targets, { ignoreIndex });
    assertSameFunction(fused, (x, w) => crossEntropy(linear(x, w), targets, { ignoreIndex }), [x, w]);
    gradcheck(fused, [x, w]);
  });

  property('loss ≥ 0; a single row gives exactly −log softmax(x)[target]', ceArb, ({ shape, targets, ignoreIndex, seed }) => {
    const logits = t64(shape, seed, { lo: -5, hi: 5 });
    assert.ok(crossEntropy(logits, targets, { ignoreIndex }).item() >= 0);
    const V = shape[shape.length - 1];
    const row = logits.reshape([-1, V]).slice(0, 0, 1); // the first row (never ignored)
    const p = row.softmax().data[targets[0]];
    const loss = crossEntropy(row, [targets[0]], { ignoreIndex }).item();
    assert.ok(loss >= 0);
    assert.ok(Math.abs(loss - -Math.log(p)) < 1e-12, `${loss} vs ${-Math.log(p)}`);
  });

  test('default ignoreIndex is −1; every row ignored gives NaN (as PyTorch)', () => {
    const x = tensor([[1, 2, 3]], { dtype: 'float64' });
    assert.ok(Number.isNaN(crossEntropy(x, [-1]).item()));
    assert.ok(Number.isNaN(crossEntropy(x, [2], { ignoreIndex: 2 }).item()));
  });

  test('out-of-range, non-integer and miscounted targets throw', () => {
    const x = tensor([
      [1, 2, 3],
      [0, 0, 0],
    ]);
    assert.throws(() => crossEntropy(x, [0, 3]), /crossEntropy: target 3 at row 1 is out of range \[0, 3\)/);
    assert.throws(() => crossEntropy(x, [-2, 0]), /crossEntropy: target -2 at row 0 is out of range/);
    assert.throws(() => crossEntropy(x, [0, 1.5]), /crossEntropy: target 1.5 at row 1 is out of range/);
    assert.throws(() => crossEntropy(x, [0]), /crossEntropy: logits \[2,3\] have 2 rows but there are 1 targets/);
    // values that wrap around when converted to int32 must not sneak through
    assert.throws(() => crossEntropy(x, [0, 2 ** 32 + 1]), /out of range/);
    assert.throws(() => crossEntropy(x, [0, 2 ** 32 - 1]), /out of range/); // wraps to −1 = ignoreIndex
  });

  property('out-of-range targets always throw', fc.tuple(fc.integer({ min: 2, max: 5 }), fc.oneof(fc.integer({ min: 5, max: 2 ** 40 }), fc.integer({ min: -(2 ** 40), max: -2 }))), ([V, bad]) => {
    const x = tensor(new Float32Array(2 * V), { shape: [2, V] });
    assert.throws(() => crossEntropy(x, [0, bad]), /out of range/);
  }, 200);
});

// ---- causal attention -------------------------------------------------------------------

const attnArb = fc.record({
  B: fc.integer({ min: 1, max: 2 }),
  H: fc.integer({ min: 1, max: 2 }),
  Tk: fc.integer({ min: 1, max: 4 }),
  drop: fc.nat(3), // Tq = Tk − drop (clamped to ≥ 1): Tq = Tk and Tq < Tk
  D: fc.integer({ min: 1, max: 3 }),
  seed: seedArb,
});

describe('causalAttention', () => {
  property('fused gradient w.r.t. q, k, v (Tq ≤ Tk); float32 forward and gradients', attnArb, ({ B, H, Tk, drop, D, seed }) => {
    const Tq = Math.max(1, Tk - drop);
    const q = t64([B, H, Tq, D], seed);
    const k = t64([B, H, Tk, D], seed + 1);
    const v = t64([B, H, Tk, D], seed + 2);
    gradcheck(causalAttention, [q, k, v]);
    checkFloat32(causalAttention, [q, k, v], { grads: true });
  }, 60);

  property('fused == attentionComposed (Tq = Tk and Tq < Tk), forward and backward', attnArb, ({ B, H, Tk, drop, D, seed }) => {
    const Tq = Math.max(1, Tk - drop);
    assertSameFunction((q, k, v) => causalAttention(q, k, v), (q, k, v) => attentionComposed(q, k, v), [
      t64([B, H, Tq, D], seed, { lo: -2, hi: 2 }),
      t64([B, H, Tk, D], seed + 1, { lo: -2, hi: 2 }),
      t64([B, H, Tk, D], seed + 2),
    ]);
  });

  test('causality: a query never depends on a later key or value', () => {
    const [B, H, T, D] = [1, 1, 4, 2];
    const q = t64([B, H, T, D], 1);
    const k = t64([B, H, T, D], 2, 'normal', true);
    const v = t64([B, H, T, D], 3, 'normal', true);
    causalAttention(q, k, v).slice(2, 0, 2).sum().backward(); // rows 0 and 1 only
    const dk = k.grad!.data;
    const dv = v.grad!.data;
    for (let i = 2 * D; i < T * D; i++) assert.equal(dk[i] + dv[i], 0, `key/value position ${Math.floor(i / D)} got gradient`);
  });

  test('Tq > Tk and mismatched shapes throw', () => {
    assert.throws(() => causalAttention(t64([1, 1, 3, 2], 0), t64([1, 1, 2, 2], 1), t64([1, 1, 2, 2], 2)), /causalAttention: .*Tq ≤ Tk/);
    assert.throws(() => causalAttention(t64([1, 1, 2, 2], 0), t64([1, 1, 2, 3], 1), t64([1, 1, 2, 3], 2)), /causalAttention/);
  });
});

// ---- gelu -------------------------------------------------------------------------------

/** GPT-2's tanh GELU from primitive ops. */
function geluComposed(x: Tensor): Tensor {
  const inner = x.add(x.pow(3).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
  return x.mul(0.5).mul(inner.tanh().add(1));
}

/** erf by composite Simpson on 2/√π·∫₀ˣ e^(−t²) dt, 2000 panels: error < 1e-12 for |x| ≤ 6. */
function erf(x: number): number {
  const n = 2000;
  const h = x / n;
  let s = 1 + Math.exp(-x * x);
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * Math.exp(-((i * h) ** 2));
  return ((2 / Math.sqrt(Math.PI)) * s * h) / 3;
}

describe('gelu', () => {
  property('fused == 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) composed, forward and backward', fc.tuple(shapeArb(0, 3, 4), seedArb), ([shape, seed]) => {
    assertSameFunction((x) => x.gelu(), geluComposed, [t64(shape, seed, { lo: -6, hi: 6 })]);
  });

  test('erf (Simpson) sanity: erf(1) and erf(2) against known values', () => {
    assert.ok(Math.abs(erf(1) - 0.8427007929497149) < 1e-12);
    assert.ok(Math.abs(erf(2) - 0.9953222650189527) < 1e-12);
  });

  test('tanh GELU differs from the exact erf GELU 0.5·x·(1 + erf(x/√2)) by < 1e-3 on [−8, 8]', () => {
    const xs = Array.from({ length: 1601 }, (_, i) => -8 + i * 0.01);
    const x = tensor(xs, { dtype: 'float64' });
    const g = x.gelu().data;
    let worst = 0;
    xs.forEach((v, i) => (worst = Math.max(worst, Math.abs(g[i] - 0.5 * v * (1 + erf(v / Math.SQRT2))))));
    assert.ok(worst < 1e-3, `max |tanh − erf| = ${worst}`);
    assert.ok(worst > 1e-5, 'the two forms are not identical (sanity)');
  });
});

// ---- linear, embedding, dropout -----------------------------------------------------------

const linArb = fc.record({
  lead: shapeArb(0, 2, 3),
  inF: fc.integer({ min: 1, max: 4 }),
  outF: fc.integer({ min: 1, max: 4 }),
  bias: fc.boolean(),
  seed: seedArb,
});

describe('linear', () => {
  property('gradient w.r.t. x, W, b; float32 forward and gradients', linArb, ({ lead, inF, outF, bias, seed }) => {
    const inputs = [t64([...lead, inF], seed), t64([outF, inF], seed + 1), ...(bias ? [t64([outF], seed + 2)] : [])];
    const f = (x: Tensor, w: Tensor, b?: Tensor) => linear(x, w, b ?? null);
    gradcheck(f, inputs);
    checkFloat32(f, inputs, { grads: true });
  });

  property('linear(x, W, b) == x @ Wᵀ + b (shared 2-D weight), forward and backward', linArb, ({ lead, inF, outF, seed }) => {
    // x of rank 1 cannot go through matmul: give it a row dim for the composed side
    const x = t64([...(lead.length === 0 ? [1] : lead), inF], seed);
    assertSameFunction(
      (x, w, b) => linear(x, w, b),
      (x, w, b) => x.matmul(w.transpose(0, 1)).add(b),
      [x, t64([outF, inF], seed + 1), t64([outF], seed + 2)],
    );
  });

  test('wrong weight shape names the shapes', () => {
    assert.throws(() => linear(tensor([[1, 2, 3]]), tensor([[1, 2]])), /linear: input \[1,3\] @ weight \[1,2\]ᵀ: weight must be \[out, 3\]/);
  });
});

describe('embedding', () => {
  const embArb = fc.record({ V: fc.integer({ min: 1, max: 5 }), C: fc.integer({ min: 1, max: 4 }), idsShape: shapeArb(1, 2, 3), seed: seedArb });
  property('rows picked by id; gradient scatter-adds (repeated ids accumulate); float32', embArb, ({ V, C, idsShape, seed }) => {
    const rng = new Rng(seed);
    const ids = Array.from({ length: idsShape.reduce((a, b) => a * b, 1) }, () => rng.int(V));
    const w = t64([V, C], seed);
    const out = embedding(w, ids, idsShape);
    assert.deepEqual(out.shape, [...idsShape, C]);
    ids.forEach((id, i) => assert.deepEqual(Array.from(out.data.subarray(i * C, i * C + C)), Array.from(w.data.subarray(id * C, id * C + C))));
    const f = (w: Tensor) => embedding(w, ids, idsShape);
    gradcheck(f, [w]);
    checkFloat32(f, [w], { atol: 0, rtol: 0 }); // a copy: exact
    // the gradient of a plain sum counts how often each row was used
    const wl = t64([V, C], seed, 'normal', true);
    embedding(wl, ids, idsShape).sum().backward();
    for (let r = 0; r < V; r++) {
      const uses = ids.filter((id) => id === r).length;
      for (let c = 0; c < C; c++) assert.equal(wl.grad!.data[r * C + c], uses);
    }
  });

  property('out-of-range or non-integer ids throw', fc.tuple(fc.integer({ min: 1, max: 5 }), fc.oneof(fc.integer({ min: 5, max: 2 ** 40 }), fc.integer({ min: -(2 ** 40), max: -1 }), fc.double({ min: 0.1, max: 0.9, noNaN: true }))), ([V, bad]) => {
    const w = tensor(new Float32Array(V * 2), { shape: [V, 2] });
    const id = bad >= 5 ? bad + V : bad; // ≥ V
    assert.throws(() => embedding(w, [0, id]), /embedding: index .* at position 1 is out of range/);
  }, 200);

  test('ids that wrap around in int32 (2³², 2³²+1) throw', () => {
    const w = tensor(new Float32Array(6), { shape: [3, 2] });
    assert.throws(() => embedding(w, [2 ** 32]), /out of range/);
    assert.throws(() => embedding(w, [2 ** 32 + 1]), /out of range/);
  });
});

describe('dropout', () => {
  property('gradient with a fixed mask; float32 forward; p = 0 is the identity', fc.tuple(shapeArb(1, 3, 4), fc.constantFrom(0.1, 0.5, 0.9), seedArb), ([shape, p, seed]) => {
    const x = t64(shape, seed);
    const f = (x: Tensor) => dropout(x, p, new Rng(seed)); // same seed, same mask each call
    gradcheck(f, [x]);
    checkFloat32(f, [x]);
    assert.equal(dropout(x, 0, new Rng(seed)), x);
  });

  property('survivors are x/(1−p) exactly (float64 too), the rest 0', fc.tuple(fc.constantFrom(0.1, 0.3, 0.5, 0.7), seedArb), ([p, seed]) => {
    const x = t64([64], seed, { lo: 0.5, hi: 2 });
    const y = dropout(x, p, new Rng(seed)).data;
    y.forEach((v, i) => assert.ok(v === 0 || v === x.data[i] * (1 / (1 - p)), `element ${i}: ${v} vs ${x.data[i]}/(1−${p})`));
  });

  test('p outside [0, 1) throws', () => {
    assert.throws(() => dropout(tensor([1]), 1, new Rng(0)), /dropout: p must be in \[0, 1\)/);
    assert.throws(() => dropout(tensor([1]), -0.1, new Rng(0)), /dropout/);
  });
});
