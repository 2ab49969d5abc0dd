// The composed defaults (src/autograd/composed.ts) against the reference backend's fused
// kernels: a backend made of nothing but the reference's primitives, completed by
// completeBackend, must compute every fused kernel as the reference does, forward and
// backward, on random shapes (fast-check), in float64 (|Δ| ≤ 1e-9·(1 + |ref|): both are exact
// formulas, only the rounding order differs) and in float32 (|Δ| ≤ 1e-5·(1 + |ref|)·√n for
// sums of n terms). And a tiny GPT-2 trains on that primitives-only backend to the reference's
// losses: what docs/backends.md promises a new backend that writes only the primitives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { completeBackend } from '../src/autograd/composed.ts';
import { referenceBackend as ref, setBackend } from '../src/autograd/backends/registry.ts';
import type { Backend, FusedKernels, HostArray, Storage } from '../src/autograd/backend.ts';
import { Rng } from '../src/autograd/random.ts';
import { GPT2Model } from '../src/gpt2/model.ts';
import { makeConfig } from '../src/gpt2/config.ts';
import { AdamW } from '../src/nn/optim/adamw.ts';
import { primitivesOf } from './helpers/backends.ts';
import { runs } from './helpers/arbitraries.ts';
import { conformance } from './helpers/conformance.ts';

fc.configureGlobal({ includeErrorInReport: true });

/** The reference's primitives and nothing else: every fused kernel is a composed default. */
const composed = completeBackend({ ...primitivesOf(ref), name: 'composed' });

type Precision = 'float64' | 'float32';
const values = (n: number, seed: number, precision: Precision, scale = 2, positive = false): HostArray => {
  const r = new Rng(seed);
  const a = precision === 'float64' ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = positive ? 0.01 + scale * r.uniform() : scale * (2 * r.uniform() - 1);
  return a;
};

/** Asserts every storage of `got` equals the same-named one of `want` within tol(n) relative to 1 + |want|. */
function same(what: string, got: Storage | Record<string, Storage | null>, want: Storage | Record<string, Storage | null>, rel: number): void {
  const pairs: [string, Storage | null, Storage | null][] = ArrayBuffer.isView(want)
    ? [[what, got as Storage, want as Storage]]
    : Object.entries(want).map(([k, w]) => [`${what}.${k}`, (got as Record<string, Storage | null>)[k], w]);
  for (const [name, g, w] of pairs) {
    if (w === null) {
      assert.equal(g, null, name);
      continue;
    }
    const gh = g as HostArray;
    const wh = w as HostArray;
    assert.equal(gh.length, wh.length, `${name}: length`);
    assert.equal(gh.constructor, wh.constructor, `${name}: precision`);
    for (let i = 0; i < wh.length; i++) {
      const tol = rel * (1 + Math.abs(wh[i]));
      if (!(Math.abs(gh[i] - wh[i]) <= tol) && !(Number.isNaN(gh[i]) && Number.isNaN(wh[i]))) {
        assert.fail(`${name}: element ${i} is ${gh[i]}, the reference's ${wh[i]} (tolerance ${tol})`);
      }
    }
  }
}

/** The fused kernel `kernel` of the composed backend and of the reference on the same arguments. */
function check<K extends keyof FusedKernels>(kernel: K, args: Parameters<FusedKernels[K]>[0], rel: number, what = ''): void {
  const run = (be: Backend) => (be[kernel] as (a: typeof args) => Storage | Record<string, Storage | null>)(args);
  same(`${kernel}${what}`, run(composed), run(ref), rel);
}

/** Tolerance for a precision and a sum of n terms. */
const tolFor = (precision: Precision, n = 1): number => (precision === 'float64' ? 1e-9 : 1e-5 * Math.sqrt(n));

const precisionArb = fc.constantFrom<Precision>('float64', 'float32');
const rowsArb = fc.record({ rows: fc.integer({ min: 1, max: 5 }), cols: fc.integer({ min: 1, max: 9 }), seed: fc.nat(), precision: precisionArb });

test('softmax, log-softmax and their backwards: composed == reference', () => {
  fc.assert(
    fc.property(rowsArb, ({ rows, cols, seed, precision }) => {
      const x = values(rows * cols, seed, precision, 5);
      const dy = values(rows * cols, seed + 1, precision);
      const tol = tolFor(precision, cols);
      check('softmax', { x, rows, cols }, tol);
      check('logSoftmax', { x, rows, cols }, tol);
      check('softmaxBackward', { y: ref.softmax({ x, rows, cols }), dy, rows, cols }, tol);
      check('logSoftmaxBackward', { y: ref.logSoftmax({ x, rows, cols }), dy, rows, cols }, tol);
    }),
    { numRuns: runs(100) },
  );
});

test('crossEntropy, its backward and linearCrossEntropy (ignored rows included): composed == reference', () => {
  const arb = fc.record({ rows: fc.integer({ min: 1, max: 5 }), cols: fc.integer({ min: 2, max: 9 }), C: fc.integer({ min: 1, max: 6 }), seed: fc.nat(), precision: precisionArb });
  fc.assert(
    fc.property(arb, ({ rows, cols, C, seed, precision }) => {
      const r = new Rng(seed);
      const targets = Int32Array.from({ length: rows }, (_, i) => (i === 1 ? -100 : r.int(cols)));
      const logits = values(rows * cols, seed, precision, 5);
      const ce = { logits, targets, rows, cols, ignoreIndex: -100 };
      const tol = tolFor(precision, cols);
      check('crossEntropy', ce, tol);
      check('crossEntropyBackward', { ...ce, lse: ref.crossEntropy(ce).lse, dloss: values(rows, seed + 1, precision) }, tol);
      const x = values(rows * C, seed + 2, precision);
      const w = values(cols * C, seed + 3, precision);
      for (const withGrad of [false, true]) check('linearCrossEntropy', { x, w, targets, N: rows, C, V: cols, ignoreIndex: -100, withGrad }, tolFor(precision, cols * C), ` withGrad ${withGrad}`);
    }),
    { numRuns: runs(100) },
  );
});

test('layerNorm and its backward: composed == reference', () => {
  fc.assert(
    fc.property(rowsArb, ({ rows, cols, seed, precision }) => {
      const x = values(rows * cols, seed, precision, 3);
      const weight = values(cols, seed + 1, precision);
      const bias = values(cols, seed + 2, precision);
      const args = { x, weight, bias, rows, cols, eps: 1e-5 };
      // rstd ≤ 1/√eps amplifies the rounding of x − mean on near-constant rows: a wider float32 bound
      const tol = precision === 'float64' ? 1e-9 : 1e-4 * Math.sqrt(rows * cols);
      check('layerNorm', args, tol);
      const { mean, rstd } = ref.layerNorm(args);
      check('layerNormBackward', { dy: values(rows * cols, seed + 3, precision), x, weight, mean, rstd, rows, cols }, tol);
    }),
    { numRuns: runs(100) },
  );
});

test('causal attention and its backward (Tq ≤ Tk): composed == reference', () => {
  const arb = fc.record({ BH: fc.integer({ min: 1, max: 3 }), Tq: fc.integer({ min: 1, max: 5 }), extra: fc.integer({ min: 0, max: 3 }), D: fc.integer({ min: 1, max: 4 }), seed: fc.nat(), precision: precisionArb });
  fc.assert(
    fc.property(arb, ({ BH, Tq, extra, D, seed, precision }) => {
      const Tk = Tq + extra;
      const p = { BH, Tq, Tk, D, scale: 1 / Math.sqrt(D) };
      const q = values(BH * Tq * D, seed, precision);
      const k = values(BH * Tk * D, seed + 1, precision);
      const v = values(BH * Tk * D, seed + 2, precision);
      const tol = tolFor(precision, Tk * D);
      check('attention', { q, k, v, ...p }, tol);
      const { out, lse } = ref.attention({ q, k, v, ...p });
      check('attentionBackward', { q, k, v, ...p, out, lse, dout: values(BH * Tq * D, seed + 3, precision) }, tol);
    }),
    { numRuns: runs(100) },
  );
});

test('embedding and its backward (repeated ids): composed == reference', () => {
  const arb = fc.record({ V: fc.integer({ min: 1, max: 7 }), C: fc.integer({ min: 1, max: 5 }), N: fc.integer({ min: 1, max: 8 }), seed: fc.nat(), precision: precisionArb });
  fc.assert(
    fc.property(arb, ({ V, C, N, seed, precision }) => {
      const r = new Rng(seed);
      const ids = Int32Array.from({ length: N }, () => r.int(V));
      check('embedding', { weight: values(V * C, seed, precision), ids, V, C }, 0);
      check('embeddingBackward', { dy: values(N * C, seed + 1, precision), ids, V, C }, tolFor(precision, N));
    }),
    { numRuns: runs(100) },
  );
});

test('adamw: composed == reference', () => {
  const arb = fc.record({ n: fc.integer({ min: 1, max: 30 }), step: fc.integer({ min: 1, max: 5 }), weightDecay: fc.constantFrom(0, 0.1), seed: fc.nat(), precision: precisionArb });
  fc.assert(
    fc.property(arb, ({ n, step, weightDecay, seed, precision }) => {
      const args = {
        param: values(n, seed, precision),
        grad: values(n, seed + 1, precision),
        m: values(n, seed + 2, precision, 0.1),
        v: values(n, seed + 3, precision, 0.01, true),
        lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay, step,
      };
      check('adamw', args, tolFor(precision));
    }),
    { numRuns: runs(100) },
  );
});

test('a tiny GPT-2 trains on the primitives alone to the losses it has on the reference backend', async () => {
  const losses = async (backend: Backend): Promise<number[]> => {
    await setBackend(backend);
    try {
      const model = new GPT2Model(makeConfig({ vocab_size: 20, d_model: 8, n_heads: 2, n_layers: 1, n_ctx: 8, dropout: 0 }, 'overfit'), { seed: 3 });
      const opt = new AdamW(model.parameters(), { lr: 1e-2 });
      const r = new Rng(5);
      const x = Int32Array.from({ length: 2 * 6 }, () => r.int(20));
      const y = Int32Array.from({ length: 2 * 6 }, () => r.int(20));
      const out: number[] = [];
      for (let step = 0; step < 4; step++) {
        const loss = model.loss(x, [2, 6], y);
        loss.backward();
        opt.step();
        opt.zeroGrad();
        out.push(loss.item());
      }
      return out;
    } finally {
      await setBackend('js');
    }
  };
  const want = await losses(ref);
  const got = await losses(composed);
  got.forEach((l, i) => assert.ok(Math.abs(l - want[i]) <= 1e-5 * Math.abs(want[i]), `step ${i}: ${l} composed, ${want[i]} reference`));
  assert.ok(want[3] < want[0], 'the model learns');
});

test('the conformance suite passes on the primitives alone', (t) => conformance(t, composed, 20));
