// The autograd engine, independent of any one op: gradients accumulate over reused nodes
// (random DAGs vs finite differences) and across backward calls, 20k-deep graphs, grad mode,
// detach, and clear errors for misuse (non-scalar backward, freed graphs, log of negatives).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { concat, isGradEnabled, layerNorm, noGrad, ones, randn, referenceBackend, tensor, zeros, type Backend, type Tensor } from '../src/autograd/index.ts';
import { gradcheck } from './helpers/gradcheck.ts';
import { property, seedArb, shapeArb, t64 } from './helpers/arbitraries.ts';

const f64 = (v: number[] | number[][], requiresGrad = true) => tensor(v, { dtype: 'float64', requiresGrad });

describe('reused nodes and accumulation', () => {
  test('a node used twice accumulates: b = a + a gives grad 2', () => {
    const a = f64([1, -2, 3]);
    a.add(a).sum().backward();
    assert.deepEqual(Array.from(a.grad!.data), [2, 2, 2]);
  });

  test('a·a gives 2a; a diamond a → (b, c) → d sums both paths', () => {
    const a = f64([1.5, -2]);
    a.mul(a).sum().backward();
    assert.deepEqual(Array.from(a.grad!.data), [3, -4]);
    const x = f64([0.5, 2]);
    const b = x.mul(3);
    const c = x.exp();
    b.mul(c).sum().backward(); // d/dx (3x·eˣ) = 3eˣ(1 + x)
    x.grad!.data.forEach((g, i) => assert.ok(Math.abs(g - 3 * Math.exp(x.data[i]) * (1 + x.data[i])) < 1e-12));
  });

  property('random reuse patterns: f(x) = Σ (x·x + x)·x − x matches finite differences', fc.tuple(shapeArb(0, 3), seedArb), ([shape, seed]) => {
    gradcheck((x) => x.mul(x).add(x).mul(x).sub(x), [t64(shape, seed)]);
  });

  test('grads accumulate across two backward calls until zeroGrad', () => {
    const w = f64([1, 2]);
    const loss = () => w.mul(w).sum(); // grad 2w
    loss().backward();
    assert.deepEqual(Array.from(w.grad!.data), [2, 4]);
    loss().backward();
    assert.deepEqual(Array.from(w.grad!.data), [4, 8]);
    w.zeroGrad();
    assert.equal(w.grad, null);
    loss().backward();
    assert.deepEqual(Array.from(w.grad!.data), [2, 4]);
  });

  test('only leaves get .grad; a leaf without requiresGrad gets none', () => {
    const x = f64([1, 2]);
    const c = f64([3, 4], false);
    const h = x.mul(c);
    h.sum().backward();
    assert.equal(h.grad, null);
    assert.equal(c.grad, null);
    assert.deepEqual(Array.from(x.grad!.data), [3, 4]);
  });

  test('a broadcast input gets a gradient of its own shape', () => {
    const b = f64([[1], [2]]); // [2, 1]
    const x = f64([1, 2, 3]); // [3]
    x.mul(b).sum().backward();
    assert.deepEqual(b.grad!.shape, [2, 1]);
    assert.deepEqual(b.grad!.tolist(), [[6], [6]]);
    assert.deepEqual(x.grad!.shape, [3]);
    assert.deepEqual(Array.from(x.grad!.data), [3, 3, 3]);
  });
});

// ---- random computation graphs ------------------------------------------------------------

/**
 * One step of a random program over [R, C] tensors: picks an op and operands among the
 * nodes made so far (so nodes are reused and gradients must accumulate across paths).
 * Only ops smooth everywhere (no relu/max kinks, no log/sqrt domains); products go through
 * tanh so values stay O(1) however deep the program.
 */
function applyStep(nodes: Tensor[], kind: number, i: number, j: number): Tensor {
  const a = nodes[i % nodes.length];
  const b = nodes[j % nodes.length];
  const [R, C] = a.shape;
  const w = tensor(Float64Array.from({ length: C }, (_, c) => 0.5 + c / 4), { dtype: 'float64' });
  switch (kind % 14) {
    case 0: return a.add(b);
    case 1: return a.sub(b.sum(-1, true)); // [R, 1] broadcast
    case 2: return a.mul(b.tanh());
    case 3: return a.add(b.mean(0)); // [C]: a leading broadcast dim
    case 4: return a.gelu();
    case 5: return a.softmax(-1).mul(2);
    case 6: return a.softmax(0).sub(b.tanh());
    case 7: return a.tanh().exp();
    case 8: return layerNorm(a, w, w.mul(0.1), 1e-5).add(b);
    case 9: return a.transpose(0, 1).mul(b.transpose(-1, -2).tanh()).permute([1, 0]);
    case 10: return a.reshape([-1]).reshape([R, C]).div(b.tanh().add(2));
    case 11: return concat([a, b], 1).slice(1, 1, C + 1); // mixes a's tail with b's head
    case 12: return a.matmul(b.transpose(0, 1)).tanh().matmul(b).mul(0.3);
    default: return a.expand([2, R, C]).sum(0).mul(b.tanh().pow(2).add(0.5));
  }
}

describe('random computation graphs', () => {
  property(
    'random DAGs of ops (reused nodes, broadcasts, layout round trips) match finite differences',
    fc.record({
      R: fc.integer({ min: 1, max: 3 }),
      C: fc.integer({ min: 1, max: 3 }),
      steps: fc.array(fc.tuple(fc.nat(13), fc.nat(20), fc.nat(20)), { minLength: 1, maxLength: 7 }),
      seed: seedArb,
    }),
    ({ R, C, steps, seed }) => {
      const program = (x: Tensor, y: Tensor) => {
        const nodes = [x, y];
        for (const [kind, i, j] of steps) nodes.push(applyStep(nodes, kind, i, j));
        return nodes[nodes.length - 1];
      };
      gradcheck(program, [t64([R, C], seed), t64([R, C], seed + 1)]);
    },
    200,
  );
});

describe('deep graphs', () => {
  test('a 20,000-op chain back-propagates without stack overflow', () => {
    const x = f64([1]);
    let y: Tensor = x;
    for (let i = 0; i < 20_000; i++) y = i % 2 === 0 ? y.mul(1.0001) : y.add(0.5);
    y.sum().backward();
    // d/dx = 1.0001^10000
    assert.ok(Math.abs(x.grad!.item() - 1.0001 ** 10_000) < 1e-9 * 1.0001 ** 10_000, `${x.grad!.item()}`);
  });

  test('a wide fan-in (one leaf used 5,000 times) sums every path', () => {
    const x = f64([2]);
    let acc: Tensor = zeros([1], { dtype: 'float64' });
    for (let i = 0; i < 5_000; i++) acc = acc.add(x);
    acc.sum().backward();
    assert.equal(x.grad!.item(), 5_000);
  });
});

describe('seeds and errors', () => {
  test('backward of a non-scalar without a seed gradient throws a clear error', () => {
    const y = f64([1, 2, 3]).mul(2);
    assert.throws(() => y.backward(), { message: 'backward: output of shape [3] is not a scalar; pass the gradient of the loss w.r.t. it' });
  });

  test('a seed gradient gives the vector-Jacobian product; a wrong-size seed throws', () => {
    const x = f64([1, 2, 3]);
    x.mul(x).backward(tensor([1, 0, -1], { dtype: 'float64' }));
    assert.deepEqual(Array.from(x.grad!.data), [2, 0, -6]);
    assert.throws(() => x.mul(2).backward(tensor([1, 2], { dtype: 'float64' })), /backward: gradient of shape \[2\] does not match output \[3\]/);
  });

  test('backward of a tensor that needs no grad throws', () => {
    assert.throws(() => f64([1], false).mul(2).sum().backward(), /backward: this tensor does not require grad/);
  });

  test('log of a negative (or NaN) input throws; log(0) is −Infinity', () => {
    assert.throws(() => tensor([1, -0.5, 2]).log(), /log: input \[3\] has -0.5 at flat index 1; log of a negative number is NaN/);
    assert.throws(() => tensor([NaN]).log(), /log: input \[1\] has NaN/);
    assert.equal(tensor([0]).log().item(), -Infinity);
  });

  test('float32 and float64 operands may not be mixed', () => {
    assert.throws(() => tensor([1]).add(tensor([1], { dtype: 'float64' })), /add: dtype mismatch \(float32 vs float64\)/);
  });

  test('item() of a multi-element tensor throws', () => {
    assert.throws(() => ones([2]).item(), /item: tensor of shape \[2\] has 2 elements, not 1/);
    return assert.rejects(ones([2]).toNumber(), /toNumber: tensor of shape \[2\] has 2 elements, not 1/);
  });

  test('toNumber() reads one number where item() cannot: on a backend that reads back only asynchronously (as WebGPU)', async () => {
    const asyncOnly: Backend = {
      ...referenceBackend,
      name: 'async-only',
      asyncOnly: true,
      toHost: () => {
        throw new Error('async-only: reading numbers back is asynchronous here');
      },
    };
    const loss = tensor([2, 3], { backend: asyncOnly }).mul(tensor([4, 5], { backend: asyncOnly })).sum(); // 2·4 + 3·5
    assert.throws(() => loss.item(), /asynchronous/);
    assert.equal(await loss.toNumber(), 23);
    assert.equal(await tensor([1.5]).toNumber(), tensor([1.5]).item());
  });
});

describe('grad mode and detach', () => {
  test('noGrad records no graph, restores the mode (even after a throw), nests', () => {
    const x = f64([1, 2]);
    const y = noGrad(() => {
      assert.equal(isGradEnabled(), false);
      noGrad(() => assert.equal(isGradEnabled(), false));
      assert.equal(isGradEnabled(), false);
      return x.mul(x).exp().sum();
    });
    assert.equal(isGradEnabled(), true);
    assert.equal(y.requiresGrad, false);
    assert.equal(y.gradFn, null);
    assert.throws(() => y.backward(), /does not require grad/);
    assert.throws(() =>
      noGrad(() => {
        throw new Error('boom');
      }),
    );
    assert.equal(isGradEnabled(), true);
    assert.equal(x.mul(2).requiresGrad, true);
  });

  test('detach stops gradients and shares the numbers', () => {
    const x = f64([1.5, -2]);
    const d = x.detach();
    assert.equal(d.requiresGrad, false);
    assert.deepEqual(Array.from(d.data), [1.5, -2]);
    x.mul(d).sum().backward(); // d is a constant: grad = d, not 2x
    assert.deepEqual(Array.from(x.grad!.data), [1.5, -2]);
    x.zeroGrad();
    x.exp().detach().mul(3).add(x).sum().backward(); // only the x term
    assert.deepEqual(Array.from(x.grad!.data), [1, 1]);
  });

  test('back-propagating through a freed graph again throws instead of losing gradients', () => {
    const x = f64([1, 2]);
    const h = x.mul(2);
    const loss = h.sum();
    loss.backward();
    assert.throws(() => loss.backward(), /backward: the graph was already freed/);
    assert.throws(() => h.mul(3).sum().backward(), /backward: the graph was already freed/);
    assert.deepEqual(Array.from(x.grad!.data), [2, 2]); // untouched by the refused calls
    assert.equal(h.grad, null);
    x.mul(2).sum().backward(); // a fresh forward is fine
    assert.deepEqual(Array.from(x.grad!.data), [4, 4]);
  });

  test('the graph is freed after backward (no gradFn kept on intermediate nodes)', () => {
    const x = f64([1, 2]);
    const h = x.mul(2);
    const loss = h.sum();
    loss.backward();
    assert.equal(loss.gradFn, null);
    assert.equal(h.gradFn, null);
  });
});

describe('creation functions', () => {
  test('tensor infers shapes, rejects ragged input and size mismatch; zeros/ones/full/randn', () => {
    assert.deepEqual(tensor([[1, 2, 3]]).shape, [1, 3]);
    assert.deepEqual(tensor(3.5).shape, []);
    assert.throws(() => tensor([[1, 2], [3]]), /ragged/);
    assert.throws(() => tensor(new Float32Array(5), { shape: [2, 3] }), /tensor: 5 values cannot have shape \[2,3\]/);
    assert.deepEqual(Array.from(zeros([2]).data), [0, 0]);
    const r1 = randn([4], { seed: 7 }).data;
    const r2 = randn([4], { seed: 7 }).data;
    assert.deepEqual(Array.from(r1), Array.from(r2)); // reproducible from the seed
    assert.equal(randn([3], { seed: 1, dtype: 'float64' }).dtype, 'float64');
  });

  test('to(float64) / to(float32) round-trips values', () => {
    const x = tensor([0.1, 0.2]);
    const y = x.to('float64');
    assert.equal(y.dtype, 'float64');
    assert.deepEqual(Array.from(y.to('float32').data), Array.from(x.data));
  });
});
