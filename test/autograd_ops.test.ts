// Every primitive Tensor op, on random small shapes (broadcast pairs, size-1 and leading
// broadcast dims, batched matmul with broadcast batches, negative axes, keepdim): gradient ==
// float64 central differences (eps 1e-6, |a−n| ≤ 1e-6 + 1e-4·|n|), float32 forward within
// 1e-5 + 1e-5·|f64| and float32 gradients within 1e-4 + 1e-4·|g64| of float64.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { concat, tensor, type Tensor } from '../src/autograd/index.ts';
import { broadcastShapes } from '../src/autograd/shape.ts';
import { checkFloat32, gradcheck, like, type CloseOptions, type TensorFn } from './helpers/gradcheck.ts';
import { broadcastPairArb, matmulPairArb, property, seedArb, shapeArb, t64, values, type Domain } from './helpers/arbitraries.ts';

/**
 * The checks every op gets: gradient vs finite differences (float64), and float32 vs float64
 * forward (1e-5 + 1e-5·|f64|) and gradients (1e-4 + 1e-4·|g64|: the backward adds one more
 * chain of float32 roundings, and the projection sums ≤ ~100 terms into each gradient).
 */
function checkOp(f: TensorFn, inputs: Tensor[], f32: CloseOptions = {}): void {
  gradcheck(f, inputs);
  checkFloat32(f, inputs, { ...f32, grads: true });
}

// ---- binary elementwise ops with broadcasting -------------------------------------------

describe('binary elementwise ops (broadcasting)', () => {
  const cases: [string, Domain, Domain, (a: Tensor, b: Tensor) => Tensor][] = [
    ['add', 'normal', 'normal', (a, b) => a.add(b)],
    ['sub', 'normal', 'normal', (a, b) => a.sub(b)],
    ['mul', 'normal', 'normal', (a, b) => a.mul(b)],
    // |b| ≥ 0.5 keeps 1/b and a/b² well conditioned
    ['div', 'normal', { lo: 0.5, hi: 2 }, (a, b) => a.div(b)],
    ['div (negative divisor)', 'normal', { lo: -2, hi: -0.5 }, (a, b) => a.div(b)],
    // base in [0.5, 2] (log defined, no blow-up), tensor exponent in [−2, 2]: d/da and d/db
    ['pow (tensor exponent)', { lo: 0.5, hi: 2 }, { lo: -2, hi: 2 }, (a, b) => a.pow(b)],
  ];
  for (const [name, da, db, f] of cases) {
    property(`${name}: gradient and float32 forward over broadcast shapes`, fc.tuple(broadcastPairArb(), seedArb), ([[sa, sb], seed]) => {
      const a = t64(sa, seed, da);
      const b = t64(sb, seed + 1, db);
      const out = f(a, b);
      assert.deepEqual(out.shape, broadcastShapes(name, sa, sb));
      checkOp(f, [a, b]);
    });
  }

  property(
    'scalar (number) operands: add, sub, mul, div, pow',
    fc.tuple(shapeArb(0, 3), seedArb, fc.constantFrom(-1.5, -1, 0.5, 2, 3), fc.double({ min: 0.25, max: 3, noNaN: true }), fc.boolean()),
    ([shape, seed, exponent, magnitude, negative]) => {
      const c = negative ? -magnitude : magnitude; // |c| ≥ 0.25: a safe divisor
      const pos = t64(shape, seed, { lo: 0.5, hi: 2 });
      checkOp((x) => x.add(c).mul(c).sub(c), [pos]);
      checkOp((x) => x.div(c), [pos]);
      checkOp((x) => x.pow(exponent), [pos]);
    },
  );

  property('pow with a tensor exponent that needs no grad sends gradient to the base only', fc.tuple(broadcastPairArb(), seedArb), ([[sa, sb], seed]) => {
    const e = t64(sb, seed + 1, { lo: -2, hi: 2 });
    checkOp((a) => a.pow(like(e, a)), [t64(sa, seed, { lo: 0.5, hi: 2 })]);
  });

  property('eq: 1 where equal else 0, broadcast; never records a gradient', fc.tuple(broadcastPairArb(), seedArb), ([[sa, sb], seed]) => {
    // small integers so that equal values actually occur
    const ints = (s: number[], sd: number) => tensor(values(s, sd, { lo: 0, hi: 3 }).map(Math.floor), { shape: s, dtype: 'float64', requiresGrad: true });
    const a = ints(sa, seed);
    const b = ints(sb, seed + 1);
    const out = a.eq(b);
    assert.equal(out.requiresGrad, false);
    assert.equal(out.gradFn, null);
    const expected = a.expand(out.shape).data.map((x, i) => (x === b.expand(out.shape).data[i] ? 1 : 0));
    assert.deepEqual(Array.from(out.data), Array.from(expected));
  });

  test('mismatched shapes name both shapes', () => {
    assert.throws(() => tensor([1, 2, 3]).add(tensor([1, 2])), /add: shapes \[3\] and \[2\] do not broadcast/);
  });
});

// ---- unary ops --------------------------------------------------------------------------

describe('unary elementwise ops', () => {
  const cases: [string, Domain, (x: Tensor) => Tensor][] = [
    ['neg', 'normal', (x) => x.neg()],
    ['exp', 'normal', (x) => x.exp()],
    ['log', { lo: 0.2, hi: 3 }, (x) => x.log()], // away from 0, where 1/x blows up
    ['sqrt', { lo: 0.2, hi: 3 }, (x) => x.sqrt()],
    ['tanh', 'normal', (x) => x.tanh()],
    ['relu', 'awayFromZero', (x) => x.relu()], // |x| ≥ 0.1 ≫ eps: never straddles the kink
    ['gelu', 'normal', (x) => x.gelu()],
  ];
  for (const [name, domain, f] of cases) {
    property(`${name}: gradient and float32 forward`, fc.tuple(shapeArb(0, 3, 4), seedArb), ([shape, seed]) => {
      checkOp(f, [t64(shape, seed, domain)]);
    });
  }

  property('neg/exp/log/sqrt/tanh/relu values equal Math.* per element', fc.tuple(shapeArb(1, 2, 4), seedArb), ([shape, seed]) => {
    const x = t64(shape, seed, { lo: 0.2, hi: 3 });
    const each = (t: Tensor, f: (v: number) => number) => assert.deepEqual(Array.from(t.data), Array.from(x.data, f));
    each(x.neg(), (v) => -v);
    each(x.exp(), Math.exp);
    each(x.log(), Math.log);
    each(x.sqrt(), Math.sqrt);
    each(x.tanh(), Math.tanh);
    each(x.neg().relu(), () => 0);
  });
});

// ---- reductions -------------------------------------------------------------------------

/** A shape with rank ≥ 1 and axes for it: undefined (all), one axis, or a list; negatives too. */
const reduceArb = shapeArb(1, 3, 3).chain((shape) =>
  fc.record({
    shape: fc.constant(shape),
    axis: fc.oneof(
      fc.constant(undefined),
      fc.integer({ min: -shape.length, max: shape.length - 1 }),
      fc.uniqueArray(fc.integer({ min: 0, max: shape.length - 1 }), { minLength: 1, maxLength: shape.length }).map((as) => as.map((a, i) => (i % 2 === 1 ? a - shape.length : a))),
    ),
    keepdim: fc.boolean(),
    seed: seedArb,
  }),
);

function reducedShape(shape: number[], axis: number | number[] | undefined, keepdim: boolean): number[] {
  const axes = axis === undefined ? shape.map((_, i) => i) : (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + shape.length : a));
  return keepdim ? shape.map((d, i) => (axes.includes(i) ? 1 : d)) : shape.filter((_, i) => !axes.includes(i));
}

describe('reductions', () => {
  property('sum: gradient, float32 forward, shape with keepdim and negative axes', reduceArb, ({ shape, axis, keepdim, seed }) => {
    const x = t64(shape, seed);
    assert.deepEqual(x.sum(axis, keepdim).shape, reducedShape(shape, axis, keepdim));
    checkOp((x) => x.sum(axis, keepdim), [x]);
  });

  property('mean: gradient, float32 forward, equals sum / count', reduceArb, ({ shape, axis, keepdim, seed }) => {
    const x = t64(shape, seed);
    const m = x.mean(axis, keepdim);
    const count = x.size / x.sum(axis, keepdim).size;
    assert.deepEqual(m.shape, reducedShape(shape, axis, keepdim));
    m.data.forEach((v, i) => assert.ok(Math.abs(v - x.sum(axis, keepdim).data[i] / count) < 1e-12));
    checkOp((x) => x.mean(axis, keepdim), [x]);
  });

  const maxArb = shapeArb(1, 3, 3).chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      axis: fc.option(fc.integer({ min: -shape.length, max: shape.length - 1 }), { nil: undefined }),
      keepdim: fc.boolean(),
      seed: seedArb,
    }),
  );
  // distinct values (gaps ≥ 1.75/n ≫ eps): the argmax never changes under the ±eps nudge
  property('max: gradient (no ties), float32 forward, values', maxArb, ({ shape, axis, keepdim, seed }) => {
    const x = t64(shape, seed, 'distinct');
    const out = x.max(axis, keepdim);
    assert.deepEqual(out.shape, reducedShape(shape, axis, keepdim));
    if (axis === undefined) assert.equal(out.item(), Math.max(...x.data));
    checkOp((x) => x.max(axis, keepdim), [x]);
  });

  test('max splits the gradient evenly between ties (documented torch.amax behaviour)', () => {
    const x = tensor([1, 3, 3, 2], { dtype: 'float64', requiresGrad: true });
    x.max().backward();
    assert.deepEqual(Array.from(x.grad!.data), [0, 0.5, 0.5, 0]);
  });
});

// ---- layout ops -------------------------------------------------------------------------

describe('layout ops', () => {
  property('reshape (explicit, −1, flatten): gradient and values', fc.tuple(shapeArb(1, 3, 4), seedArb, fc.nat(2)), ([shape, seed, kind]) => {
    const x = t64(shape, seed);
    const target = kind === 0 ? [x.size] : kind === 1 ? [-1, shape[shape.length - 1]] : [...shape].reverse();
    assert.deepEqual(Array.from(x.reshape(target).data), Array.from(x.data));
    checkOp((x) => x.reshape(target), [x]);
  });

  const transposeArb = shapeArb(1, 4, 3).chain((shape) =>
    fc.tuple(fc.constant(shape), fc.integer({ min: -shape.length, max: shape.length - 1 }), fc.integer({ min: -shape.length, max: shape.length - 1 }), seedArb),
  );
  property('transpose (negative dims too): gradient and element placement', transposeArb, ([shape, d0, d1, seed]) => {
    const x = t64(shape, seed);
    const y = x.transpose(d0, d1);
    const a = d0 < 0 ? d0 + shape.length : d0;
    const b = d1 < 0 ? d1 + shape.length : d1;
    const expected = [...shape];
    [expected[a], expected[b]] = [expected[b], expected[a]];
    assert.deepEqual(y.shape, expected);
    assert.deepEqual(y.transpose(d0, d1).tolist(), x.tolist()); // an involution
    checkOp((x) => x.transpose(d0, d1), [x]);
  });

  const permuteArb = shapeArb(1, 4, 3).chain((shape) =>
    fc.tuple(
      fc.constant(shape),
      fc.shuffledSubarray(
        shape.map((_, i) => i),
        { minLength: shape.length, maxLength: shape.length },
      ),
      fc.array(fc.boolean(), { minLength: shape.length, maxLength: shape.length }),
      seedArb,
    ),
  );
  property('permute (negative axes too): gradient and element placement', permuteArb, ([shape, perm, negate, seed]) => {
    const x = t64(shape, seed);
    const p = perm.map((a, i) => (negate[i] ? a - shape.length : a));
    const y = x.permute(p);
    assert.deepEqual(y.shape, perm.map((a) => shape[a]));
    // out[i0, i1, …] = x[j] with j_{perm[d]} = i_d: check a random element via flat indices
    const stride = (s: number[]) => s.map((_, i) => s.slice(i + 1).reduce((a, b) => a * b, 1));
    const xs = stride(shape);
    const ys = stride(y.shape);
    for (let flat = 0; flat < y.size; flat++) {
      let src = 0;
      y.shape.forEach((_, d) => (src += Math.floor(flat / ys[d]) % y.shape[d] * xs[perm[d]]));
      assert.equal(y.data[flat], x.data[src]);
    }
    checkOp((x) => x.permute(p), [x]);
  });

  const sliceArb = shapeArb(1, 3, 4).chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      axis: fc.integer({ min: -shape.length, max: shape.length - 1 }),
      a: fc.integer({ min: -5, max: 5 }),
      b: fc.option(fc.integer({ min: -5, max: 5 }), { nil: undefined }),
      seed: seedArb,
    }),
  );
  property('slice (Python-style negative indices): gradient and values', sliceArb, ({ shape, axis, a, b, seed }) => {
    const x = t64(shape, seed);
    const ax = axis < 0 ? axis + shape.length : axis;
    const n = shape[ax];
    const norm = (i: number) => Math.min(Math.max(i < 0 ? i + n : i, 0), n);
    const s = norm(a);
    const e = b === undefined ? n : norm(b);
    if (e <= s) {
      assert.throws(() => x.slice(axis, a, b), /slice: empty range/);
      return;
    }
    const y = x.slice(axis, a, b);
    assert.equal(y.shape[ax], e - s);
    // compare against a JS slice of the nested list along the axis
    const cut = (l: unknown, d: number): unknown => (d === ax ? (l as unknown[]).slice(s, e) : (l as unknown[]).map((c) => cut(c, d + 1)));
    assert.deepEqual(y.tolist(), cut(x.tolist(), 0));
    checkOp((x) => x.slice(axis, a, b), [x]);
  });

  const concatArb = shapeArb(1, 3, 3).chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      axis: fc.integer({ min: -shape.length, max: shape.length - 1 }),
      sizes: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
      seed: seedArb,
    }),
  );
  property('concat (function and method, negative axis): gradient to every input, values', concatArb, ({ shape, axis, sizes, seed }) => {
    const ax = axis < 0 ? axis + shape.length : axis;
    const xs = sizes.map((sz, i) => t64(shape.map((d, j) => (j === ax ? sz : d)), seed + i));
    const y = concat(xs, axis);
    assert.equal(y.shape[ax], sizes.reduce((a, b) => a + b, 0));
    assert.deepEqual(xs[0].concat(xs.slice(1), axis).tolist(), y.tolist());
    // slicing the result back gives the inputs
    let off = 0;
    xs.forEach((x, i) => {
      assert.deepEqual(y.slice(axis, off, off + sizes[i]).tolist(), x.tolist());
      off += sizes[i];
    });
    checkOp((...ts) => concat(ts, axis), xs);
    checkOp((first, ...rest) => first.concat(rest, axis), xs);
  });

  property('expand (size-1 and leading broadcast dims): gradient sums back', fc.tuple(broadcastPairArb(), seedArb), ([[sa, sb], seed]) => {
    const target = broadcastShapes('expand', sa, sb);
    const x = t64(sa, seed);
    assert.deepEqual(x.expand(target).shape, target);
    checkOp((x) => x.expand(target), [x]);
  });

  test('layout errors name the op and the shapes', () => {
    const x = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.throws(() => x.reshape([4]), /reshape: cannot reshape \[2,3\]/);
    assert.throws(() => x.permute([0, 0]), /permute: \[0,0\] is not a permutation/);
    assert.throws(() => x.transpose(0, 2), /transpose: axis 2 is out of range/);
    assert.throws(() => concat([x, tensor([[1, 2]])], 0), /concat: shapes \[2,3\], \[1,2\] differ/);
    assert.throws(() => x.expand([3, 3]), /expand/);
  });
});

// ---- matmul -----------------------------------------------------------------------------

/** Plain-loop product of the broadcast batches, for checking values. */
function naiveMatmul(a: Tensor, b: Tensor): number[] {
  const batch = broadcastShapes('ref', a.shape.slice(0, -2), b.shape.slice(0, -2));
  const [m, k] = a.shape.slice(-2);
  const n = b.shape[b.ndim - 1];
  const A = a.expand([...batch, m, k]).data;
  const B = b.expand([...batch, k, n]).data;
  const nb = batch.reduce((x, y) => x * y, 1);
  const out: number[] = [];
  for (let t = 0; t < nb; t++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let l = 0; l < k; l++) s += A[t * m * k + i * k + l] * B[t * k * n + l * n + j];
        out.push(s);
      }
    }
  }
  return out;
}

describe('matmul', () => {
  property(
    'batched matmul with broadcast batch dims / shared 2-D operand: values, gradient, float32',
    fc.tuple(matmulPairArb(), seedArb),
    ([[sa, sb], seed]) => {
      const a = t64(sa, seed);
      const b = t64(sb, seed + 1);
      const y = a.matmul(b);
      const batch = broadcastShapes('ref', sa.slice(0, -2), sb.slice(0, -2));
      assert.deepEqual(y.shape, [...batch, sa[sa.length - 2], sb[sb.length - 1]]);
      Array.from(y.data).forEach((v, i) => assert.ok(Math.abs(v - naiveMatmul(a, b)[i]) < 1e-12));
      checkOp((a, b) => a.matmul(b), [a, b]);
    },
    150,
  );

  property('gradient reaches one operand when the other needs none (shared weight case)', fc.tuple(matmulPairArb(), seedArb), ([[sa, sb], seed]) => {
    const a = t64(sa, seed);
    const b = t64(sb, seed + 1);
    gradcheck((a) => a.matmul(b), [a]);
    gradcheck((b) => a.matmul(b), [b]);
  });

  test('matmul error message names both shapes', () => {
    assert.throws(() => tensor([[1, 2, 3], [4, 5, 6]]).matmul(tensor(new Float32Array(20), { shape: [4, 5] })), {
      message: 'matmul: [2,3] @ [4,5]: inner dims 3 ≠ 4',
    });
    assert.throws(() => tensor([1, 2]).matmul(tensor([[1], [2]])), /matmul: \[2\] @ \[2,1\]: both operands need at least 2 dims/);
    assert.throws(() => tensor(new Float32Array(12), { shape: [2, 2, 3] }).matmul(tensor(new Float32Array(18), { shape: [3, 3, 2] })), /matmul: shapes \[2\] and \[3\] do not broadcast/);
  });
});

// ---- softmax, logSoftmax, maskedFill ------------------------------------------------------

const axisArb = shapeArb(1, 3, 4).chain((shape) => fc.tuple(fc.constant(shape), fc.integer({ min: -shape.length, max: shape.length - 1 }), seedArb));

describe('softmax, logSoftmax, maskedFill', () => {
  property('softmax along any axis: gradient, float32, rows sum to 1 and are positive', axisArb, ([shape, axis, seed]) => {
    const x = t64(shape, seed, { lo: -4, hi: 4 });
    const y = x.softmax(axis);
    const sums = y.sum(axis);
    sums.data.forEach((s) => assert.ok(Math.abs(s - 1) < 1e-12, `row sum ${s}`));
    y.data.forEach((p) => assert.ok(p > 0 && p <= 1));
    checkOp((x) => x.softmax(axis), [x]);
  });

  property('logSoftmax along any axis: gradient, float32, equals log(softmax)', axisArb, ([shape, axis, seed]) => {
    const x = t64(shape, seed, { lo: -4, hi: 4 });
    const ls = x.logSoftmax(axis).data;
    x.softmax(axis).data.forEach((p, i) => assert.ok(Math.abs(Math.log(p) - ls[i]) < 1e-12));
    checkOp((x) => x.logSoftmax(axis), [x]);
  });

  test('softmax is shift-invariant and stable for huge logits', () => {
    const x = tensor([[1000, 1001, 1002]], { dtype: 'float64' });
    const y = x.softmax().data;
    const z = tensor([[0, 1, 2]], { dtype: 'float64' }).softmax().data;
    y.forEach((v, i) => assert.ok(Math.abs(v - z[i]) < 1e-12, `${v} vs ${z[i]}`));
    assert.ok(x.logSoftmax().data.every(Number.isFinite));
  });

  property('maskedFill with a broadcast mask: values, gradient to x only where unmasked', fc.tuple(broadcastPairArb(), seedArb), ([[sm, sx], seed]) => {
    const xShape = broadcastShapes('maskedFill', sm, sx); // x has the full shape, the mask sm
    const x0 = t64(xShape, seed);
    const mask = tensor(values(sm, seed + 1, { lo: 0, hi: 2 }).map(Math.floor), { shape: sm, dtype: 'float64' });
    const y = x0.maskedFill(mask, -7.5);
    const m = mask.expand(xShape).data;
    y.data.forEach((v, i) => assert.equal(v, m[i] !== 0 ? -7.5 : x0.data[i]));
    checkOp((x) => x.maskedFill(like(mask, x), -7.5), [x0]);
  });

  test('maskedFill with −Infinity then softmax gives exact zeros and finite gradients', () => {
    const x = tensor([[0.5, 1, 2]], { dtype: 'float64', requiresGrad: true });
    const mask = tensor([[0, 0, 1]], { dtype: 'float64' });
    const y = x.maskedFill(mask, -Infinity).softmax();
    assert.equal(y.data[2], 0);
    y.mul(tensor([[1, 2, 3]], { dtype: 'float64' })).sum().backward();
    assert.ok(x.grad!.data.every(Number.isFinite));
    assert.equal(x.grad!.data[2], 0);
  });
});
