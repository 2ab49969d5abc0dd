// The conformance suite of a backend: every kernel against the reference backend ('js') as
// fast-check properties on small random shapes, and the composed defaults (completeBackend) run
// on the backend's own primitives. test/gpujs_backends.test.ts, test/cpu_backend.test.ts and
// test/backend_composed.test.ts run it; a new backend's test runs it too (docs/backends.md).
//
// Tolerances (u = 2⁻²⁴ ≈ 6e-8; the reference accumulates in float64, the kernels in float32,
// and the devices' exp/log are good to a few ulps):
//   matmul, rows sums:   |Δ| ≤ 4u·k·(|A|·|B|)_ij + 1e-7 — k float32 additions, each off by ≤ u·Σ|terms|;
//   exp-based outputs:   |Δ| ≤ 1e-5·|ref| + 1e-6 (softmax, CE gradient, attention, GELU);
//                        GELU's derivative cancels terms (0.5·(1+t) against x·(1−t²)): 1e-5·(1 + |ref|);
//   log-domain outputs:  |Δ| ≤ 2e-6·(1 + |ref|)·√cols (lse, loss, log-softmax);
//   LayerNorm, AdamW:    |Δ| ≤ 1e-5·(1 + |ref|)·√rows (parameter gradients sum over rows);
//   Newton–Schulz:       |Δ| ≤ 15·4u·(1 + |ref|): 15 products of terms summing to ≤ ~1 (nsTol).
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { referenceBackend as ref } from '../../src/autograd/backends/registry.ts';
import type { Backend, HostArray, MatmulParams, Storage, UnaryOp } from '../../src/autograd/backend.ts';
import { completeBackend } from '../../src/autograd/composed.ts';
import { Rng } from '../../src/autograd/random.ts';
import { primitivesOf } from './backends.ts';
import { MUON_NEWTON_SCHULZ } from '../../src/nn/optim/muon.ts';

export function rand(n: number, seed: number, scale = 1): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => (2 * r.uniform() - 1) * scale);
}

/** Asserts |got − want| ≤ tol(i, want[i]) everywhere, naming the worst element. */
export function close(got: Storage, want: Storage, tol: (i: number, w: number) => number, what: string): void {
  assert.ok(got instanceof Float32Array || got instanceof Float64Array, `${what}: not host memory`);
  assert.ok(want instanceof Float32Array || want instanceof Float64Array);
  assert.equal(got.length, want.length, `${what}: length`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < want.length; i++) {
    const excess = Math.abs(got[i] - want[i]) - tol(i, want[i]);
    if (!(excess <= worstExcess)) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
    }
  }
  if (worst >= 0) assert.fail(`${what}: element ${worst} is ${got[worst]}, reference ${want[worst]} (tolerance exceeded by ${worstExcess})`);
}
export const expTol = (_i: number, w: number): number => 1e-5 * Math.abs(w) + 1e-6;
export const logTol = (cols: number) => (_i: number, w: number): number => 2e-6 * (1 + Math.abs(w)) * Math.sqrt(cols);
export const lnTol = (rows: number) => (_i: number, w: number): number => 1e-5 * (1 + Math.abs(w)) * Math.sqrt(rows);
/**
 * Newton–Schulz: 15 float32 products, each off by a few u: X is scaled to ‖X‖_F ≤ 1, so every
 * product's terms sum in absolute value to about 1 at most, whatever its length; the iteration
 * contracts errors (seen: ≤ 8e-7 over 5 steps, cpu against the reference).
 */
export const nsTol = (_i: number, w: number): number => 15 * 4 * 2 ** -24 * (1 + Math.abs(w));

/** |A|·|B| for the matmul bound, computed with the reference on absolute values. */
export function matmulTol(a: HostArray, b: HostArray, p: MatmulParams): (i: number) => number {
  const absAB = ref.matmul(a.map(Math.abs), b.map(Math.abs), p) as HostArray;
  const u = 2 ** -24;
  return (i) => 4 * u * p.k * absAB[i] + 1e-7;
}

export const on = (B: Backend, x: HostArray): Storage => B.fromHost(x);
export const back = (B: Backend, s: Storage): Promise<HostArray> => B.toHostAsync(s);

/** The whole conformance suite for one backend. */

/** Every kernel of B against the reference, `runs` random cases each (each new shape may compile new kernels). */
export async function conformance(t: TestContext, B: Backend, runs: number): Promise<void> {
  await t.test('matmul: batched, transposed, shared operands', async () => {
    const shape = fc.record({
      batch: fc.integer({ min: 1, max: 3 }),
      m: fc.integer({ min: 1, max: 9 }),
      k: fc.integer({ min: 1, max: 9 }),
      n: fc.integer({ min: 1, max: 9 }),
      transA: fc.boolean(),
      transB: fc.boolean(),
      aBatched: fc.boolean(),
      bBatched: fc.boolean(),
      seed: fc.nat(),
    });
    await fc.assert(
      fc.asyncProperty(shape, async ({ seed, ...p }) => {
        const a = rand((p.aBatched ? p.batch : 1) * p.m * p.k, seed);
        const b = rand((p.bBatched ? p.batch : 1) * p.k * p.n, seed + 1);
        close(await back(B, B.matmul(on(B, a), on(B, b), p)), ref.matmul(a, b, p) as HostArray, matmulTol(a, b, p), 'matmul');
      }),
      { numRuns: runs },
    );
  });

  await t.test('softmax, log-softmax and their backward', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 12 }), fc.nat(), async (rows, cols, seed) => {
        const x = rand(rows * cols, seed, 5);
        const dy = rand(rows * cols, seed + 1);
        const y = ref.softmax({ x, rows, cols }) as HostArray;
        const ly = ref.logSoftmax({ x, rows, cols }) as HostArray;
        close(await back(B, B.softmax({ x: on(B, x), rows, cols })), y, expTol, 'softmax');
        close(await back(B, B.logSoftmax({ x: on(B, x), rows, cols })), ly, logTol(cols), 'logSoftmax');
        close(await back(B, B.softmaxBackward({ y: on(B, y), dy: on(B, dy), rows, cols })), ref.softmaxBackward({ y, dy, rows, cols }) as HostArray, expTol, 'softmaxBackward');
        close(await back(B, B.logSoftmaxBackward({ y: on(B, ly), dy: on(B, dy), rows, cols })), ref.logSoftmaxBackward({ y: ly, dy, rows, cols }) as HostArray, logTol(cols), 'logSoftmaxBackward');
      }),
      { numRuns: runs },
    );
  });

  await t.test('cross-entropy forward and backward, with ignored rows', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 2, max: 12 }), fc.nat(), async (rows, cols, seed) => {
        await checkCrossEntropy(B, rows, cols, seed);
      }),
      { numRuns: runs },
    );
  });

  await t.test('layerNorm forward and backward', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 12 }), fc.nat(), async (rows, cols, seed) => {
        await checkLayerNorm(B, rows, cols, seed);
      }),
      { numRuns: runs },
    );
  });

  await t.test('causal attention forward and backward (Tq ≤ Tk: prefill and KV-cache steps)', async () => {
    const shape = fc
      .record({ BH: fc.integer({ min: 1, max: 3 }), Tq: fc.integer({ min: 1, max: 6 }), extra: fc.integer({ min: 0, max: 3 }), D: fc.integer({ min: 1, max: 5 }), seed: fc.nat() })
      .map(({ extra, ...s }) => ({ ...s, Tk: s.Tq + extra }));
    await fc.assert(
      fc.asyncProperty(shape, async ({ BH, Tq, Tk, D, seed }) => {
        const p = { BH, Tq, Tk, D, scale: 1 / Math.sqrt(D) };
        const q = rand(BH * Tq * D, seed);
        const k = rand(BH * Tk * D, seed + 1);
        const v = rand(BH * Tk * D, seed + 2);
        const dout = rand(BH * Tq * D, seed + 3);
        const want = ref.attention({ q, k, v, ...p });
        const got = B.attention({ q: on(B, q), k: on(B, k), v: on(B, v), ...p });
        close(await back(B, got.out), want.out, expTol, 'attention out');
        close(await back(B, got.lse), want.lse, logTol(Tk), 'attention lse');
        const wg = ref.attentionBackward({ dout, q, k, v, out: want.out, lse: want.lse, ...p });
        const g = B.attentionBackward({ dout: on(B, dout), q: on(B, q), k: on(B, k), v: on(B, v), out: got.out, lse: got.lse, ...p });
        const gradTol = (_i: number, w: number): number => 1e-5 * (1 + Math.abs(w)) * Tk;
        close(await back(B, g.dq), wg.dq, gradTol, 'attention dq');
        close(await back(B, g.dk), wg.dk, gradTol, 'attention dk');
        close(await back(B, g.dv), wg.dv, gradTol, 'attention dv');
      }),
      { numRuns: runs },
    );
  });

  await t.test('unary ops (GELU and its derivative included), same-shape binary ops', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.nat(), async (n, seed) => {
        const x = rand(n, seed, 3);
        const y = rand(n, seed + 1, 3);
        const ops: UnaryOp[] = ['neg', 'exp', 'tanh', 'relu', 'step', 'gelu'];
        close(await back(B, B.unary('gelu_grad', on(B, x))), ref.unary('gelu_grad', x) as HostArray, lnTol(1), 'unary gelu_grad');
        for (const op of ops) close(await back(B, B.unary(op, on(B, x))), ref.unary(op, x) as HostArray, expTol, `unary ${op}`);
        const pos = x.map(Math.abs);
        for (const op of ['log', 'sqrt'] as const) close(await back(B, B.unary(op, on(B, pos))), ref.unary(op, pos) as HostArray, logTol(1), `unary ${op}`);
        for (const op of ['add', 'sub', 'mul', 'div', 'eq'] as const) {
          close(await back(B, B.binary({ op, a: on(B, x), aShape: [n], b: on(B, y), bShape: [n], outShape: [n] })), ref.binary({ op, a: x, aShape: [n], b: y, bShape: [n], outShape: [n] }) as HostArray, expTol, `binary ${op}`);
        }
      }),
      { numRuns: runs },
    );
  });

  await t.test('adamw', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 5 }), fc.nat(), async (n, step, seed) => {
        const hp = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step };
        const [p, g, m] = [rand(n, seed), rand(n, seed + 1), rand(n, seed + 2, 0.1)];
        const v = rand(n, seed + 3, 0.01).map(Math.abs);
        const want = ref.adamw({ param: p, grad: g, m, v, ...hp }); // first: a backend may update its inputs in place (cpu)
        const got = B.adamw({ param: on(B, p), grad: on(B, g), m: on(B, m), v: on(B, v), ...hp });
        close(await back(B, got.param), want.param, lnTol(1), 'adamw param');
        close(await back(B, got.m), want.m, lnTol(1), 'adamw m');
        close(await back(B, got.v), want.v, lnTol(1), 'adamw v');
      }),
      { numRuns: runs },
    );
  });

  await t.test('newtonSchulz (wide, tall and square)', async () => {
    // a few sizes (each new shape compiles new kernels on a device): 1, a prime, a longer side
    const side = fc.constantFrom(1, 7, 20);
    await fc.assert(
      fc.asyncProperty(side, side, fc.nat(), async (rows, cols, seed) => {
        const args = { rows, cols, ...MUON_NEWTON_SCHULZ };
        const x = rand(rows * cols, seed);
        close(await back(B, B.newtonSchulz({ x: on(B, x), ...args })), ref.newtonSchulz({ x, ...args }) as HostArray, nsTol, `newtonSchulz [${rows}, ${cols}]`);
      }),
      { numRuns: runs },
    );
  });

  await t.test('embedding and its backward (repeated ids)', async () => {
    const shape = fc.record({ V: fc.integer({ min: 1, max: 9 }), C: fc.integer({ min: 1, max: 6 }), N: fc.integer({ min: 1, max: 8 }), seed: fc.nat() });
    await fc.assert(
      fc.asyncProperty(shape, async ({ V, C, N, seed }) => {
        const r = new Rng(seed);
        const w = rand(V * C, seed + 1);
        const ids = Int32Array.from({ length: N }, () => r.int(V));
        const dy = rand(N * C, seed + 2);
        close(await back(B, B.embedding({ weight: on(B, w), ids, V, C })), ref.embedding({ weight: w, ids, V, C }) as HostArray, () => 0, 'embedding');
        const sumTol = (_i: number, x: number): number => 1e-6 * (1 + Math.abs(x)) * N; // N float32 additions
        close(await back(B, B.embeddingBackward({ dy: on(B, dy), ids, V, C })), ref.embeddingBackward({ dy, ids, V, C }) as HostArray, sumTol, 'embeddingBackward');
      }),
      { numRuns: runs },
    );
  });

  await t.test('lm head + cross-entropy (linearCrossEntropy) forward and backward, with ignored rows', async () => {
    const shape = fc.record({ N: fc.integer({ min: 1, max: 6 }), C: fc.integer({ min: 1, max: 8 }), V: fc.integer({ min: 2, max: 12 }), seed: fc.nat() });
    await fc.assert(
      fc.asyncProperty(shape, async ({ N, C, V, seed }) => {
        await checkLinearCrossEntropy(B, N, C, V, seed);
      }),
      { numRuns: runs },
    );
  });

  await t.test('strided reads: permute, slice, pad, reduce, broadcasting binary ops, maskedFill (ranks 0–4)', async () => {
    const shapeArb = fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 4 });
    await fc.assert(
      fc.asyncProperty(shapeArb, fc.nat(), async (shape, seed) => {
        const r = new Rng(seed);
        const n = shape.reduce((p, d) => p * d, 1);
        const a = rand(n, seed + 1, 3);
        const as = on(B, a);
        const perm = shape.map((_, i) => i).sort(() => r.uniform() - 0.5);
        close(await back(B, B.permute({ x: as, shape, perm })), ref.permute({ x: a, shape, perm }) as HostArray, () => 0, `permute ${shape} by ${perm}`);
        const begin = shape.map((d) => r.int(d));
        const size = shape.map((d, i) => 1 + r.int(d - begin[i]));
        const cut = ref.slice({ x: a, shape, begin, size }) as HostArray;
        close(await back(B, B.slice({ x: as, shape, begin, size })), cut, () => 0, `slice ${shape} at ${begin} size ${size}`);
        close(await back(B, B.pad({ x: on(B, cut), shape: size, begin, outShape: shape })), ref.pad({ x: cut, shape: size, begin, outShape: shape }) as HostArray, () => 0, `pad ${size} into ${shape} at ${begin}`);
        for (let axis = 0; axis < shape.length; axis++) {
          for (const op of ['sum', 'max'] as const) {
            close(await back(B, B.reduce({ op, x: as, shape, axis })), ref.reduce({ op, x: a, shape, axis }) as HostArray, (_i, w) => 1e-6 * (1 + Math.abs(w)) * shape[axis], `reduce ${op} ${shape} axis ${axis}`);
          }
        }
        // b: some axes of a's shape set to 1 or dropped from the front, so it broadcasts
        const bShape = shape.slice(r.int(shape.length + 1)).map((d) => (r.uniform() < 0.5 ? 1 : d));
        const b = rand(bShape.reduce((p, d) => p * d, 1), seed + 2, 3);
        for (const op of ['add', 'sub', 'mul', 'div'] as const) {
          close(await back(B, B.binary({ op, a: as, aShape: shape, b: on(B, b), bShape, outShape: shape })), ref.binary({ op, a, aShape: shape, b, bShape, outShape: shape }) as HostArray, expTol, `${op} ${shape} with ${bShape}`);
          close(await back(B, B.binary({ op, a: on(B, b), aShape: bShape, b: as, bShape: shape, outShape: shape })), ref.binary({ op, a: b, aShape: bShape, b: a, bShape: shape, outShape: shape }) as HostArray, expTol, `${op} ${bShape} with ${shape}`);
        }
        const mask = Float32Array.from(b, (v) => (v > 0 ? 1 : 0));
        close(await back(B, B.maskedFill({ x: as, shape, mask: on(B, mask), maskShape: bShape, value: -1e9 })), ref.maskedFill({ x: a, shape, mask, maskShape: bShape, value: -1e9 }) as HostArray, () => 0, `maskedFill ${shape} by ${bShape}`);
      }),
      { numRuns: runs },
    );
  });

  await t.test('the composed defaults run on this backend\'s primitives (what a backend without fused kernels gets)', async () => {
    const C = completeBackend({ ...primitivesOf(B), name: `${B.name} primitives` });
    await checkLayerNorm(C, 3, 5, 21);
    await checkCrossEntropy(C, 4, 7, 22);
    await checkLinearCrossEntropy(C, 3, 4, 6, 23);
    const x = rand(3 * 5, 24, 5);
    close(await back(C, C.softmax({ x: on(C, x), rows: 3, cols: 5 })), ref.softmax({ x, rows: 3, cols: 5 }) as HostArray, expTol, 'composed softmax');
  });
}

export async function checkCrossEntropy(B: Backend, rows: number, cols: number, seed: number): Promise<void> {
  const x = rand(rows * cols, seed, 5);
  const r = new Rng(seed + 1);
  const targets = Int32Array.from({ length: rows }, (_, i) => (i === 0 && rows > 1 ? -100 : Math.floor(r.uniform() * cols)));
  const dloss = rand(rows, seed + 2);
  const args = { targets, rows, cols, ignoreIndex: -100 };
  const want = ref.crossEntropy({ logits: x, ...args });
  const xs = on(B, x);
  const got = B.crossEntropy({ logits: xs, ...args });
  close(await back(B, got.loss), want.loss, logTol(cols), `CE loss [${rows}, ${cols}]`);
  close(await back(B, got.lse), want.lse, logTol(cols), `CE lse [${rows}, ${cols}]`);
  const dx = B.crossEntropyBackward({ logits: xs, lse: got.lse, dloss: on(B, dloss), ...args });
  close(await back(B, dx), ref.crossEntropyBackward({ logits: x, lse: want.lse, dloss, ...args }) as HostArray, expTol, `CE dlogits [${rows}, ${cols}]`);
}

/**
 * linearCrossEntropy against the reference, without and with the gradients of Σ loss. dx and dw
 * sum V resp. N products of a dlogit (exp-based: 1e-5 relative) with an operand of size ≤ 2:
 * |Δ| ≤ 1e-5·(1 + |ref|)·(V resp. N).
 */
export async function checkLinearCrossEntropy(B: Backend, N: number, C: number, V: number, seed: number): Promise<void> {
  const x = rand(N * C, seed, 2);
  const w = rand(V * C, seed + 1, 2);
  const r = new Rng(seed + 2);
  const targets = Int32Array.from({ length: N }, (_, i) => (i === 1 ? -100 : r.int(V)));
  const args = { targets, N, C, V, ignoreIndex: -100 };
  const want = ref.linearCrossEntropy({ x, w, ...args, withGrad: true });
  const [xs, ws] = [on(B, x), on(B, w)];
  const plain = B.linearCrossEntropy({ x: xs, w: ws, ...args, withGrad: false });
  assert.ok(plain.dx === null && plain.dw === null);
  close(await back(B, plain.loss), want.loss, logTol(V), `lm-head loss N=${N} C=${C} V=${V}`);
  const got = B.linearCrossEntropy({ x: xs, w: ws, ...args, withGrad: true });
  close(await back(B, got.loss), want.loss, logTol(V), 'lm-head loss (with gradients)');
  close(await back(B, got.dx!), want.dx as HostArray, (_i, v) => 1e-5 * (1 + Math.abs(v)) * V, 'lm-head dx');
  close(await back(B, got.dw!), want.dw as HostArray, (_i, v) => 1e-5 * (1 + Math.abs(v)) * N, 'lm-head dw');
}

export async function checkLayerNorm(B: Backend, rows: number, cols: number, seed: number): Promise<void> {
  const x = rand(rows * cols, seed, 2);
  const w = rand(cols, seed + 1);
  const b = rand(cols, seed + 2);
  const dy = rand(rows * cols, seed + 3);
  const want = ref.layerNorm({ x, weight: w, bias: b, rows, cols, eps: 1e-5 });
  const [xs, ws] = [on(B, x), on(B, w)];
  const got = B.layerNorm({ x: xs, weight: ws, bias: on(B, b), rows, cols, eps: 1e-5 });
  close(await back(B, got.y), want.y, lnTol(1), 'layerNorm y');
  close(await back(B, got.mean), want.mean, lnTol(1), 'layerNorm mean');
  close(await back(B, got.rstd), want.rstd, lnTol(1), 'layerNorm rstd');
  const wg = ref.layerNormBackward({ dy, x, weight: w, mean: want.mean, rstd: want.rstd, rows, cols });
  const g = B.layerNormBackward({ dy: on(B, dy), x: xs, weight: ws, mean: got.mean, rstd: got.rstd, rows, cols });
  close(await back(B, g.dx), wg.dx, lnTol(1), 'layerNorm dx');
  close(await back(B, g.dweight), wg.dweight, lnTol(rows), 'layerNorm dweight');
  close(await back(B, g.dbias), wg.dbias, lnTol(rows), 'layerNorm dbias');
}
