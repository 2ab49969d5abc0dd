// Kernel microbenchmarks: every hot kernel in GPT-2 training shapes, on every backend that
// loads here, timed with tinybench and mitata; PyTorch (2 threads) on the same matmul and
// softmax shapes when it is installed. Prints a Markdown table and writes bench/RESULTS.md.
//
//   npx tsx bench/kernels.ts            full run (a few minutes)
//   npx tsx bench/kernels.ts --quick    short run: fewer shapes and samples
//   options: --backends=js,cpu   --no-torch   --out=bench/RESULTS.md
//
// Throughput: matmul and attention in GFLOP/s (2·m·n·k; causal attention counts the visible
// half), memory-bound kernels in GB/s of bytes read + written once. Every timing includes
// what a caller pays: copying into the backend's memory, the kernel, a fresh output array.
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { measure } from 'mitata';
import { isHost, matmulParams, type Backend, type Storage } from '../src/autograd/backend.ts';
import { referenceBackend, registeredBackends, setBackend } from '../src/autograd/backends/registry.ts';
import { composedKernels } from '../src/autograd/composed.ts';
import { MUON_NEWTON_SCHULZ } from '../src/nn/optim/muon.ts';
import '../src/autograd/backends/available.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const noTorch = args.includes('--no-torch');
const only = args.find((a) => a.startsWith('--backends='))?.slice('--backends='.length).split(',');
const here = path.dirname(fileURLToPath(import.meta.url));
/** A case whose first call takes longer than this is skipped on that backend (a slow backend must not stall the run). */
const SLOW_MS = quick ? 5000 : 8000;
const outFile = args.find((a) => a.startsWith('--out='))?.slice('--out='.length) ?? path.join(here, 'RESULTS.md');

// ---- the cases -------------------------------------------------------------------------------

/** Deterministic uniform [−s, s) floats (a tiny LCG: benchmarks only need "not all zero"). */
function rand(n: number, s = 1, seed = 1): Float32Array {
  const a = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    a[i] = ((x / 4294967296) * 2 - 1) * s;
  }
  return a;
}

interface Case {
  kernel: string;
  shape: string;
  /** FLOPs (compute-bound kernels) or bytes moved (memory-bound kernels) per call. */
  work: number;
  unit: 'GFLOP/s' | 'GB/s';
  /** Small enough for the plain-loop reference backend. */
  jsOk: boolean;
  /** The PyTorch equivalent, when bench/torch_kernels.py knows it. */
  torch?: Record<string, unknown>;
  /** Prepares inputs on backend `be` and returns the timed call. */
  make(be: Backend): () => Storage | Storage[];
}

const BT = 512; // B·T rows of a GPT-2 training step (B = 4, T = 128)
const C = 768; // GPT-2 small width
const V = 50257; // GPT-2 vocabulary

function matmulCase(label: string, m: number, k: number, n: number, transA = false, transB = false): Case {
  const p = matmulParams(m, k, n, { transA, transB, aBatched: true, bBatched: true });
  const flops = 2 * m * n * k;
  return {
    kernel: `matmul ${label}`,
    shape: `${transA ? `[${k},${m}]ᵀ` : `[${m},${k}]`}·${transB ? `[${n},${k}]ᵀ` : `[${k},${n}]`}`,
    work: flops,
    unit: 'GFLOP/s',
    jsOk: flops <= 1e9,
    torch: { kind: 'matmul', m, k, n, transA, transB },
    make: (be) => {
      const a = be.fromHost(rand(m * k));
      const b = be.fromHost(rand(k * n, 1, 2));
      return () => be.matmul(a, b, p);
    },
  };
}

function cases(): Case[] {
  const list: Case[] = [
    matmulCase('square', 1024, 1024, 1024),
    matmulCase('qkv', BT, C, 3 * C),
    matmulCase('attn proj', BT, C, C),
    matmulCase('mlp fc', BT, C, 4 * C),
    matmulCase('mlp proj', BT, 4 * C, C),
    matmulCase('mlp fc dX=dY·Wᵀ', BT, 4 * C, C, false, true),
    matmulCase('mlp fc dW=Xᵀ·dY', C, BT, 4 * C, true, false),
    matmulCase('lm head fwd x·Wᵀ', BT, C, V, false, true),
    matmulCase('lm head dX=dL·W', BT, V, C),
    matmulCase('lm head dW=dLᵀ·x', V, BT, C, true, false),
  ];
  const rows = quick ? 256 : 1024;
  const vocabRows = (kernel: string, bytesPer: number, torch: string | null, make: Case['make']): Case => ({
    kernel, shape: `[${rows},${V}]`, work: bytesPer * rows * V * 4, unit: 'GB/s', jsOk: false,
    torch: torch ? { kind: torch, rows, cols: V } : undefined, make,
  });
  list.push(
    vocabRows('softmax', 2, 'softmax', (be) => {
      const x = be.fromHost(rand(rows * V, 10));
      return () => be.softmax({ x, rows, cols: V });
    }),
    vocabRows('crossEntropy', 1, 'crossEntropy', (be) => {
      const x = be.fromHost(rand(rows * V, 10));
      const t = Int32Array.from({ length: rows }, (_, i) => (i * 7919) % V);
      return () => { const r = be.crossEntropy({ logits: x, targets: t, rows, cols: V, ignoreIndex: -100 }); return [r.loss, r.lse]; };
    }),
    vocabRows('crossEntropyBackward', 2, null, (be) => {
      const xh = rand(rows * V, 10);
      const t = Int32Array.from({ length: rows }, (_, i) => (i * 7919) % V);
      const x = be.fromHost(xh);
      const { lse } = referenceBackend.crossEntropy({ logits: xh, targets: t, rows, cols: V, ignoreIndex: -100 });
      const l = be.fromHost(lse as Float32Array);
      const dl = be.fromHost(new Float32Array(rows).fill(1 / rows));
      return () => be.crossEntropyBackward({ logits: x, lse: l, dloss: dl, targets: t, rows, cols: V, ignoreIndex: -100 });
    }),
  );
  const ln = (bw: boolean): Case => ({
    kernel: bw ? 'layerNormBackward' : 'layerNorm', shape: `[${BT},${C}]`, work: (bw ? 3 : 2) * BT * C * 4, unit: 'GB/s', jsOk: true,
    make: (be) => {
      const x = rand(BT * C, 3), w = rand(C, 1, 2), b = rand(C, 1, 3);
      const f = referenceBackend.layerNorm({ x, weight: w, bias: b, rows: BT, cols: C, eps: 1e-5 });
      const [X, W, B, M, R, DY] = [x, w, b, f.mean as Float32Array, f.rstd as Float32Array, rand(BT * C, 1, 4)].map((a) => be.fromHost(a));
      return bw ? () => { const r = be.layerNormBackward({ dy: DY, x: X, weight: W, mean: M, rstd: R, rows: BT, cols: C }); return [r.dx, r.dweight, r.dbias]; }
        : () => { const r = be.layerNorm({ x: X, weight: W, bias: B, rows: BT, cols: C, eps: 1e-5 }); return [r.y, r.mean, r.rstd]; };
    },
  });
  list.push(ln(false), ln(true));
  const attn = (BH: number, T: number, D: number, bw: boolean): Case => {
    const p = { BH, Tq: T, Tk: T, D, scale: 1 / Math.sqrt(D) };
    const causal = BH * T * T * D; // one [T,T]·[T,D]-sized product over the visible (causal) half: ½·2·T²·D
    return {
      kernel: bw ? 'attentionBackward' : 'attention', shape: `BH=${BH} T=${T} D=${D}`, work: (bw ? 5 : 2) * causal, unit: 'GFLOP/s',
      jsOk: T <= 128,
      make: (be) => {
        const q = rand(BH * T * D, 1, 1), k = rand(BH * T * D, 1, 2), v = rand(BH * T * D, 1, 3);
        const f = referenceBackend.attention({ q, k, v, ...p });
        const [Q, K, Vv, O, L, DO] = [q, k, v, f.out as Float32Array, f.lse as Float32Array, rand(BH * T * D, 1, 4)].map((a) => be.fromHost(a));
        return bw ? () => { const r = be.attentionBackward({ dout: DO, q: Q, k: K, v: Vv, out: O, lse: L, ...p }); return [r.dq, r.dk, r.dv]; }
          : () => { const r = be.attention({ q: Q, k: K, v: Vv, ...p }); return [r.out, r.lse]; };
      },
    };
  };
  list.push(attn(48, 128, 64, false), attn(48, 128, 64, true));
  if (!quick) list.push(attn(12, 1024, 64, false), attn(12, 1024, 64, true));
  const n = BT * 4 * C;
  list.push(
    { kernel: 'gelu', shape: `[${BT},${4 * C}]`, work: 2 * n * 4, unit: 'GB/s', jsOk: true,
      make: (be) => { const x = be.fromHost(rand(n, 4)); return () => be.unary('gelu', x); } },
    { kernel: 'gelu_grad', shape: `[${BT},${4 * C}]`, work: 2 * n * 4, unit: 'GB/s', jsOk: true,
      make: (be) => { const x = be.fromHost(rand(n, 4)); return () => be.unary('gelu_grad', x); } },
  );
  const P = quick ? 1 << 20 : 10_000_000;
  list.push({
    kernel: 'adamw', shape: `${P} params`, work: 7 * P * 4, unit: 'GB/s', jsOk: true,
    make: (be) => {
      const [p, g, m, v] = [rand(P), rand(P, 1, 2), new Float32Array(P), new Float32Array(P)].map((a) => be.fromHost(a));
      let step = 0;
      return () => { const r = be.adamw({ param: p, grad: g, m, v, lr: 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: ++step }); return [r.param, r.m, r.v]; };
    },
  });
  // Muon's Newton–Schulz on the 10-minute tier's MLP weight [768, 192] (tall: A is [192, 192]),
  // beside its composed default on the same backend's primitives (the same-run baseline)
  const ns = (composed: boolean): Case => {
    const [rows, cols] = [768, 192];
    const [s, l] = [Math.min(rows, cols), Math.max(rows, cols)];
    return {
      kernel: composed ? 'newtonSchulz, composed' : 'newtonSchulz', shape: `[${rows},${cols}] ×5`, work: 5 * (4 * s * s * l + 2 * s * s * s), unit: 'GFLOP/s',
      jsOk: !composed, // on js the kernel is the composed default
      make: (be) => {
        const x = be.fromHost(rand(rows * cols));
        const k = composed ? composedKernels(() => be) : be;
        return () => k.newtonSchulz({ x, rows, cols, ...MUON_NEWTON_SCHULZ });
      },
    };
  };
  list.push(ns(false), ns(true));
  if (quick) return list.filter((c) => !/attn proj|mlp proj|mlp fc dX|qkv/.test(c.kernel));
  return list;
}

// ---- timing ------------------------------------------------------------------------------------

interface Row {
  c: Case;
  backend: string;
  tinyMs: number;
  mitataMs: number;
  /** Mean ms inside the kernels alone (backends that report it: cpu), without copies and allocation. */
  kernelMs?: number;
}

type Stats = { copyIn: number; copyOut: number; compute: number };

/** Waits for device backends (host results are already there). */
async function settle(be: Backend, out: Storage | Storage[]): Promise<void> {
  for (const s of Array.isArray(out) ? out : [out]) if (!isHost(s)) await be.toHostAsync(s);
}

async function time(be: Backend, c: Case, firstCall: (ms: number) => void): Promise<{ tinyMs: number; mitataMs: number; kernelMs?: number }> {
  const run = c.make(be);
  let calls = 0;
  const call = async () => {
    calls++;
    await settle(be, run());
  };
  const first = performance.now();
  await call(); // first call: compile / warm caches, not timed
  const firstMs = performance.now() - first;
  firstCall(firstMs);
  if (firstMs > SLOW_MS) throw new Error(`skipped: one call took ${(firstMs / 1000).toFixed(1)} s (limit ${SLOW_MS / 1000} s)`);
  const stats = (be as Backend & { stats?: Stats }).stats;
  const compute0 = stats?.compute ?? 0;
  calls = 0;
  // tinybench: a time budget per task, median latency
  // slow cases (slow backends) get the minimum number of samples
  const slow = firstMs > (quick ? 300 : 1000);
  const tb = new Bench({ time: quick ? 200 : 1500, iterations: slow || quick ? 2 : 5, warmupIterations: slow ? 0 : 1, warmupTime: 0, warmup: !slow });
  tb.add(c.kernel, call);
  await tb.run();
  const r = tb.tasks[0].result as { state: string; latency?: { p50: number } };
  if (r.state !== 'completed' || !r.latency) throw new Error(`tinybench: ${r.state}`);
  // mitata: its own sampling, median in ns
  const ms = await measure(call, {
    min_samples: slow || quick ? 2 : 5, max_samples: slow || quick ? 3 : 12, min_cpu_time: (slow || quick ? 100 : 1000) * 1e6, warmup_samples: slow ? 0 : 1,
  });
  return { tinyMs: r.latency.p50, mitataMs: ms.p50 / 1e6, kernelMs: stats ? (stats.compute - compute0) / calls : undefined };
}

function throughput(c: Case, ms: number): number {
  return c.work / (ms * 1e-3) / 1e9;
}

// ---- PyTorch -------------------------------------------------------------------------------------

function torchPython(): string | null {
  for (const py of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return null;
}

function torchTimes(list: Case[]): { ms: Record<string, number>; version: string } | null {
  const py = torchPython();
  if (!py) {
    console.log('PyTorch: not installed (python3 -c "import torch" failed), no ratios');
    return null;
  }
  const spec = list.filter((c) => c.torch).map((c) => ({ name: `${c.kernel} ${c.shape}`, reps: quick ? 3 : 7, ...c.torch }));
  console.log(`PyTorch: timing ${spec.length} cases with ${py} (2 threads)…`);
  const r = spawnSync(py, [path.join(here, 'torch_kernels.py'), '--threads', '2'], { input: JSON.stringify(spec), encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) {
    console.log(`PyTorch: failed (${r.stderr.trim().split('\n').pop()})`);
    return null;
  }
  const out = JSON.parse(r.stdout) as { ms: Record<string, number>; torch_version: string };
  return { ms: out.ms, version: out.torch_version };
}

// ---- main ------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const list = cases();
  const rows: Row[] = [];
  const loadBefore = os.loadavg()[0];
  const names = registeredBackends().filter((n) => !only || only.includes(n));
  const notes: string[] = [];
  for (const name of names) {
    let be: Backend;
    try {
      be = name === 'js' ? referenceBackend : await setBackend(name);
    } catch (e) {
      const why = `backend '${name}' skipped: ${(e as Error).message.split('\n')[0]}`;
      console.log(why);
      notes.push(why);
      continue;
    }
    const extra = be as Backend & { threads?: number; fma?: boolean };
    if (extra.threads !== undefined) notes.push(`backend '${name}': ${extra.threads} threads, FMA ${extra.fma ? 'on (relaxed SIMD)' : 'off'}`);
    // best throughput seen on this backend per kernel family ('matmul', 'attention', …), to skip
    // cases that would take too long on a slow backend without running them
    const rate = new Map<string, number>();
    const family = (c: Case) => c.kernel.split(' ')[0];
    for (const c of list) {
      if (name === 'js' && !c.jsOk) continue;
      const r = rate.get(family(c));
      const guess = r ? (c.work / (r * 1e9)) * 1e3 : 0;
      if (guess > SLOW_MS) {
        console.log(`${name} ${c.kernel}: skipped: would take about ${(guess / 1000).toFixed(0)} s a call at ${r!.toFixed(2)} ${c.unit}`);
        continue;
      }
      try {
        const t = await time(be, c, (ms) => rate.set(family(c), Math.max(rate.get(family(c)) ?? 0, throughput(c, ms))));
        const row = { c, backend: name, ...t };
        rows.push(row);
        console.log(`${name.padEnd(5)} ${c.kernel.padEnd(22)} ${c.shape.padEnd(22)} ${t.tinyMs.toFixed(2).padStart(9)} ms  ${throughput(c, t.tinyMs).toFixed(1).padStart(7)} ${c.unit}`);
      } catch (e) {
        console.log(`${name} ${c.kernel}: failed: ${(e as Error).message}`);
      }
    }
  }
  await setBackend('js');
  const torch = noTorch ? null : torchTimes(list);

  // the table
  const lines = [
    '| kernel | shape | backend | tinybench p50 ms | mitata p50 ms | throughput | kernel-only ms (throughput) | PyTorch ms | PyTorch/tsgrad speed |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const key = `${r.c.kernel} ${r.c.shape}`;
    const tms = torch?.ms[key];
    const best = Math.min(r.tinyMs, r.mitataMs);
    // (a kernel the cpu backend runs in plain JS, like LayerNorm, spends no time in wasm)
    const kernel = r.kernelMs === undefined ? '' : r.kernelMs > 0 ? `${r.kernelMs.toFixed(2)} (${throughput(r.c, r.kernelMs).toFixed(1)})` : 'JS kernel';
    lines.push(`| ${r.c.kernel} | ${r.c.shape} | ${r.backend} | ${r.tinyMs.toFixed(2)} | ${r.mitataMs.toFixed(2)} | ${throughput(r.c, best).toFixed(1)} ${r.c.unit} | ${kernel} | ${tms ? tms.toFixed(2) : ''} | ${tms ? `${(tms / best).toFixed(2)}×` : ''} |`);
  }
  if (torch) {
    for (const c of list.filter((c) => c.torch)) {
      const tms = torch.ms[`${c.kernel} ${c.shape}`];
      if (tms) lines.push(`| ${c.kernel} | ${c.shape} | PyTorch ${torch.version} | ${tms.toFixed(2)} |  | ${throughput(c, tms).toFixed(1)} ${c.unit} |  |  |  |`);
    }
  }
  const header = [
    `# Kernel benchmarks${quick ? ' (--quick)' : ''}`,
    '',
    `- date: ${new Date().toISOString()}`,
    `- CPU: ${os.cpus()[0]?.model ?? 'unknown'} × ${os.cpus().length}; Node ${process.version}; load average ${loadBefore.toFixed(2)} before, ${os.loadavg()[0].toFixed(2)} after`,
    ...notes.map((n) => `- ${n}`),
    '- throughput uses the faster of the two medians; "PyTorch/tsgrad speed" = PyTorch ms / tsgrad ms (1.0 = as fast, ≥ 0.8 is the issue-7 target).',
    '- every time includes copying inputs into the backend and allocating the output (first touch of fresh pages is slow on this machine);',
    '  "kernel-only" is the time inside the cpu backend\'s wasm kernels alone (mean over the tinybench and mitata calls).',
    '',
  ];
  const md = [...header, ...lines, ''].join('\n');
  console.log(`\n${md}`);
  fs.writeFileSync(outFile, md);
  console.log(`wrote ${outFile}`);
}

await main();
