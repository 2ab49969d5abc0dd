// `npm run bench:train`: end-to-end training throughput — tokens/s, ms/step, peak RSS — for the
// overfit and tinystories presets and GPT-2 124M, and, in the same run, the same model and
// batch in PyTorch (bench/torch_train.py, Debian's python3-torch) on as many threads, printing
// the ratio tsgrad/PyTorch. Timings are ratios within one run because this machine is shared.
// On the cpu backend each case runs at every thread and at one thread, PyTorch likewise.
// MFU (model FLOPs utilisation): the model's FLOPs per token (6 per parameter that multiplies,
// the tied head included, plus 12·n_layer·d_model·T for attention's scores and mixing: PaLM's
// count, nanoGPT's estimate_mfu) times tokens/s, over the GEMM peak measured in the same run on
// as many threads (the best of a 1024³ GEMM and the case's own lm-head GEMM; on the cpu backend
// the time inside its wasm kernels alone, without the copies into and out of wasm memory that
// the training step pays, so MFU counts those copies as lost time). PyTorch's MFU is over its
// own GEMM peak (torch.mm, same shapes), so the table shows both what bounds the ratio — the two
// peaks — and how much of its peak each engine's step reaches.
//   npm run bench:train -- [--quick] [--backend cpu] [--only overfit,tinystories,gpt2]
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { GPT2Model } from '../src/gpt2/model.ts';
import { makeConfig, type GPT2Size } from '../src/gpt2/config.ts';
import { AdamW } from '../src/nn/optim/adamw.ts';
import { Rng } from '../src/autograd/random.ts';
import { releaseMemory, reuseMemory } from '../src/autograd/backends/memory.ts';
import { stateTensors } from '../src/nn/optim/optimizer.ts';
import { useBackend } from '../src/train/cli/backend.ts';
import { setBackend, type Backend } from '../src/autograd/backends/registry.ts';
import { matmulParams } from '../src/autograd/backend.ts';
import { createCpuBackend, type CpuBackend } from '../src/autograd/backends/cpu/index.ts';
import { nodeThreads } from '../src/autograd/backends/cpu/threads.node.ts';
import { TRAIN_PRESETS } from '../src/train/config.ts';

interface Case {
  name: string;
  model: GPT2Size;
  batch: number;
  ctx: number;
  steps: number;
}

interface Timing {
  ms_per_step: number;
  tokens_per_s: number;
  peak_rss_mb: number;
}

interface TorchTiming extends Timing {
  /** torch.mm's GFLOP/s on the same threads (bench/torch_train.py). */
  gemm_gflops: number;
}

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, backend: { type: 'string', default: 'cpu' }, only: { type: 'string' } }, strict: true });
const quick = values.quick ?? false;
const CASES = ([
  { name: 'overfit', model: 'overfit', batch: TRAIN_PRESETS.overfit.batchSize, ctx: TRAIN_PRESETS.overfit.ctx, steps: quick ? 3 : 10 },
  { name: 'tinystories', model: 'tinystories', batch: TRAIN_PRESETS.tinystories.batchSize, ctx: TRAIN_PRESETS.tinystories.ctx, steps: quick ? 2 : 5 },
  // the seed's 124M model; T = 256, B = 1 keeps "a few steps" to minutes on 2 cores
  { name: 'gpt2 124M (B=1, T=256)', model: 'gpt2', batch: 1, ctx: 256, steps: quick ? 1 : 2 },
] as Case[]).filter((c) => values.only === undefined || values.only.split(',').some((o) => c.name.startsWith(o)));

/** Model FLOPs of one training token (forward + backward): 6·N + 12·L·C·T, N the parameters that multiply (all but the position embeddings). */
function flopsPerToken(model: GPT2Model, ctx: number): number {
  const { n_layers, d_model, n_ctx } = model.cfg;
  const params = model.parameters().reduce((n, p) => n + p.size, 0) - n_ctx * d_model;
  return 6 * params + 12 * n_layers * d_model * ctx;
}

/** GFLOP/s of the backend's matmul: the best of a 1024³ GEMM and the case's lm head x·Wᵀ ([B·T, C]·[V, C]ᵀ), each over a few calls after a warm-up. */
async function gemmPeak(be: Backend, c: Case): Promise<number> {
  const { d_model, vocab_size } = makeConfig({}, c.model);
  const shapes = [[1024, 1024, 1024, false], [c.batch * c.ctx, d_model, vocab_size, true]] as const;
  let best = 0;
  for (const [m, k, n, transB] of shapes) {
    const rng = new Rng(1);
    const a = be.fromHost(Float32Array.from({ length: m * k }, () => rng.normal()));
    const b = be.fromHost(Float32Array.from({ length: k * n }, () => rng.normal()));
    const p = matmulParams(m, k, n, { transB, aBatched: true, bBatched: true });
    const call = () => be.toHostAsync(be.matmul(a, b, p));
    await call();
    const calls = quick ? 2 : 5;
    // the cpu backend counts the ms its kernels compute (copies into and out of wasm memory apart): the GEMM's own peak
    const stats = (be as Partial<CpuBackend>).stats;
    const t0 = stats?.compute ?? performance.now();
    for (let i = 0; i < calls; i++) await call();
    const ms = (stats?.compute ?? performance.now()) - t0;
    best = Math.max(best, (2 * m * k * n * calls) / (ms / 1000) / 1e9);
  }
  return best;
}

function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/**
 * tsgrad: forward + backward + AdamW on one random batch, after one warm-up step, each step
 * inside the backend's memory pool (reuseMemory) as in the training loop (src/train/loop.ts).
 */
async function timeTsgrad(c: Case): Promise<Timing & { flops_per_token: number }> {
  const model = new GPT2Model(makeConfig({ dropout: 0 }, c.model), { seed: 0 });
  const params = model.parameters();
  const opt = new AdamW(
    [
      { params: params.filter((p) => p.ndim >= 2), weightDecay: 0.1 },
      { params: params.filter((p) => p.ndim < 2), weightDecay: 0 },
    ],
    { lr: 1e-3 },
  );
  const rng = new Rng(0);
  const n = c.batch * c.ctx;
  const x = Int32Array.from({ length: n }, () => rng.int(model.cfg.vocab_size));
  const y = Int32Array.from({ length: n }, () => rng.int(model.cfg.vocab_size));
  const step = () =>
    reuseMemory(backend, async () => {
      const loss = model.loss(x, [c.batch, c.ctx], y);
      loss.backward();
      opt.step();
      opt.zeroGrad();
      return (await loss.toArray())[0];
    }, () => [...params, ...stateTensors(opt)]);
  await step(); // warm-up: wasm tiers up, buffers are allocated
  const t0 = performance.now();
  for (let i = 0; i < c.steps; i++) await step();
  const ms = (performance.now() - t0) / c.steps;
  releaseMemory(backend);
  return { ms_per_step: ms, tokens_per_s: n / (ms / 1000), peak_rss_mb: peakRssMb(), flops_per_token: flopsPerToken(model, c.ctx) };
}

/** PyTorch on the same model and batch and as many threads, or null (with the reason printed) if it cannot run. */
function timeTorch(c: Case, threads: number): TorchTiming | null {
  const cfg = makeConfig({}, c.model);
  const config = { n_layers: cfg.n_layers, d_model: cfg.d_model, n_heads: cfg.n_heads, vocab_size: cfg.vocab_size, n_ctx: cfg.n_ctx, batch: c.batch, ctx: c.ctx, steps: c.steps };
  const r = spawnSync('/usr/bin/python3', ['bench/torch_train.py', '--config', JSON.stringify(config), '--threads', String(threads)], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    console.log(`  PyTorch not run for ${c.name}: ${r.error?.message ?? r.stderr.trim().split('\n').pop()} (install Debian's python3-torch and libopenblas0-pthread)`);
    return null;
  }
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as TorchTiming;
}

let backend = await useBackend(values.backend!);
const threadCounts = backend.name === 'cpu' ? [cpus().length, 1] : [null];
console.log(`bench:train on ${cpus()[0].model} (${cpus().length} cores), node ${process.version}, backend ${backend.name}, ${new Date().toISOString()}`);
const rows: string[] = [];
for (const c of CASES) {
  for (const threads of threadCounts) {
    // the cpu backend at one thread is a second instance: its own wasm memory and no workers
    if (threads !== null) backend = await setBackend(threads === cpus().length ? await createCpuBackend(nodeThreads) : await createCpuBackend(nodeThreads, { threads }));
    const p = timeTorch(c, threads ?? cpus().length);
    const t = await timeTsgrad(c);
    const peak = await gemmPeak(backend, c);
    const gflops = (t.tokens_per_s * t.flops_per_token) / 1e9;
    const torchGflops = p === null ? 0 : (p.tokens_per_s * t.flops_per_token) / 1e9;
    const na = 'n/a';
    rows.push(
      `| ${c.name} | ${c.batch}×${c.ctx} | ${threads ?? na} | ${t.tokens_per_s.toFixed(0)} | ${t.ms_per_step.toFixed(0)} | ${t.peak_rss_mb.toFixed(0)} | ` +
        `${gflops.toFixed(1)} | ${peak.toFixed(1)} | ${((100 * gflops) / peak).toFixed(0)}% | ` +
        (p === null
          ? `${na} | ${na} | ${na} | ${na} | ${na} |`
          : `${p.tokens_per_s.toFixed(0)} | ${p.ms_per_step.toFixed(0)} | ${p.gemm_gflops.toFixed(1)} | ${((100 * torchGflops) / p.gemm_gflops).toFixed(0)}% | ${(t.tokens_per_s / p.tokens_per_s).toFixed(2)} |`),
    );
    console.log(rows[rows.length - 1]);
  }
}
console.log(
  [
    '',
    '| preset | B×T | threads | tsgrad tok/s | tsgrad ms/step | tsgrad peak RSS MB | model GFLOP/s | GEMM peak GFLOP/s | MFU | PyTorch tok/s | PyTorch ms/step | PyTorch GEMM peak GFLOP/s | PyTorch MFU | tsgrad/PyTorch |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n'),
);
