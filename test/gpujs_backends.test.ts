// Conformance of the gpu.js backends (webasm, headlessgl, webgpu) with the reference backend:
// the conformance suite (test/helpers/conformance.ts: every kernel on small random shapes, and
// the composed defaults on each backend's primitives), plus fixed cases that
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
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { referenceBackend as ref } from '../src/autograd/backends/registry.ts';
import { matmulParams, type Backend, type HostArray } from '../src/autograd/backend.ts';
import { kernelClassesOf, resetTransferStats, transferStats } from '../src/autograd/backends/gpujs/index.ts';
import { createHeadlessGLBackend, createWebAsmBackend, createWebGPUBackend } from '../src/autograd/backends/gpujs/index.node.ts';
import { loadGpuJs } from '../src/autograd/backends/gpujs/load.node.ts';
import { createDeviceBackend, PartedArray } from '../src/autograd/backends/gpujs/device.ts';
import { KERNEL_CLASS, Launcher, type GpuMode } from '../src/autograd/backends/gpujs/launch.ts';
import { Rng } from '../src/autograd/random.ts';
import { BackendUnavailable, setBackend } from '../src/autograd/backends/registry.ts';
import { GPT2Model } from '../src/gpt2/model.ts';
import { absent, openBackend, requiredBackends, startOrSkip } from './helpers/backends.ts';
import { back, checkCrossEntropy, checkLayerNorm, checkLinearCrossEntropy, close, conformance, expTol, lnTol, logTol, matmulTol, on, rand } from './helpers/conformance.ts';
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

/** The gpu.js backend B: the conformance suite, then what breaks gpu.js kernels and what a device must do. */
async function suite(t: TestContext, mode: GpuMode, B: Backend): Promise<void> {
  await conformance(t, B, RUNS[mode]);

  // ---- past the limits ----------------------------------------------------------------------
  await t.test('loops past 1000 iterations (gpu.js loopMaxIterations)', async () => {
    const p = matmulParams(2, 1500, 3, { transB: true });
    const a = rand(2 * 1500, 7);
    const b = rand(3 * 1500, 8);
    close(await back(B, B.matmul(on(B, a), on(B, b), p)), ref.matmul(a, b, p) as HostArray, matmulTol(a, b, p), 'matmul k = 1500');
    await checkLayerNorm(B, 1100, 3, 9); // dweight, dbias loop over 1100 rows
  });

  await t.test('50257 columns: a GPT-2 vocabulary row (wider than a GL texture)', async () => {
    await checkCrossEntropy(B, 4, 50257, 11); // 4 rows: split as [cols, 2, 2] on GL
    await checkCrossEntropy(B, 3, 50257, 12); // 3 rows (prime): GL cannot lay it out, takes the reference
    const x = rand(2 * 50257, 13, 5);
    close(await back(B, B.softmax({ x: on(B, x), rows: 2, cols: 50257 })), ref.softmax({ x, rows: 2, cols: 50257 }) as HostArray, expTol, 'softmax 50257');
  });

  await t.test('flat indices past 2²⁴ (a [334, 50257] logits matrix, 16.8 M values)', async () => {
    const rows = 334;
    const V = 50257;
    assert.ok(rows * V > 2 ** 24);
    const p = matmulParams(rows, 2, V, { transB: true });
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
    const ceArgs = { targets, rows, cols: V, ignoreIndex: -100 };
    const wantCe = ref.crossEntropy({ logits: want, ...ceArgs });
    const ce = B.crossEntropy({ logits, ...ceArgs });
    close(await back(B, ce.loss), wantCe.loss, logTol(V), 'loss');
    const dx = B.crossEntropyBackward({ logits, lse: ce.lse, dloss: on(B, dloss), ...ceArgs });
    close(await back(B, dx), ref.crossEntropyBackward({ logits: want, lse: wantCe.lse, dloss, ...ceArgs }) as HostArray, expTol, 'dlogits');
  });

  // ---- device behaviour ------------------------------------------------------------------------
  await t.test('a chain of kernels transfers only its inputs and its final result', async () => {
    const p = matmulParams(4, 6, 5);
    const a = rand(4 * 6, 16);
    const b = rand(6 * 5, 17);
    resetTransferStats();
    const h = B.softmax({ x: B.unary('gelu', B.matmul(on(B, a), on(B, b), p)), rows: 4, cols: 5 });
    const got = await back(B, h);
    const want = ref.softmax({ x: ref.unary('gelu', ref.matmul(a, b, p)), rows: 4, cols: 5 }) as HostArray;
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
  return createDeviceBackend({ name: 'webgpu', launcher: new Launcher(loadGpuJs(), 'webgpu'), asyncOnly: true, maxElements, partAlign, rowSplit: (rows) => [rows, 1] });
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
  close(await back(B, B.binary({ op: 'mul', a: xs, aShape: [250], b: B.fromHost(y), bShape: [250], outShape: [250] })), ref.binary({ op: 'mul', a: x, aShape: [250], b: y, bShape: [250], outShape: [250] }) as HostArray, expTol, 'binary in parts');
  const hp = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 3 };
  const [m, v] = [rand(250, 3, 0.1), rand(250, 4, 0.01).map(Math.abs)];
  const got = B.adamw({ param: xs, grad: B.fromHost(y), m: B.fromHost(m), v: B.fromHost(v), ...hp });
  assert.ok(got.param instanceof PartedArray && got.m instanceof PartedArray);
  close(await back(B, got.param), ref.adamw({ param: x, grad: y, m, v, ...hp }).param, lnTol(1), 'adamw in parts');

  // a [20, 16] table is 4 parts (6, 6, 6, 2 rows); with N = 20 rows of x, a block of logits holds 4 vocabulary rows
  const r = new Rng(5);
  const ids = Int32Array.from({ length: 6 }, () => r.int(20));
  const w = rand(20 * 16, 6);
  close(await back(B, B.embedding({ weight: B.fromHost(w), ids, V: 20, C: 16 })), ref.embedding({ weight: w, ids, V: 20, C: 16 }) as HostArray, () => 0, 'embedding from parts');
  const dy = rand(6 * 16, 7);
  const dw = B.embeddingBackward({ dy: B.fromHost(dy), ids, V: 20, C: 16 });
  assert.ok(dw instanceof PartedArray && dw.parts.length === 4);
  close(await back(B, dw), ref.embeddingBackward({ dy, ids, V: 20, C: 16 }) as HostArray, (_i, g) => 1e-6 * (1 + Math.abs(g)) * 6, 'embeddingBackward into parts');
  const dyParts = rand(12 * 16, 8); // dy itself in two parts: the host computes it
  const twice = Int32Array.from([...ids, ...ids]);
  close(await back(B, B.embeddingBackward({ dy: B.fromHost(dyParts), ids: twice, V: 20, C: 16 })), ref.embeddingBackward({ dy: dyParts, ids: twice, V: 20, C: 16 }) as HostArray, (_i, g) => 1e-6 * (1 + Math.abs(g)) * 12, 'embeddingBackward of dy in parts');
  for (const N of [5, 20]) await checkLinearCrossEntropy(B, N, 16, 20, 8 + N); // N = 5: whole parts; 20: windows of 4 rows
  const xq = rand(3 * 16, 10);
  const headP = matmulParams(3, 16, 20, { transB: true });
  close(await back(B, B.matmul(B.fromHost(xq), B.fromHost(w), headP)), ref.matmul(xq, w, headP) as HostArray, matmulTol(xq, w, headP), 'x·wᵀ with w in parts (logits while generating)');
  // the grad norm and clip of a table in parts: a row sum part by part, a scalar times each part
  close(await back(B, B.reduce({ op: 'sum', x: B.fromHost(w), shape: [20, 16], axis: 1 })), ref.reduce({ op: 'sum', x: w, shape: [20, 16], axis: 1 }) as HostArray, (_i, g) => 1e-6 * (1 + Math.abs(g)) * 16, 'row sums of a table in parts');
  const half = Float32Array.of(0.5);
  const timesHalf = { op: 'mul' as const, aShape: [20, 16], bShape: [], outShape: [20, 16] };
  close(await back(B, B.binary({ ...timesHalf, a: B.fromHost(w), b: B.fromHost(half) })), ref.binary({ ...timesHalf, a: w, b: half }) as HostArray, () => 0, 'parts × scalar');
  const halfMinus = { op: 'sub' as const, aShape: [], bShape: [20, 16], outShape: [20, 16] };
  close(await back(B, B.binary({ ...halfMinus, a: B.fromHost(half), b: B.fromHost(w) })), ref.binary({ ...halfMinus, a: half, b: w }) as HostArray, () => 0, 'scalar − parts');

  // the lm head in parts reads nothing back (the targets go up as one small array per block)
  const xh = B.fromHost(rand(20 * 16, 9));
  const wh = B.fromHost(w);
  const targets = Int32Array.from({ length: 20 }, () => r.int(20));
  resetTransferStats();
  const g = B.linearCrossEntropy({ x: xh, w: wh, targets, N: 20, C: 16, V: 20, ignoreIndex: -100, withGrad: true });
  assert.ok(g.dw instanceof PartedArray && g.dw.parts.length === 4);
  assert.equal(transferStats().readbacks, 0, JSON.stringify(transferStats()));

  // a matmul whose result is longer than one array, and ops without a parts path, go through the host
  const p = matmulParams(6, 4, 20);
  const a = rand(6 * 4, 19);
  const b = rand(4 * 20, 20);
  const want = ref.matmul(a, b, p) as HostArray;
  const c = B.matmul(B.fromHost(a), B.fromHost(b), p); // 120 values out: computed on the host, uploaded in parts
  close(await back(B, c), want, matmulTol(a, b, p), 'matmul across the limit');
  close(await back(B, B.softmax({ x: c, rows: 6, cols: 20 })), ref.softmax({ x: want, rows: 6, cols: 20 }) as HostArray, expTol, 'softmax of a tensor in parts');
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
  const s = B.binary({ op: 'add', a: B.fill(n, 1.25, 'float32'), aShape: [n], b: B.fill(n, 0.5, 'float32'), bShape: [n], outShape: [n] });
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
