// Conformance of the gpu.js backends (webasm, headlessgl, webgpu) with the reference backend:
// fast-check properties over every gpu.js kernel on small random shapes, plus fixed cases that
// cross the limits where gpu.js gives wrong answers silently — a loop past 1000 iterations
// (loopMaxIterations), 50257 columns (wider than a GL texture), flat indices past 2²⁴ — and
// checks that the requested mode really ran, that intermediates stay on the device, that the
// PyTorch GPT-2 fixture comes out as in test/gpt2_parity.test.ts (tolerances per backend in
// test/helpers/parity.ts), and that on webgpu tensors longer than one device array (lavapipe:
// 128 MiB) are split into parts.
//
// A backend that is absent here (no lavapipe, `gl` not built, no display) is SKIPPED with the
// reason, unless TSGRAD_REQUIRE_BACKENDS names it (CI); one that starts but is broken (its
// probe kernel ran on the wrong mode or computed wrong numbers) FAILS — test/helpers/backends.ts.
// headlessgl needs an X display: without DISPLAY this file re-runs its headlessgl part in a
// child under `xvfb-run -a` when xvfb-run exists.
//
// Tolerances (u = 2⁻²⁴ ≈ 6e-8; the reference accumulates in float64, the kernels in float32,
// and the devices' exp/log are good to a few ulps):
//   matmul, rows sums:   |Δ| ≤ 4u·k·(|A|·|B|)_ij + 1e-7 — k float32 additions, each off by ≤ u·Σ|terms|;
//   exp-based outputs:   |Δ| ≤ 1e-5·|ref| + 1e-6 (softmax, CE gradient, attention, GELU);
//                        GELU's derivative cancels terms (0.5·(1+t) against x·(1−t²)): 1e-5·(1 + |ref|);
//   log-domain outputs:  |Δ| ≤ 2e-6·(1 + |ref|)·√cols (lse, loss, log-softmax);
//   LayerNorm, AdamW:    |Δ| ≤ 1e-5·(1 + |ref|)·√rows (parameter gradients sum over rows).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { referenceBackend as ref } from '../src/autograd/backend/index.ts';
import type { Backend, HostArray, MatmulParams, Storage, UnaryOp } from '../src/autograd/backend/backend.ts';
import {
  createHeadlessGLBackend,
  createWebAsmBackend,
  createWebGPUBackend,
  kernelClassesOf,
  resetTransferStats,
  transferStats,
} from '../src/autograd/backend/gpujs/index.ts';
import { createDeviceBackend, PartedArray } from '../src/autograd/backend/gpujs/device.ts';
import { KERNEL_CLASS, Launcher, type GpuMode } from '../src/autograd/backend/gpujs/launch.ts';
import { Rng } from '../src/autograd/random.ts';
import { BackendUnavailable, setBackend } from '../src/autograd/backend/index.ts';
import { GPT2Model } from '../src/gpt2/model.ts';
import { absent, openBackend, requiredBackends, startOrSkip } from './helpers/backends.ts';
import { matchesPyTorch } from './helpers/parity.ts';
import { makeConfig } from '../src/gpt2/config.ts';
import { AdamW } from '../src/nn/optim/adamw.ts';
import { clipGradNorm } from '../src/nn/optim/clip.ts';

fc.configureGlobal({ includeErrorInReport: true });

const FACTORIES: Record<GpuMode, () => Promise<Backend>> = {
  webasm: createWebAsmBackend,
  headlessgl: createHeadlessGLBackend,
  webgpu: createWebGPUBackend,
};
/** Set in the xvfb-run child: run only this backend. */
const ONLY = process.env.TSGRAD_GPUJS_ONLY as GpuMode | undefined;
/** fast-check runs per property: every new shape compiles new kernels, and GL compiles slowest. */
const RUNS: Record<GpuMode, number> = { webasm: 10, webgpu: 10, headlessgl: 5 };

function rand(n: number, seed: number, scale = 1): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => (2 * r.uniform() - 1) * scale);
}

/** Asserts |got − want| ≤ tol(i, want[i]) everywhere, naming the worst element. */
function close(got: Storage, want: Storage, tol: (i: number, w: number) => number, what: string): void {
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
const expTol = (_i: number, w: number): number => 1e-5 * Math.abs(w) + 1e-6;
const logTol = (cols: number) => (_i: number, w: number): number => 2e-6 * (1 + Math.abs(w)) * Math.sqrt(cols);
const lnTol = (rows: number) => (_i: number, w: number): number => 1e-5 * (1 + Math.abs(w)) * Math.sqrt(rows);

/** |A|·|B| for the matmul bound, computed with the reference on absolute values. */
function matmulTol(a: HostArray, b: HostArray, p: MatmulParams): (i: number) => number {
  const absAB = ref.matmul(a.map(Math.abs), b.map(Math.abs), p) as HostArray;
  const u = 2 ** -24;
  return (i) => 4 * u * p.k * absAB[i] + 1e-7;
}

const on = (B: Backend, x: HostArray): Storage => B.fromHost(x);
const back = (B: Backend, s: Storage): Promise<HostArray> => B.toHostAsync(s);

/** The whole conformance suite for one backend. */
async function suite(t: TestContext, mode: GpuMode, B: Backend): Promise<void> {
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
      { numRuns: RUNS[mode] },
    );
  });

  await t.test('softmax, log-softmax and their backward', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 12 }), fc.nat(), async (rows, cols, seed) => {
        const x = rand(rows * cols, seed, 5);
        const dy = rand(rows * cols, seed + 1);
        const y = ref.softmax(x, rows, cols) as HostArray;
        const ly = ref.logSoftmax(x, rows, cols) as HostArray;
        close(await back(B, B.softmax(on(B, x), rows, cols)), y, expTol, 'softmax');
        close(await back(B, B.logSoftmax(on(B, x), rows, cols)), ly, logTol(cols), 'logSoftmax');
        close(await back(B, B.softmaxBackward(on(B, y), on(B, dy), rows, cols)), ref.softmaxBackward(y, dy, rows, cols) as HostArray, expTol, 'softmaxBackward');
        close(await back(B, B.logSoftmaxBackward(on(B, ly), on(B, dy), rows, cols)), ref.logSoftmaxBackward(ly, dy, rows, cols) as HostArray, logTol(cols), 'logSoftmaxBackward');
      }),
      { numRuns: RUNS[mode] },
    );
  });

  await t.test('cross-entropy forward and backward, with ignored rows', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 2, max: 12 }), fc.nat(), async (rows, cols, seed) => {
        await checkCrossEntropy(B, rows, cols, seed);
      }),
      { numRuns: RUNS[mode] },
    );
  });

  await t.test('layerNorm forward and backward', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 12 }), fc.nat(), async (rows, cols, seed) => {
        await checkLayerNorm(B, rows, cols, seed);
      }),
      { numRuns: RUNS[mode] },
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
        const want = ref.attention(q, k, v, p);
        const got = B.attention(on(B, q), on(B, k), on(B, v), p);
        close(await back(B, got.out), want.out, expTol, 'attention out');
        close(await back(B, got.lse), want.lse, logTol(Tk), 'attention lse');
        const wg = ref.attentionBackward(dout, q, k, v, want.out, want.lse, p);
        const g = B.attentionBackward(on(B, dout), on(B, q), on(B, k), on(B, v), got.out, got.lse, p);
        const gradTol = (_i: number, w: number): number => 1e-5 * (1 + Math.abs(w)) * Tk;
        close(await back(B, g.dq), wg.dq, gradTol, 'attention dq');
        close(await back(B, g.dk), wg.dk, gradTol, 'attention dk');
        close(await back(B, g.dv), wg.dv, gradTol, 'attention dv');
      }),
      { numRuns: RUNS[mode] },
    );
  });

  await t.test('unary ops, GELU backward, same-shape binary ops', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.nat(), async (n, seed) => {
        const x = rand(n, seed, 3);
        const y = rand(n, seed + 1, 3);
        const ops: UnaryOp[] = ['neg', 'exp', 'tanh', 'relu', 'step', 'gelu'];
        for (const op of ops) close(await back(B, B.unary(op, on(B, x))), ref.unary(op, x) as HostArray, expTol, `unary ${op}`);
        const pos = x.map(Math.abs);
        for (const op of ['log', 'sqrt'] as const) close(await back(B, B.unary(op, on(B, pos))), ref.unary(op, pos) as HostArray, logTol(1), `unary ${op}`);
        close(await back(B, B.geluBackward(on(B, x), on(B, y))), ref.geluBackward(x, y) as HostArray, lnTol(1), 'geluBackward');
        for (const op of ['add', 'sub', 'mul', 'div', 'eq'] as const) {
          close(await back(B, B.binary(op, on(B, x), [n], on(B, y), [n], [n])), ref.binary(op, x, [n], y, [n], [n]) as HostArray, expTol, `binary ${op}`);
        }
      }),
      { numRuns: RUNS[mode] },
    );
  });

  await t.test('adamw', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 5 }), fc.nat(), async (n, step, seed) => {
        const hp = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step };
        const [p, g, m] = [rand(n, seed), rand(n, seed + 1), rand(n, seed + 2, 0.1)];
        const v = rand(n, seed + 3, 0.01).map(Math.abs);
        const got = B.adamw(on(B, p), on(B, g), on(B, m), on(B, v), hp);
        const want = ref.adamw(p.slice(), g, m.slice(), v.slice(), hp); // the reference updates in place
        close(await back(B, got.param), want.param, lnTol(1), 'adamw param');
        close(await back(B, got.m), want.m, lnTol(1), 'adamw m');
        close(await back(B, got.v), want.v, lnTol(1), 'adamw v');
      }),
      { numRuns: RUNS[mode] },
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
        close(await back(B, B.embedding(on(B, w), ids, V, C)), ref.embedding(w, ids, V, C) as HostArray, () => 0, 'embedding');
        const sumTol = (_i: number, x: number): number => 1e-6 * (1 + Math.abs(x)) * N; // N float32 additions
        close(await back(B, B.embeddingBackward(on(B, dy), ids, V, C)), ref.embeddingBackward(dy, ids, V, C) as HostArray, sumTol, 'embeddingBackward');
      }),
      { numRuns: RUNS[mode] },
    );
  });

  await t.test('lm head + cross-entropy (linearCrossEntropy) forward and backward, with ignored rows', async () => {
    const shape = fc.record({ N: fc.integer({ min: 1, max: 6 }), C: fc.integer({ min: 1, max: 8 }), V: fc.integer({ min: 2, max: 12 }), seed: fc.nat() });
    await fc.assert(
      fc.asyncProperty(shape, async ({ N, C, V, seed }) => {
        await checkLinearCrossEntropy(B, N, C, V, seed);
      }),
      { numRuns: RUNS[mode] },
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
        close(await back(B, B.permute(as, shape, perm)), ref.permute(a, shape, perm) as HostArray, () => 0, `permute ${shape} by ${perm}`);
        const begin = shape.map((d) => r.int(d));
        const size = shape.map((d, i) => 1 + r.int(d - begin[i]));
        const cut = ref.slice(a, shape, begin, size) as HostArray;
        close(await back(B, B.slice(as, shape, begin, size)), cut, () => 0, `slice ${shape} at ${begin} size ${size}`);
        close(await back(B, B.pad(on(B, cut), size, begin, shape)), ref.pad(cut, size, begin, shape) as HostArray, () => 0, `pad ${size} into ${shape} at ${begin}`);
        for (let axis = 0; axis < shape.length; axis++) {
          for (const op of ['sum', 'max'] as const) {
            close(await back(B, B.reduce(op, as, shape, axis)), ref.reduce(op, a, shape, axis) as HostArray, (_i, w) => 1e-6 * (1 + Math.abs(w)) * shape[axis], `reduce ${op} ${shape} axis ${axis}`);
          }
        }
        // b: some axes of a's shape set to 1 or dropped from the front, so it broadcasts
        const bShape = shape.slice(r.int(shape.length + 1)).map((d) => (r.uniform() < 0.5 ? 1 : d));
        const b = rand(bShape.reduce((p, d) => p * d, 1), seed + 2, 3);
        for (const op of ['add', 'sub', 'mul', 'div'] as const) {
          close(await back(B, B.binary(op, as, shape, on(B, b), bShape, shape)), ref.binary(op, a, shape, b, bShape, shape) as HostArray, expTol, `${op} ${shape} with ${bShape}`);
          close(await back(B, B.binary(op, on(B, b), bShape, as, shape, shape)), ref.binary(op, b, bShape, a, shape, shape) as HostArray, expTol, `${op} ${bShape} with ${shape}`);
        }
        const mask = Float32Array.from(b, (v) => (v > 0 ? 1 : 0));
        close(await back(B, B.maskedFill(as, shape, on(B, mask), bShape, -1e9)), ref.maskedFill(a, shape, mask, bShape, -1e9) as HostArray, () => 0, `maskedFill ${shape} by ${bShape}`);
      }),
      { numRuns: RUNS[mode] },
    );
  });

  // ---- past the limits ----------------------------------------------------------------------
  await t.test('loops past 1000 iterations (gpu.js loopMaxIterations)', async () => {
    const p = { batch: 1, m: 2, k: 1500, n: 3, transA: false, transB: true, aBatched: false, bBatched: false };
    const a = rand(2 * 1500, 7);
    const b = rand(3 * 1500, 8);
    close(await back(B, B.matmul(on(B, a), on(B, b), p)), ref.matmul(a, b, p) as HostArray, matmulTol(a, b, p), 'matmul k = 1500');
    await checkLayerNorm(B, 1100, 3, 9); // dweight, dbias loop over 1100 rows
  });

  await t.test('50257 columns: a GPT-2 vocabulary row (wider than a GL texture)', async () => {
    await checkCrossEntropy(B, 4, 50257, 11); // 4 rows: split as [cols, 2, 2] on GL
    await checkCrossEntropy(B, 3, 50257, 12); // 3 rows (prime): GL cannot lay it out, takes the reference
    const x = rand(2 * 50257, 13, 5);
    close(await back(B, B.softmax(on(B, x), 2, 50257)), ref.softmax(x, 2, 50257) as HostArray, expTol, 'softmax 50257');
  });

  await t.test('flat indices past 2²⁴ (a [334, 50257] logits matrix, 16.8 M values)', async () => {
    const rows = 334;
    const V = 50257;
    assert.ok(rows * V > 2 ** 24);
    const p = { batch: 1, m: rows, k: 2, n: V, transA: false, transB: true, aBatched: false, bBatched: false };
    const a = rand(rows * 2, 14);
    const w = rand(V * 2, 15);
    const want = ref.matmul(a, w, p) as HostArray;
    const logits = B.matmul(on(B, a), on(B, w), p);
    // webasm computes it in one array; a device backend never indexes past 2²⁴ (its arrays hold
    // at most 2²⁴ values): it computes this on the host and keeps the result in parts
    assert.equal(logits instanceof PartedArray, mode !== 'webasm');
    close(await back(B, logits), want, matmulTol(a, w, p), 'lm-head matmul');
    const targets = Int32Array.from({ length: rows }, (_, i) => (i * 7919) % V);
    targets[rows - 1] = V - 1; // the very last element
    const dloss = new Float32Array(rows).fill(1 / rows);
    const wantCe = ref.crossEntropy(want, targets, rows, V, -100);
    const ce = B.crossEntropy(logits, targets, rows, V, -100);
    close(await back(B, ce.loss), wantCe.loss, logTol(V), 'loss');
    const dx = B.crossEntropyBackward(logits, ce.lse, targets, on(B, dloss), rows, V, -100);
    close(await back(B, dx), ref.crossEntropyBackward(want, wantCe.lse, targets, dloss, rows, V, -100) as HostArray, expTol, 'dlogits');
  });

  // ---- device behaviour ------------------------------------------------------------------------
  await t.test('a chain of kernels transfers only its inputs and its final result', async () => {
    const p = { batch: 1, m: 4, k: 6, n: 5, transA: false, transB: false, aBatched: false, bBatched: false };
    const a = rand(4 * 6, 16);
    const b = rand(6 * 5, 17);
    resetTransferStats();
    const h = B.softmax(B.unary('gelu', B.matmul(on(B, a), on(B, b), p)), 4, 5);
    const got = await back(B, h);
    const want = ref.softmax(ref.unary('gelu', ref.matmul(a, b, p)), 4, 5) as HostArray;
    close(got, want, expTol, 'chain');
    const s = transferStats();
    const device = mode !== 'webasm';
    assert.deepEqual([s.uploads, s.readbacks], device ? [2, 1] : [0, 0], JSON.stringify(s));
  });

  await t.test(`toHost is ${mode === 'webgpu' ? 'refused (async only)' : 'synchronous'}`, async () => {
    const x = on(B, rand(3, 18));
    if (mode === 'webgpu') {
      assert.equal(B.asyncOnly, true);
      assert.throws(() => B.toHost(x), /await tensor\.toArray\(\)/);
    } else {
      assert.equal(B.asyncOnly, false);
      close(B.toHost(B.unary('neg', x)), rand(3, 18).map((v) => -v), () => 0, 'toHost');
    }
  });

  await t.test(`every kernel ran as ${KERNEL_CLASS[mode]}`, () => {
    assert.deepEqual(kernelClassesOf(B), [KERNEL_CLASS[mode]]);
  });
}

async function checkCrossEntropy(B: Backend, rows: number, cols: number, seed: number): Promise<void> {
  const x = rand(rows * cols, seed, 5);
  const r = new Rng(seed + 1);
  const targets = Int32Array.from({ length: rows }, (_, i) => (i === 0 && rows > 1 ? -100 : Math.floor(r.uniform() * cols)));
  const dloss = rand(rows, seed + 2);
  const want = ref.crossEntropy(x, targets, rows, cols, -100);
  const xs = on(B, x);
  const got = B.crossEntropy(xs, targets, rows, cols, -100);
  close(await back(B, got.loss), want.loss, logTol(cols), `CE loss [${rows}, ${cols}]`);
  close(await back(B, got.lse), want.lse, logTol(cols), `CE lse [${rows}, ${cols}]`);
  const dx = B.crossEntropyBackward(xs, got.lse, targets, on(B, dloss), rows, cols, -100);
  close(await back(B, dx), ref.crossEntropyBackward(x, want.lse, targets, dloss, rows, cols, -100) as HostArray, expTol, `CE dlogits [${rows}, ${cols}]`);
}

/**
 * linearCrossEntropy against the reference, without and with the gradients of Σ loss. dx and dw
 * sum V resp. N products of a dlogit (exp-based: 1e-5 relative) with an operand of size ≤ 2:
 * |Δ| ≤ 1e-5·(1 + |ref|)·(V resp. N).
 */
async function checkLinearCrossEntropy(B: Backend, N: number, C: number, V: number, seed: number): Promise<void> {
  const x = rand(N * C, seed, 2);
  const w = rand(V * C, seed + 1, 2);
  const r = new Rng(seed + 2);
  const targets = Int32Array.from({ length: N }, (_, i) => (i === 1 ? -100 : r.int(V)));
  const want = ref.linearCrossEntropy(x, w, targets, N, C, V, -100, true);
  const [xs, ws] = [on(B, x), on(B, w)];
  const plain = B.linearCrossEntropy(xs, ws, targets, N, C, V, -100, false);
  assert.ok(plain.dx === null && plain.dw === null);
  close(await back(B, plain.loss), want.loss, logTol(V), `lm-head loss N=${N} C=${C} V=${V}`);
  const got = B.linearCrossEntropy(xs, ws, targets, N, C, V, -100, true);
  close(await back(B, got.loss), want.loss, logTol(V), 'lm-head loss (with gradients)');
  close(await back(B, got.dx!), want.dx as HostArray, (_i, v) => 1e-5 * (1 + Math.abs(v)) * V, 'lm-head dx');
  close(await back(B, got.dw!), want.dw as HostArray, (_i, v) => 1e-5 * (1 + Math.abs(v)) * N, 'lm-head dw');
}

async function checkLayerNorm(B: Backend, rows: number, cols: number, seed: number): Promise<void> {
  const x = rand(rows * cols, seed, 2);
  const w = rand(cols, seed + 1);
  const b = rand(cols, seed + 2);
  const dy = rand(rows * cols, seed + 3);
  const want = ref.layerNorm(x, w, b, rows, cols, 1e-5);
  const [xs, ws] = [on(B, x), on(B, w)];
  const got = B.layerNorm(xs, ws, on(B, b), rows, cols, 1e-5);
  close(await back(B, got.y), want.y, lnTol(1), 'layerNorm y');
  close(await back(B, got.mean), want.mean, lnTol(1), 'layerNorm mean');
  close(await back(B, got.rstd), want.rstd, lnTol(1), 'layerNorm rstd');
  const wg = ref.layerNormBackward(dy, x, w, want.mean, want.rstd, rows, cols);
  const g = B.layerNormBackward(on(B, dy), xs, ws, got.mean, got.rstd, rows, cols);
  close(await back(B, g.dx), wg.dx, lnTol(1), 'layerNorm dx');
  close(await back(B, g.dweight), wg.dweight, lnTol(rows), 'layerNorm dweight');
  close(await back(B, g.dbias), wg.dbias, lnTol(rows), 'layerNorm dbias');
}

/**
 * A short GPT-2 training run (tiny config, one fixed batch, AdamW) on backend B against the
 * same run on the js reference; with `resident`, a device reads back nothing but the loss.
 * Tolerance: each loss within 1e-6 relative, 3× the worst observed (3.4e-7 on webasm, webgpu,
 * headlessgl and with tensors in parts).
 */
async function trainingMatchesReference(B: Backend, resident = true, vocab_size = 96): Promise<void> {
  let readbacks = -1; // in the last step
  const run = async (backend: Backend): Promise<number[]> => {
    await setBackend(backend);
    try {
      const model = new GPT2Model(makeConfig({ vocab_size, d_model: 32, n_heads: 4, n_layers: 2, n_ctx: 16, dropout: 0 }, 'overfit'), { seed: 3 });
      const params = model.parameters();
      const opt = new AdamW([{ params: params.filter((p) => p.ndim >= 2), weightDecay: 0.1 }, { params: params.filter((p) => p.ndim < 2), weightDecay: 0 }], { lr: 1e-3 });
      const r = new Rng(5);
      const x = Int32Array.from({ length: 2 * 8 }, () => r.int(vocab_size));
      const y = Int32Array.from({ length: 2 * 8 }, () => r.int(vocab_size));
      const losses: number[] = [];
      for (let step = 0; step < 4; step++) {
        if (step === 3) resetTransferStats();
        const loss = model.loss(x, [2, 8], y); // as the training loop: the lm head fused with its loss
        loss.backward();
        clipGradNorm(params, 0.5); // on the device too: the norm is a tensor, nothing is read
        opt.step();
        opt.zeroGrad();
        losses.push((await loss.toArray())[0]);
        if (step === 3) readbacks = transferStats().readbacks;
      }
      return losses;
    } finally {
      await setBackend('js');
    }
  };
  const want = await run(ref);
  const got = await run(B);
  got.forEach((l, i) => assert.ok(Math.abs(l - want[i]) <= 1e-6 * Math.abs(want[i]), `step ${i}: loss ${l} on ${B.name}, ${want[i]} on js`));
  // on a device, a whole step (forward, backward, AdamW) reads back only the loss
  if (resident) assert.equal(readbacks, B.name === 'webasm' ? 0 : 1, `readbacks in one training step on ${B.name}`);
}

/** Opens a backend, or skips the test saying why it is absent here (see helpers/backends.ts). */
const open = (t: TestContext, mode: GpuMode): Promise<Backend | null> => openBackend(t, mode, FACTORIES[mode]);

test('start-up: an absent backend is skipped unless required; a broken one always fails', async () => {
  const missing = () => Promise.reject(new BackendUnavailable('webgpu: no adapter'));
  const broken = () => Promise.reject(new Error('webgpu: probe kernel returned [0,0,0], not [1,2,3]'));
  assert.deepEqual(await startOrSkip('webgpu', missing, new Set()), { skip: 'webgpu unavailable: webgpu: no adapter' });
  await assert.rejects(startOrSkip('webgpu', missing, new Set(['webasm', 'webgpu'])), /webgpu is required here \(TSGRAD_REQUIRE_BACKENDS=webasm,webgpu\) but cannot start: webgpu: no adapter/);
  await assert.rejects(startOrSkip('webgpu', broken, new Set()), /probe kernel returned/);
  assert.equal(await startOrSkip('js', async () => ref, new Set(['js'])), ref);
  assert.deepEqual([...requiredBackends({ TSGRAD_REQUIRE_BACKENDS: 'webgpu, headlessgl,,webasm' })], ['webgpu', 'headlessgl', 'webasm']);
  assert.equal(requiredBackends({}).size, 0);
});

for (const mode of ['webasm', 'headlessgl', 'webgpu'] as const) {
  if (ONLY && ONLY !== mode) continue;
  test(mode, async (t) => {
    if (mode === 'headlessgl' && !process.env.DISPLAY) {
      // a GL context needs an X server: re-run this part under a virtual one
      if (spawnSync('xvfb-run', ['--help'], { stdio: 'ignore' }).error) {
        t.skip(absent('headlessgl', 'DISPLAY is unset and xvfb-run is missing (apt-get install xvfb xauth)').skip);
        return;
      }
      const file = fileURLToPath(import.meta.url);
      const env: NodeJS.ProcessEnv = { ...process.env, TSGRAD_GPUJS_ONLY: 'headlessgl' };
      delete env.NODE_TEST_CONTEXT; // else the child's node:test sees a parent and runs nothing
      const child = spawnSync('xvfb-run', ['-a', process.execPath, '--import', 'tsx', '--test', '--test-reporter=spec', file], {
        env,
        encoding: 'utf8',
        timeout: 600_000,
      });
      const out = `${child.stdout}${child.stderr}`;
      for (const line of out.split('\n')) if (line.trim()) t.diagnostic(`[xvfb-run] ${line}`);
      assert.equal(child.status, 0, 'the headlessgl tests under xvfb-run failed (output above)');
      // the child skips (exit 0, nothing passed) only where headlessgl is absent and not required
      const skipped = /^﹣ headlessgl .*# (.*)$/m.exec(out);
      if (skipped) {
        t.skip(`under xvfb-run: ${skipped[1]}`);
        return;
      }
      assert.match(out, /^✔ headlessgl /m, 'the headlessgl suite did not run under xvfb-run (output above)');
      return;
    }
    const B = await open(t, mode);
    if (B) {
      await suite(t, mode, B);
      await t.test('a tiny GPT-2 trains to the same losses as on js', () => trainingMatchesReference(B));
      await t.test('GPT-2 matches PyTorch: logits, loss, every gradient, 10 AdamW steps and the parameters after them', (st) => matchesPyTorch(st, B));
    }
  });
}

// ---- tensors in parts (webgpu: lavapipe caps a storage buffer at 128 MiB) ------------------------

/** The webgpu device backend with a small array limit, so that small tensors are split into parts. */
function smallParts(maxElements: number, partAlign: number): Backend {
  return createDeviceBackend({ name: 'webgpu', launcher: new Launcher('webgpu'), asyncOnly: true, maxElements, partAlign, rowSplit: (rows) => [rows, 1] });
}

test('webgpu: tensors longer than one device array are split into parts, and the hot ops walk them', async (t) => {
  if (ONLY) {
    t.skip(`this run is only ${ONLY}`);
    return;
  }
  if (!(await open(t, 'webgpu'))) return;
  const B = smallParts(100, 16); // parts of 96 values: 6 rows of a [V, 16] table
  const x = rand(250, 1, 3);
  const xs = B.fromHost(x);
  assert.ok(xs instanceof PartedArray && xs.parts.length === 3, 'fromHost splits 250 values into 96 + 96 + 58');
  close(await back(B, xs), x, () => 0, 'upload and read back in parts');
  close(await back(B, B.fill(250, 2, 'float32')), new Float32Array(250).fill(2), () => 0, 'fill in parts');
  const y = rand(250, 2);
  close(await back(B, B.unary('exp', xs)), ref.unary('exp', x) as HostArray, expTol, 'unary in parts');
  close(await back(B, B.binary('mul', xs, [250], B.fromHost(y), [250], [250])), ref.binary('mul', x, [250], y, [250], [250]) as HostArray, expTol, 'binary in parts');
  const hp = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 3 };
  const [m, v] = [rand(250, 3, 0.1), rand(250, 4, 0.01).map(Math.abs)];
  const got = B.adamw(xs, B.fromHost(y), B.fromHost(m), B.fromHost(v), hp);
  assert.ok(got.param instanceof PartedArray && got.m instanceof PartedArray);
  close(await back(B, got.param), ref.adamw(x.slice(), y, m.slice(), v.slice(), hp).param, lnTol(1), 'adamw in parts');

  // a [20, 16] table is 4 parts (6, 6, 6, 2 rows); with N = 20 rows of x, a block of logits holds 4 vocabulary rows
  const r = new Rng(5);
  const ids = Int32Array.from({ length: 6 }, () => r.int(20));
  const w = rand(20 * 16, 6);
  close(await back(B, B.embedding(B.fromHost(w), ids, 20, 16)), ref.embedding(w, ids, 20, 16) as HostArray, () => 0, 'embedding from parts');
  const dy = rand(6 * 16, 7);
  const dw = B.embeddingBackward(B.fromHost(dy), ids, 20, 16);
  assert.ok(dw instanceof PartedArray && dw.parts.length === 4);
  close(await back(B, dw), ref.embeddingBackward(dy, ids, 20, 16) as HostArray, (_i, g) => 1e-6 * (1 + Math.abs(g)) * 6, 'embeddingBackward into parts');
  const dyParts = rand(12 * 16, 8); // dy itself in two parts: the host computes it
  close(await back(B, B.embeddingBackward(B.fromHost(dyParts), Int32Array.from([...ids, ...ids]), 20, 16)), ref.embeddingBackward(dyParts, Int32Array.from([...ids, ...ids]), 20, 16) as HostArray, (_i, g) => 1e-6 * (1 + Math.abs(g)) * 12, 'embeddingBackward of dy in parts');
  for (const N of [5, 20]) await checkLinearCrossEntropy(B, N, 16, 20, 8 + N); // N = 5: whole parts; 20: windows of 4 rows
  const xq = rand(3 * 16, 10);
  const headP = { batch: 1, m: 3, k: 16, n: 20, transA: false, transB: true, aBatched: false, bBatched: false };
  close(await back(B, B.matmul(B.fromHost(xq), B.fromHost(w), headP)), ref.matmul(xq, w, headP) as HostArray, matmulTol(xq, w, headP), 'x·wᵀ with w in parts (logits while generating)');
  // the grad norm and clip of a table in parts: a row sum part by part, a scalar times each part
  close(await back(B, B.reduce('sum', B.fromHost(w), [20, 16], 1)), ref.reduce('sum', w, [20, 16], 1) as HostArray, (_i, g) => 1e-6 * (1 + Math.abs(g)) * 16, 'row sums of a table in parts');
  const half = Float32Array.of(0.5);
  close(await back(B, B.binary('mul', B.fromHost(w), [20, 16], B.fromHost(half), [], [20, 16])), ref.binary('mul', w, [20, 16], half, [], [20, 16]) as HostArray, () => 0, 'parts × scalar');
  close(await back(B, B.binary('sub', B.fromHost(half), [], B.fromHost(w), [20, 16], [20, 16])), ref.binary('sub', half, [], w, [20, 16], [20, 16]) as HostArray, () => 0, 'scalar − parts');

  // the lm head in parts reads nothing back (the targets go up as one small array per block)
  const xh = B.fromHost(rand(20 * 16, 9));
  const wh = B.fromHost(w);
  const targets = Int32Array.from({ length: 20 }, () => r.int(20));
  resetTransferStats();
  const g = B.linearCrossEntropy(xh, wh, targets, 20, 16, 20, -100, true);
  assert.ok(g.dw instanceof PartedArray && g.dw.parts.length === 4);
  assert.equal(transferStats().readbacks, 0, JSON.stringify(transferStats()));

  // a matmul whose result is longer than one array, and ops without a parts path, go through the host
  const p = { batch: 1, m: 6, k: 4, n: 20, transA: false, transB: false, aBatched: false, bBatched: false };
  const a = rand(6 * 4, 19);
  const b = rand(4 * 20, 20);
  const want = ref.matmul(a, b, p) as HostArray;
  const c = B.matmul(B.fromHost(a), B.fromHost(b), p); // 120 values out: computed on the host, uploaded in parts
  close(await back(B, c), want, matmulTol(a, b, p), 'matmul across the limit');
  close(await back(B, B.softmax(c, 6, 20)), ref.softmax(want, 6, 20) as HostArray, expTol, 'softmax of a tensor in parts');
});

test('webgpu: a tiny GPT-2 whose tensors are split into parts of 1024 values trains to the js losses', async (t) => {
  if (ONLY) {
    t.skip(`this run is only ${ONLY}`);
    return;
  }
  if (!(await open(t, 'webgpu'))) return;
  // wte [96, 32] = 3 parts; c_fc [32, 128] = 4 parts, and a matmul with a weight in parts runs on the host
  await trainingMatchesReference(smallParts(1024, 32), false);
  // only wte [200, 32] in parts (GPT-2 small's case: 154 MB > 128 MiB): still nothing read back but the loss
  await trainingMatchesReference(smallParts(4096, 32), true, 200);
});

test('webgpu: a tensor above the real 128 MiB buffer limit (34 M values)', async (t) => {
  if (ONLY) {
    t.skip(`this run is only ${ONLY}`);
    return;
  }
  const B = await open(t, 'webgpu');
  if (!B) return;
  const n = 34_000_000; // 136 MB
  const s = B.binary('add', B.fill(n, 1.25, 'float32'), [n], B.fill(n, 0.5, 'float32'), [n], [n]);
  assert.ok(s instanceof PartedArray, 'split into parts');
  const h = await back(B, s);
  assert.equal(h.length, n);
  for (const i of [0, 16_742_399, 16_742_400, n - 1]) assert.equal(h[i], 1.75, `element ${i}`);
});

test('webgpu end to end: npm run train saves checkpoints and samples, npm run generate continues a prompt', async (t) => {
  if (ONLY) {
    t.skip(`this run is only ${ONLY}`);
    return;
  }
  if (!(await open(t, 'webgpu'))) return;
  const out = mkdtempSync(join(tmpdir(), 'tsgrad-webgpu-'));
  const run = (script: string, args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { encoding: 'utf8', timeout: 240_000 });
  const train = run('src/train/cli/train.ts', ['--preset', 'overfit', '--steps', '2', '--ctx', '16', '--batch-size', '2', '--backend', 'webgpu', '--out', out, '--eval-every', '1', '--sample-prompt', 'Once', '--sample-tokens', '3', '--no-progress']);
  assert.equal(train.status, 0, train.stderr);
  assert.match(train.stdout, /backend webgpu/);
  for (const f of ['final/model.safetensors', 'checkpoint/optimizer.safetensors']) assert.ok(existsSync(join(out, f)), f);
  const gen = run('src/train/cli/generate.ts', ['--model', join(out, 'final'), '--backend', 'webgpu', '--prompt', 'Once', '--max-new-tokens', '3', '--json']);
  assert.equal(gen.status, 0, gen.stderr);
  assert.equal(JSON.parse(gen.stdout.trim().split('\n').pop()!).ids.length, 3);
});
