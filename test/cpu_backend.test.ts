// Property tests of the fast CPU backend ('cpu') against the reference backend ('js'): every
// fast kernel on random shapes (odd sizes, 1, primes, sizes either side of the GEMM blocking
// and thread-split thresholds, one 50257-column vocab row case) within stated tolerances.
//
// Tolerances, and why. u = 2⁻²⁴ ≈ 6e-8 is the f32 unit roundoff. The reference accumulates
// in f64, so the difference is the fast kernel's own f32 rounding:
//   matmul:   |Δ_ij| ≤ 1e-6·√k·(|A|·|B|)_ij + 1e-30. Each of the k f32 additions errs by at
//             most u·(Σ|terms| so far) ≤ u·(|A||B|)_ij; random errors add like a random walk,
//             ≈ u·√k·(|A||B|)_ij, and 1e-6 ≈ 16u leaves room for the blocked sum order.
//   exp-based row kernels (softmax, CE, attention, GELU): the polynomial exp is accurate to
//             ~1e-7 relative, but exp(x − max) also inherits the f32 rounding of x − max
//             (≤ u·|x − max|, |x| ≤ 10 here), so |Δ| ≤ 1e-5·|ref| (+ a tiny absolute floor);
//             log-domain outputs are compared to a few ulps: |Δ| ≤ 5e-7·(1 + |ref|).
//   newtonSchulz: 15 GEMMs, nsTol of helpers/conformance.ts.
//   The binary ops, AdamW, LayerNorm, the layout kernels (copies) and reduce do the reference's
//   operations in its order: exact. Every other kernel (embedding, maskedFill, unary ops other
//   than GELU) is the reference kernel.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { referenceBackend as ref } from '../src/autograd/backends/registry.ts';
import { createCpuBackend, type CpuBackend } from '../src/autograd/backends/cpu/index.ts';
import { nodeThreads } from '../src/autograd/backends/cpu/threads.node.ts';
import { Rng } from '../src/autograd/random.ts';
import type { HostArray, MatmulParams } from '../src/autograd/backend.ts';
import { conformance, nsTol } from './helpers/conformance.ts';
import { MUON_NEWTON_SCHULZ } from '../src/nn/optim/muon.ts';

fc.configureGlobal({ includeErrorInReport: true }); // show the failing assertion, not just the inputs

let cpu: CpuBackend; // the default: one thread per core
let cpu3: CpuBackend; // three threads (more than the cores here), to exercise 3-way splits
let cpuNoFma: CpuBackend; // mul + add instead of relaxed-SIMD FMA: the 5×8 micro-kernel
// a platform that cannot share memory (a browser page that is not cross-origin isolated)
let cpuUnshared: CpuBackend;
before(async () => {
  cpu = await createCpuBackend(nodeThreads);
  cpu3 = await createCpuBackend(nodeThreads, { threads: 3 });
  cpuNoFma = await createCpuBackend(nodeThreads, { threads: 2, fma: false });
  cpuUnshared = await createCpuBackend({ ...nodeThreads, canShareMemory: () => false }, { threads: 3 });
});

function rand(n: number, seed: number, scale = 1): Float32Array {
  const r = new Rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (2 * r.uniform() - 1) * scale;
  return a;
}

/** Asserts |got − want| ≤ tol(i) elementwise, reporting the worst element. */
function close(what: string, got: HostArray, want: HostArray, tol: (i: number) => number): void {
  assert.equal(got.length, want.length, `${what}: length`);
  assert.ok(got instanceof Float32Array, `${what}: expected a Float32Array result`);
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    const ok = d <= tol(i) || (Number.isNaN(got[i]) && Number.isNaN(want[i])) || got[i] === want[i];
    if (!ok) {
      const ratio = Number.isNaN(d) ? Infinity : d / tol(i);
      if (ratio > worstRatio || worst < 0) [worst, worstRatio] = [i, ratio];
    }
  }
  if (worst >= 0) assert.fail(`${what}: element ${worst} is ${got[worst]}, reference ${want[worst]} (tolerance ${tol(worst)})`);
}

const rel = (want: HostArray, r: number, floor = 0) => (i: number) => r * Math.abs(want[i]) + floor;
const relPlusOne = (want: HostArray, r: number) => (i: number) => r * (1 + Math.abs(want[i]));

// ---- matmul ------------------------------------------------------------------------------

/** Sizes that matter to the GEMM: tiny, primes, the tile sizes (5, 6, 8) ± 1, KC = 256 and MC = 144 ± 1. */
const dim = fc.constantFrom(1, 2, 3, 5, 6, 7, 8, 9, 13, 17, 31, 64, 97, 127, 143, 144, 145, 255, 256, 257);

function checkMatmul(be: CpuBackend, p: MatmulParams, seed: number): void {
  const a = rand((p.aBatched ? p.batch : 1) * p.m * p.k, seed);
  const b = rand((p.bBatched ? p.batch : 1) * p.k * p.n, seed + 1);
  const got = be.matmul(a, b, p) as HostArray;
  const want = ref.matmul(a, b, p) as HostArray;
  const absC = ref.matmul(a.map(Math.abs), b.map(Math.abs), p) as HostArray; // (|A|·|B|)_ij
  const s = 1e-6 * Math.sqrt(p.k);
  close(`matmul ${JSON.stringify(p)}`, got, want, (i) => s * absC[i] + 1e-30);
}

const matmulParams = fc.record({
  batch: fc.constantFrom(1, 2, 3),
  m: dim,
  k: dim,
  n: dim,
  transA: fc.boolean(),
  transB: fc.boolean(),
  aBatched: fc.boolean(),
  bBatched: fc.boolean(),
});

test('matmul: random shapes, all transpose and batching cases', () => {
  fc.assert(fc.property(matmulParams, fc.nat(), (p, seed) => checkMatmul(cpu, p, seed)), { numRuns: 150 });
});

test('matmul: three-way thread splits (rows, columns, batches) and the no-FMA kernel', () => {
  fc.assert(fc.property(matmulParams, fc.nat(), (p, seed) => checkMatmul(cpu3, p, seed)), { numRuns: 60 });
  fc.assert(fc.property(matmulParams, fc.nat(), (p, seed) => checkMatmul(cpuNoFma, p, seed)), { numRuns: 60 });
  // shapes past the 128³ threading threshold, split by rows, by columns and by batch
  for (const [batch, m, k, n] of [[1, 301, 130, 97], [1, 67, 129, 401], [5, 70, 80, 90]]) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const p = { batch, m, k, n, transA, transB, aBatched: true, bBatched: batch === 1 || transB };
        checkMatmul(cpu, p, 7);
        checkMatmul(cpu3, p, 8);
        checkMatmul(cpuNoFma, p, 9);
      }
    }
  }
});

test('without shared memory (a page that is not cross-origin isolated): one thread, unshared wasm memory, the same numbers', () => {
  assert.equal(cpuUnshared.threads, 1, 'asked for 3 threads where memory cannot be shared');
  for (const [batch, m, k, n] of [[1, 301, 130, 97], [5, 70, 80, 90]]) {
    checkMatmul(cpuUnshared, { batch, m, k, n, transA: false, transB: true, aBatched: true, bBatched: true }, 10);
  }
  // the vocab row grows the unshared memory, which detaches its old buffer
  const x = rand(5 * 50257, 12, 10);
  const sm = ref.softmax({ x, rows: 5, cols: 50257 }) as HostArray;
  close('softmax [5, 50257] unshared', cpuUnshared.softmax({ x, rows: 5, cols: 50257 }) as HostArray, sm, rel(sm, 1e-5, 1e-30));
});

test('matmul: GPT-2 lm-head shapes with vocab 50257 (few rows so the reference finishes)', () => {
  const V = 50257;
  // logits = x · Wᵀ: [3, 64] × [V, 64]ᵀ
  checkMatmul(cpu, { batch: 1, m: 3, k: 64, n: V, transA: false, transB: true, aBatched: true, bBatched: true }, 1);
  // dx = dlogits · W: [2, V] × [V, 16]  (k = 50257 crosses KC 196 times)
  checkMatmul(cpu, { batch: 1, m: 2, k: V, n: 16, transA: false, transB: false, aBatched: true, bBatched: true }, 2);
  // dW = dlogitsᵀ · x: [3, V]ᵀ × [3, 24]
  checkMatmul(cpu, { batch: 1, m: V, k: 3, n: 24, transA: true, transB: false, aBatched: true, bBatched: true }, 3);
  // n past NC = 2048
  checkMatmul(cpu, { batch: 1, m: 9, k: 33, n: 4099, transA: false, transB: false, aBatched: true, bBatched: true }, 4);
});

test('matmul: k = 0 and empty outputs give zeros of the right size', () => {
  const p = { batch: 2, m: 3, k: 0, n: 4, transA: false, transB: false, aBatched: true, bBatched: true };
  assert.deepEqual(Array.from(cpu.matmul(new Float32Array(0), new Float32Array(0), p) as HostArray), new Array(24).fill(0));
  assert.equal((cpu.matmul(new Float32Array(0), new Float32Array(5), { ...p, m: 0, k: 5, n: 1 }) as HostArray).length, 0);
});

test('matmul: float64 inputs run the reference kernel (and stay float64)', () => {
  const p = { batch: 1, m: 3, k: 4, n: 5, transA: false, transB: true, aBatched: true, bBatched: true };
  const a = Float64Array.from(rand(12, 1));
  const b = Float64Array.from(rand(20, 2));
  const got = cpu.matmul(a, b, p);
  assert.ok(got instanceof Float64Array);
  assert.deepEqual(got, ref.matmul(a, b, p));
});

// ---- softmax family ------------------------------------------------------------------------

const rowsArb = fc.constantFrom(1, 2, 3, 7, 33);
const colsArb = fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 31, 64, 129, 1000, 1027);

function checkRows(rows: number, cols: number, seed: number): void {
  const x = rand(rows * cols, seed, 10);
  const what = `[${rows}, ${cols}]`;
  const sm = ref.softmax({ x, rows, cols }) as HostArray;
  close(`softmax ${what}`, cpu.softmax({ x, rows, cols }) as HostArray, sm, rel(sm, 1e-5, 1e-30));
  const ls = ref.logSoftmax({ x, rows, cols }) as HostArray;
  close(`logSoftmax ${what}`, cpu.logSoftmax({ x, rows, cols }) as HostArray, ls, relPlusOne(ls, 5e-7));
  const dy = rand(rows * cols, seed + 1);
  const dsm = ref.softmaxBackward({ y: sm, dy, rows, cols }) as HostArray;
  // dx = y·(dy − Σdy·y): the row dot is summed in f64 by both, so only rounding of y·(…) differs
  close(`softmaxBackward ${what}`, cpu.softmaxBackward({ y: sm, dy, rows, cols }) as HostArray, dsm, (i) => 1e-6 * (Math.abs(dsm[i]) + Math.abs(sm[i])) + 1e-30);
  const dls = ref.logSoftmaxBackward({ y: ls, dy, rows, cols }) as HostArray;
  close(`logSoftmaxBackward ${what}`, cpu.logSoftmaxBackward({ y: ls, dy, rows, cols }) as HostArray, dls, (i) => 1e-5 * (1 + Math.abs(dls[i])));
  // cross-entropy, with one ignored row when there are several
  const tr = new Rng(seed + 2);
  const targets = Int32Array.from({ length: rows }, () => tr.int(cols));
  if (rows > 1) targets[rows - 1] = -100;
  const ceArgs = { logits: x, targets, rows, cols, ignoreIndex: -100 };
  const ce = ref.crossEntropy(ceArgs);
  const got = cpu.crossEntropy(ceArgs);
  close(`crossEntropy.lse ${what}`, got.lse as HostArray, ce.lse as HostArray, relPlusOne(ce.lse as HostArray, 5e-7));
  close(`crossEntropy.loss ${what}`, got.loss as HostArray, ce.loss as HostArray, relPlusOne(ce.lse as HostArray, 1e-6));
  const dloss = rand(rows, seed + 3);
  const dce = ref.crossEntropyBackward({ ...ceArgs, lse: ce.lse, dloss }) as HostArray;
  // dx = g·p − g at the target: the f32 rounding of g·p (≤ 1e-6·|g|) survives the cancellation
  close(`crossEntropyBackward ${what}`, cpu.crossEntropyBackward({ ...ceArgs, lse: ce.lse, dloss }) as HostArray, dce,
    (i) => 1e-5 * Math.abs(dce[i]) + 1e-6 * Math.abs(dloss[Math.floor(i / cols)]) + 1e-30);
}

test('softmax, logSoftmax, cross-entropy and backwards: random shapes', () => {
  fc.assert(fc.property(rowsArb, colsArb, fc.nat(), (rows, cols, seed) => checkRows(rows, cols, seed)), { numRuns: 80 });
});

test('softmax family: the GPT-2 vocab row (50257 columns), split across threads', () => {
  checkRows(5, 50257, 11);
});

test('softmax: masked (−∞) entries give exact zeros; a fully masked row gives NaN like the reference', () => {
  const x = Float32Array.from([1, -Infinity, 2, -Infinity, -Infinity, -Infinity, -Infinity, -Infinity, 0.5]);
  const got = cpu.softmax({ x, rows: 3, cols: 3 }) as HostArray;
  const want = ref.softmax({ x, rows: 3, cols: 3 }) as HostArray;
  assert.equal(got[1], 0);
  for (let i = 3; i < 6; i++) assert.ok(Number.isNaN(got[i]) && Number.isNaN(want[i]));
  close('softmax masked', got, want, rel(want, 1e-5, 1e-30));
  // a NaN logit poisons its row (as in the reference), it is not silently dropped
  const withNaN = Float32Array.from([1, NaN, 2, 0.5, 1, 2]);
  const g = cpu.softmax({ x: withNaN, rows: 2, cols: 3 }) as HostArray;
  assert.ok([0, 1, 2].every((i) => Number.isNaN(g[i])) && [3, 4, 5].every((i) => !Number.isNaN(g[i])));
  const ce = cpu.crossEntropy({ logits: withNaN, targets: Int32Array.from([0, 1]), rows: 2, cols: 3, ignoreIndex: -100 });
  const loss = ce.loss as HostArray;
  assert.ok(Number.isNaN(loss[0]) && !Number.isNaN(loss[1]));
});

// ---- GELU ---------------------------------------------------------------------------------

test('gelu and its derivative gelu_grad: random lengths, values in [−8, 8]', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 70000 }), fc.nat(), (n, seed) => {
      const x = rand(n, seed, 8);
      const y = ref.unary('gelu', x) as HostArray;
      close(`gelu n=${n}`, cpu.unary('gelu', x) as HostArray, y, (i) => 1e-6 * (1 + Math.abs(y[i])));
      const d = ref.unary('gelu_grad', x) as HostArray;
      close(`gelu_grad n=${n}`, cpu.unary('gelu_grad', x) as HostArray, d, (i) => 1e-5 * (Math.abs(d[i]) + 1) + 1e-30);
    }),
    { numRuns: 25 },
  );
  // other unary ops fall through to the reference
  const x = rand(10, 3);
  assert.deepEqual(cpu.unary('tanh', x), ref.unary('tanh', x));
});

// ---- attention ----------------------------------------------------------------------------

test('attention forward and backward: causal, Tq ≤ Tk, random shapes', () => {
  const shape = fc
    .record({
      BH: fc.constantFrom(1, 2, 3, 5),
      Tq: fc.constantFrom(1, 2, 5, 17, 96, 97, 200),
      extra: fc.constantFrom(0, 0, 1, 3, 40),
      D: fc.constantFrom(1, 3, 8, 16, 64),
    })
    .map(({ BH, Tq, extra, D }) => ({ BH, Tq, Tk: Tq + extra, D, scale: 1 / Math.sqrt(D) }));
  fc.assert(
    fc.property(shape, fc.nat(), (p, seed) => {
      const q = rand(p.BH * p.Tq * p.D, seed, 2);
      const k = rand(p.BH * p.Tk * p.D, seed + 1, 2);
      const v = rand(p.BH * p.Tk * p.D, seed + 2);
      const want = ref.attention({ q, k, v, ...p });
      const got = cpu.attention({ q, k, v, ...p });
      const what = JSON.stringify(p);
      close(`attention.out ${what}`, got.out as HostArray, want.out as HostArray, relPlusOne(want.out as HostArray, 1e-5));
      close(`attention.lse ${what}`, got.lse as HostArray, want.lse as HostArray, relPlusOne(want.lse as HostArray, 1e-6));
      const dout = rand(p.BH * p.Tq * p.D, seed + 3);
      const wb = ref.attentionBackward({ dout, q, k, v, out: want.out, lse: want.lse, ...p });
      const gb = cpu.attentionBackward({ dout, q, k, v, out: want.out, lse: want.lse, ...p });
      for (const key of ['dq', 'dk', 'dv'] as const) {
        close(`attention.${key} ${what}`, gb[key] as HostArray, wb[key] as HostArray, relPlusOne(wb[key] as HostArray, 2e-5));
      }
    }),
    { numRuns: 40 },
  );
});

// ---- AdamW in place, binary fast paths, the reference kernels with pooled outputs -------------

test('adamw: the wasm kernel equals the reference bit for bit, updating the parameter and its moments in place', () => {
  // odd lengths (the one-element tail), one chunk and many (over the thread-split threshold)
  for (const [n, step, weightDecay] of [[1001, 7, 0.1], [100003, 1, 0], [40000, 300, 0.01]]) {
    const hp = { lr: 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay, step };
    const mk = () => [rand(n, 1), rand(n, 2), rand(n, 3, 0.1), rand(n, 4, 1e-3).map(Math.abs)];
    const [p1, g1, m1, v1] = mk();
    const [p2, g2, m2, v2] = mk();
    const got = cpu.adamw({ param: p1, grad: g1, m: m1, v: v1, ...hp });
    const want = ref.adamw({ param: p2, grad: g2, m: m2, v: v2, ...hp });
    assert.ok(got.param === p1 && got.m === m1 && got.v === v1, 'updates in place');
    assert.deepEqual([p2, m2, v2], mk().filter((_, i) => i !== 1), 'the reference leaves its inputs alone');
    assert.deepEqual(got.param, want.param, `param, n ${n}`);
    assert.deepEqual(got.m, want.m, `m, n ${n}`);
    assert.deepEqual(got.v, want.v, `v, n ${n}`);
  }
});

test('newtonSchulz: wide and tall matrices whose products split over the threads (and over 3), float64 on the reference', () => {
  const args = MUON_NEWTON_SCHULZ;
  for (const [rows, cols] of [[96, 256], [256, 96], [130, 130]]) {
    const x = rand(rows * cols, rows);
    const want = ref.newtonSchulz({ x, rows, cols, ...args }) as HostArray;
    for (const be of [cpu, cpu3, cpuNoFma]) close(`newtonSchulz [${rows}, ${cols}], ${be.threads} threads`, be.newtonSchulz({ x, rows, cols, ...args }) as HostArray, want, (i) => nsTol(i, want[i]));
  }
  const x64 = Float64Array.from(rand(12, 5));
  const got = cpu.newtonSchulz({ x: x64, rows: 3, cols: 4, ...args });
  assert.ok(got instanceof Float64Array);
  assert.deepEqual(got, ref.newtonSchulz({ x: x64, rows: 3, cols: 4, ...args }));
});

test('binary ops on small random broadcast shapes (the reference\'s loop below the size threshold) equal the reference', () => {
  // b: a's shape with leading axes dropped and some axes set to 1, on either side of the op
  const shapes = fc.record({
    shape: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 0, maxLength: 4 }),
    drop: fc.nat(4),
    ones: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    swap: fc.boolean(),
    op: fc.constantFrom('add', 'sub', 'mul', 'div' as const),
    seed: fc.nat(),
  });
  fc.assert(
    fc.property(shapes, ({ shape, drop, ones, swap, op, seed }) => {
      const bShape = shape.slice(Math.min(drop, shape.length)).map((d, i) => (ones[i] ? 1 : d));
      const a = rand(shape.reduce((p, d) => p * d, 1), seed);
      const b = rand(bShape.reduce((p, d) => p * d, 1), seed + 1);
      const args = swap ? { op, a: b, aShape: bShape, b: a, bShape: shape, outShape: shape } : { op, a, aShape: shape, b, bShape, outShape: shape };
      assert.deepEqual(cpu.binary(args), ref.binary(args), JSON.stringify({ ...args, a: undefined, b: undefined }));
    }),
    { numRuns: 300 },
  );
});

test('permute, slice, pad and reduce equal the reference bit for bit on small random shapes (float32 and float64)', () => {
  const cases = fc.record({
    shape: fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 5 }),
    keys: fc.array(fc.nat(), { minLength: 5, maxLength: 5 }), // a random permutation, by sorting
    cuts: fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 5, maxLength: 5 }),
    axis: fc.nat(4),
    seed: fc.nat(),
    f64: fc.boolean(),
  });
  fc.assert(
    fc.property(cases, ({ shape, keys, cuts, axis, seed, f64 }) => {
      const n = shape.reduce((p, d) => p * d, 1);
      const x = f64 ? Float64Array.from(rand(n, seed)) : rand(n, seed);
      const what = JSON.stringify({ shape, f64 });
      const perm = shape.map((_, i) => i).sort((a, b) => keys[a] - keys[b] || a - b);
      assert.deepEqual(cpu.permute({ x, shape, perm }), ref.permute({ x, shape, perm }), `permute ${what} ${perm}`);
      const begin = shape.map((d, i) => cuts[i][0] % d);
      const size = shape.map((d, i) => 1 + (cuts[i][1] % (d - begin[i])));
      const sliced = cpu.slice({ x, shape, begin, size });
      assert.deepEqual(sliced, ref.slice({ x, shape, begin, size }), `slice ${what} ${begin} ${size}`);
      assert.deepEqual(cpu.pad({ x: sliced, shape: size, begin, outShape: shape }), ref.pad({ x: sliced, shape: size, begin, outShape: shape }), `pad ${what}`);
      for (const op of ['sum', 'max'] as const) {
        const args = { op, x, shape, axis: axis % shape.length };
        assert.deepEqual(cpu.reduce(args), ref.reduce(args), `reduce ${op} ${what} axis ${args.axis}`);
      }
    }),
    { numRuns: 400 },
  );
  // the attention's shapes: heads out of [B, T, 3C] and back, long contiguous runs
  const x = rand(4 * 64 * 3 * 192, 9);
  const qkv = { x, shape: [4, 64, 3 * 192], begin: [0, 0, 192], size: [4, 64, 192] };
  assert.deepEqual(cpu.slice(qkv), ref.slice(qkv));
  const heads = { x: x.subarray(0, 4 * 64 * 192), shape: [4, 64, 6, 32], perm: [0, 2, 1, 3] };
  assert.deepEqual(cpu.permute(heads), ref.permute(heads));
  const bias = { op: 'sum' as const, x, shape: [4 * 64, 3 * 192], axis: 0 };
  assert.deepEqual(cpu.reduce(bias), ref.reduce(bias));
});

test('binary add/sub/mul in wasm equal the reference bit for bit: same shape (b another array or a itself), a bias row, a scalar, over the size threshold', () => {
  // numbers of every magnitude, so any rounding difference would show
  const wide = (n: number, seed: number) => {
    const r = new Rng(seed);
    return Float32Array.from({ length: n }, () => (2 * r.uniform() - 1) * 2 ** Math.floor(60 * r.uniform() - 30));
  };
  const cases = fc.record({
    rows: fc.constantFrom(1, 3, 64, 1000),
    cols: fc.constantFrom(1, 3, 4, 5, 192, 576, 4099),
    kind: fc.constantFrom('same', 'self', 'rows', 'scalar'),
    op: fc.constantFrom('add', 'sub', 'mul' as const),
    seed: fc.nat(),
  });
  fc.assert(
    fc.property(cases, ({ rows, cols, kind, op, seed }) => {
      const outShape: number[] = [rows, cols];
      const bShape = kind === 'same' || kind === 'self' ? outShape : kind === 'rows' ? [cols] : [];
      const a = wide(rows * cols, seed);
      const b = kind === 'self' ? a : wide(bShape.reduce((p, d) => p * d, 1), seed + 1); // self: x·x, the grad norm's square
      const args = { op, a, aShape: outShape, b, bShape, outShape };
      assert.deepEqual(cpu.binary(args), ref.binary(args), JSON.stringify({ rows, cols, kind, op }));
    }),
    { numRuns: 120 },
  );
});

test('reduce (sum, max) in wasm equals the reference bit for bit: contiguous runs and columns, split over threads', () => {
  const cases = fc.record({
    shape: fc.constantFrom([1024, 576], [16, 64, 576], [9440, 192], [70001], [3, 5000], [4099, 3], [2, 3000, 7]),
    axisKey: fc.nat(),
    op: fc.constantFrom('sum', 'max' as const),
    seed: fc.nat(),
  });
  fc.assert(
    fc.property(cases, ({ shape, axisKey, op, seed }) => {
      const x = rand(shape.reduce((p, d) => p * d, 1), seed, 100);
      const args = { op, x, shape: [...shape], axis: axisKey % shape.length };
      assert.deepEqual(cpu.reduce(args), ref.reduce(args), `${op} [${shape}] axis ${args.axis}`);
    }),
    { numRuns: 40 },
  );
});

test('LayerNorm forward and backward in wasm equal the reference bit for bit (rows and columns split over threads)', () => {
  const cases = fc.record({ rows: fc.constantFrom(1, 2, 7, 64, 1024), cols: fc.constantFrom(1, 3, 8, 64, 192, 769), seed: fc.nat() });
  fc.assert(
    fc.property(cases, ({ rows, cols, seed }) => {
      const x = rand(rows * cols, seed, 3);
      const ln = { x, weight: rand(cols, seed + 1), bias: rand(cols, seed + 2), rows, cols, eps: 1e-5 };
      const want = ref.layerNorm(ln);
      assert.deepEqual(cpu.layerNorm(ln), want, `forward [${rows}, ${cols}]`);
      const lnb = { dy: rand(rows * cols, seed + 3), x, weight: ln.weight, mean: want.mean, rstd: want.rstd, rows, cols };
      assert.deepEqual(cpu.layerNormBackward(lnb), ref.layerNormBackward(lnb), `backward [${rows}, ${cols}]`);
    }),
    { numRuns: 40 },
  );
});

test('the kernels without a fast version are the reference kernels (outputs from the memory pool)', () => {
  const x = rand(6 * 8, 1, 3);
  const emb = { weight: x, ids: Int32Array.from([5, 0, 5]), V: 6, C: 8 };
  assert.deepEqual(cpu.embedding(emb), ref.embedding(emb));
  assert.deepEqual(cpu.embeddingBackward({ dy: rand(24, 5), ids: emb.ids, V: 6, C: 8 }), ref.embeddingBackward({ dy: rand(24, 5), ids: emb.ids, V: 6, C: 8 }));
  assert.deepEqual(cpu.unary('tanh', x), ref.unary('tanh', x));
});

// ---- the lm head and its loss in one kernel -----------------------------------------------

/**
 * linearCrossEntropy (block by block in wasm memory) against the reference composition
 * matmul + crossEntropy (+ crossEntropyBackward and two matmuls for the gradients of Σ loss).
 * Tolerances: the loss sums x·w over C terms then exp over V, so 1e-6·(1 + |ref|)·√C; dx and
 * dw are matmuls of dlogits, bounded like matmul by 1e-5·√k·(|dlogits|·|operand|), with
 * |dlogits| ≤ p + 1 ≤ 2.
 */
function checkLinearCE(N: number, C: number, V: number, seed: number): void {
  const x = rand(N * C, seed);
  const w = rand(V * C, seed + 1, 0.5);
  const tr = new Rng(seed + 2);
  const targets = Int32Array.from({ length: N }, () => tr.int(V));
  if (N > 1) targets[0] = -1;
  const args = { x, w, targets, N, C, V, ignoreIndex: -1 };
  const want = ref.linearCrossEntropy({ ...args, withGrad: true });
  const what = `[${N}, ${C}] × [${V}, ${C}]`;
  const lossTol = relPlusOne(want.loss as HostArray, 1e-6 * Math.sqrt(C));
  for (const withGrad of [false, true]) {
    const got = cpu.linearCrossEntropy({ ...args, withGrad });
    close(`linearCrossEntropy.loss ${what}`, got.loss as HostArray, want.loss as HostArray, lossTol);
    assert.equal(got.dx === null, !withGrad);
  }
  const got = cpu.linearCrossEntropy({ ...args, withGrad: true });
  close(`linearCrossEntropy.dx ${what}`, got.dx as HostArray, want.dx as HostArray, () => 1e-5 * Math.sqrt(V) * 2 * 0.5 + 1e-30);
  close(`linearCrossEntropy.dw ${what}`, got.dw as HostArray, want.dw as HostArray, () => 1e-5 * Math.sqrt(N) * 2 + 1e-30);
}

test('linearCrossEntropy: fused lm head + loss equals matmul + crossEntropy (one block and several)', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), dim, fc.constantFrom(2, 7, 64, 333), fc.nat(), (N, C, V, seed) => checkLinearCE(N, C, V, seed)), { numRuns: 30 });
  checkLinearCE(700, 16, 50257, 5); // 333 rows per 16M-float block: three blocks, dw accumulated
});

// ---- the conformance suite every backend runs ------------------------------------------------

test('the conformance suite (every kernel against the reference, the composed defaults on its primitives)', (t) => conformance(t, cpu, 20));
test('the conformance suite without shared memory (one thread, unshared wasm memory)', (t) => conformance(t, cpuUnshared, 5));
