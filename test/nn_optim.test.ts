// Optimizers, gradient clipping and schedules against updates computed independently here
// with plain float64 JS loops following PyTorch's documented algorithms (torch.optim.AdamW,
// torch.optim.SGD, clip_grad_norm_, nanoGPT's get_lr) and Keller Jordan's Muon (its reference
// PyTorch code: Nesterov momentum, Newton–Schulz with coefficients 3.4445, −4.7750, 2.0315). Tolerances are a few times the error
// observed here, so a missing term fails (AdamW's weight decay alone moves a parameter by
// lr·wd·|p| ≈ 1e-4·|p| per step at lr 1e-3, wd 0.1):
//   float64 params: |Δ| ≤ 1e-15·(1 + |p|) — observed: bit-identical; the bound allows a few ulps
//     of reordered arithmetic;
//   float32 params: |Δ| ≤ 2e-7 — observed 6.2e-8 over 3 steps of O(1) values (one ulp is 6e-8).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Rng, tensor, type Tensor } from '../src/autograd/index.ts';
import { AdamW, clipGradNorm, learningRate, Muon, SGD } from '../src/nn/index.ts';
import { assertClose } from './helpers/gradcheck.ts';
import { property, seedArb } from './helpers/arbitraries.ts';

/** Random numbers for params and per-step grads. */
function randomArray(n: number, rng: Rng, scale = 1): number[] {
  return Array.from({ length: n }, () => scale * rng.normal());
}

interface AdamHp {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  wd: number;
}

/** torch.optim.AdamW, one parameter, written out: decoupled decay, then bias-corrected Adam. */
class RefAdamW {
  m: number[];
  v: number[];
  t = 0;
  constructor(
    public p: number[],
    readonly hp: AdamHp,
  ) {
    this.m = p.map(() => 0);
    this.v = p.map(() => 0);
  }
  step(g: number[]): void {
    const { lr, beta1, beta2, eps, wd } = this.hp;
    this.t += 1;
    for (let i = 0; i < this.p.length; i++) {
      this.p[i] = this.p[i] * (1 - lr * wd);
      this.m[i] = beta1 * this.m[i] + (1 - beta1) * g[i];
      this.v[i] = beta2 * this.v[i] + (1 - beta2) * g[i] * g[i];
      const mHat = this.m[i] / (1 - Math.pow(beta1, this.t));
      const vHat = this.v[i] / (1 - Math.pow(beta2, this.t));
      this.p[i] = this.p[i] - (lr * mHat) / (Math.sqrt(vHat) + eps);
    }
  }
}

const f64 = (v: number[]) => tensor(v, { dtype: 'float64', requiresGrad: true });
const setGrad = (p: Tensor, g: number[]) => (p.grad = tensor(g, { dtype: p.dtype, shape: p.shape }));

describe('AdamW', () => {
  property(
    'matches hand-computed PyTorch AdamW over 5 steps (weight decay, bias correction, two param groups)',
    fc.record({
      seed: seedArb,
      lr: fc.constantFrom(1e-3, 6e-4, 0.1),
      beta1: fc.constantFrom(0.9, 0.8),
      beta2: fc.constantFrom(0.999, 0.95),
      eps: fc.constantFrom(1e-8, 1e-6),
      wdA: fc.constantFrom(0.1, 0.01),
      wdB: fc.constantFrom(0, 0.5),
    }),
    ({ seed, lr, beta1, beta2, eps, wdA, wdB }) => {
      const rng = new Rng(seed);
      const a0 = randomArray(6, rng);
      const b0 = randomArray(3, rng);
      const a = f64(a0);
      const b = f64(b0);
      const opt = new AdamW([{ params: [a], weightDecay: wdA }, { params: [b], weightDecay: wdB }], { lr, betas: [beta1, beta2], eps });
      const refA = new RefAdamW([...a0], { lr, beta1, beta2, eps, wd: wdA });
      const refB = new RefAdamW([...b0], { lr, beta1, beta2, eps, wd: wdB });
      for (let step = 0; step < 5; step++) {
        const ga = randomArray(6, rng);
        const gb = randomArray(3, rng, 0.01); // tiny grads: the eps and bias-correction terms matter
        setGrad(a, ga);
        setGrad(b, gb);
        opt.step();
        refA.step(ga);
        refB.step(gb);
        assertClose(a.data, refA.p, { atol: 1e-15, rtol: 1e-15, what: `group 0 after step ${step + 1}` });
        assertClose(b.data, refB.p, { atol: 1e-15, rtol: 1e-15, what: `group 1 after step ${step + 1}` });
      }
    },
    80,
  );

  test('float32 params follow the float64 reference within 2e-7 over 3 steps', () => {
    const rng = new Rng(3);
    const p0 = randomArray(8, rng);
    const p = tensor(p0, { requiresGrad: true });
    const opt = new AdamW([p], { lr: 0.01, weightDecay: 0.1 });
    const ref = new RefAdamW(Array.from(p.data), { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0.1 });
    for (let s = 0; s < 3; s++) {
      const g = Array.from(Float32Array.from(randomArray(8, rng)));
      setGrad(p, g);
      opt.step();
      ref.step(g);
    }
    assertClose(p.data, ref.p, { atol: 2e-7, rtol: 0, what: 'float32 AdamW' }); // observed 6.2e-8
  });

  test('on the reference backend a step replaces the parameter\'s numbers and its moments, never writing into the old arrays', () => {
    const p = tensor([1, -2, 3], { requiresGrad: true });
    const opt = new AdamW([p], { lr: 0.1 });
    const before = p.storage;
    const view = p.data; // a tensor's numbers as read before the step
    p.grad = tensor([0.5, 0.5, -1]);
    opt.step();
    const m1 = opt.state.get(p)!.m;
    const m1Numbers = [...m1.data];
    p.grad = tensor([1, 1, 1]);
    opt.step();
    assert.notEqual(p.storage, before);
    assert.deepEqual([...view], [1, -2, 3], 'the old numbers are untouched');
    assert.deepEqual([...m1.data], m1Numbers, 'the first step\'s moments are untouched by the second');
  });

  test('PyTorch defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01', () => {
    const opt = new AdamW([f64([1])]);
    assert.deepEqual({ ...opt.groups[0], params: undefined }, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, params: undefined });
  });

  test('a parameter without a gradient is left alone; setLr sets every group', () => {
    const a = f64([1, 2]);
    const b = f64([3]);
    const opt = new AdamW([{ params: [a] }, { params: [b], lr: 0.5 }], { lr: 0.1 });
    setGrad(a, [1, 1]);
    opt.step();
    assert.deepEqual(Array.from(b.data), [3]);
    opt.setLr(0.02);
    assert.deepEqual(
      opt.groups.map((g) => g.lr),
      [0.02, 0.02],
    );
  });

  test('per-parameter step count (PyTorch): a parameter first updated at step 2 uses bias correction of step 1', () => {
    const a = f64([1]);
    const b = f64([1]);
    const opt = new AdamW([a, b], { lr: 0.1, weightDecay: 0 });
    setGrad(a, [1]);
    opt.step(); // b has no grad yet
    setGrad(a, [1]);
    setGrad(b, [0.5]);
    opt.step();
    const refB = new RefAdamW([1], { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0 });
    refB.step([0.5]); // b's first update
    assertClose(b.data, refB.p, { atol: 1e-15, rtol: 1e-15, what: 'late parameter' });
  });

  test('stateDict / loadStateDict: a resumed optimizer continues exactly', async () => {
    const rng = new Rng(11);
    const p0 = randomArray(4, rng);
    const grads = [0, 1, 2, 3].map(() => randomArray(4, rng));
    const run = async (split: boolean) => {
      let p = f64([...p0]);
      let opt = new AdamW([p], { lr: 0.05 });
      for (let s = 0; s < 4; s++) {
        if (split && s === 2) {
          const sd = await opt.stateDict();
          const q = f64(Array.from(p.data));
          opt = new AdamW([q], { lr: 0.05 });
          opt.loadStateDict(sd);
          p = q;
        }
        setGrad(p, grads[s]);
        opt.step();
      }
      return Array.from(p.data);
    };
    // moments are saved as float32, so a resumed float64 run agrees to float32 precision: observed 1.5e-9
    assertClose(await run(true), await run(false), { atol: 5e-9, rtol: 0, what: 'resumed vs uninterrupted' });
  });
});

// ---- Muon ------------------------------------------------------------------------------

type Mat = number[][];
const matmulRef = (a: Mat, b: Mat): Mat => a.map((row) => b[0].map((_, j) => row.reduce((s, v, l) => s + v * b[l][j], 0)));
const transposeRef = (a: Mat): Mat => a[0].map((_, j) => a.map((row) => row[j]));
const mapRef = (a: Mat, b: Mat, f: (x: number, y: number) => number): Mat => a.map((row, i) => row.map((v, j) => f(v, b[i][j])));

/** Muon's reference: zeropower_via_newtonschulz5 (X/‖X‖, five quintic steps on the wide orientation). */
function newtonSchulzRef(G: Mat): Mat {
  const [a, b, c] = [3.4445, -4.775, 2.0315];
  const tall = G.length > G[0].length;
  let X = tall ? transposeRef(G) : G;
  const norm = Math.sqrt(X.flat().reduce((s, v) => s + v * v, 0));
  X = X.map((row) => row.map((v) => v / (norm + 1e-7)));
  for (let i = 0; i < 5; i++) {
    const A = matmulRef(X, transposeRef(X));
    const B = mapRef(A, matmulRef(A, A), (x, y) => b * x + c * y);
    X = mapRef(X, matmulRef(B, X), (x, y) => a * x + y);
  }
  return tall ? transposeRef(X) : X;
}

/** Muon on one matrix [out, in]: buf ← μ·buf + g; W ← W − lr·√max(1, out/in)·NS5(g + μ·buf). */
function refMuon(W: Mat, grads: Mat[], lr: number, mu: number): Mat {
  let buf: Mat | null = null;
  for (const g of grads) {
    buf = buf === null ? g : mapRef(buf, g, (b, x) => mu * b + x);
    const O = newtonSchulzRef(mapRef(g, buf, (x, b) => x + mu * b));
    const scale = lr * Math.sqrt(Math.max(1, W.length / W[0].length));
    W = mapRef(W, O, (w, o) => w - scale * o);
  }
  return W;
}

const f64Mat = (m: Mat) => tensor(m.flat(), { dtype: 'float64', shape: [m.length, m[0].length], requiresGrad: true });
const randomMat = (r: number, c: number, rng: Rng): Mat => Array.from({ length: r }, () => randomArray(c, rng));

describe('Muon', () => {
  property(
    'matches hand-computed Muon over 4 steps on tall, wide and square matrices, with AdamW on the other parameters',
    fc.record({ seed: seedArb, rows: fc.integer({ min: 1, max: 7 }), cols: fc.integer({ min: 1, max: 7 }), lr: fc.constantFrom(0.02, 0.1), mu: fc.constantFrom(0.95, 0.8) }),
    ({ seed, rows, cols, lr, mu }) => {
      const rng = new Rng(seed);
      const W0 = randomMat(rows, cols, rng);
      const b0 = randomArray(3, rng);
      const W = f64Mat(W0);
      const b = f64(b0);
      const opt = new Muon([W], new AdamW([b], { lr: 1e-3, weightDecay: 0.1 }), { lr, momentum: mu });
      const refB = new RefAdamW([...b0], { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0.1 });
      const grads = [0, 1, 2, 3].map(() => randomMat(rows, cols, rng));
      for (const g of grads) {
        setGrad(W, g.flat());
        const gb = randomArray(3, rng);
        setGrad(b, gb);
        opt.step();
        refB.step(gb);
      }
      // observed: within 1e-15 (the tensor ops do the reference's arithmetic in its order); the bound
      // allows reordered sums, amplified by five Newton–Schulz steps
      assertClose(W.data, refMuon(W0, grads, lr, mu).flat(), { atol: 1e-12, rtol: 1e-12, what: `Muon [${rows}, ${cols}] lr ${lr} μ ${mu}` });
      assertClose(b.data, refB.p, { atol: 1e-15, rtol: 1e-15, what: 'the AdamW parameter beside it' });
    },
    60,
  );

  test('setLr sets AdamW\'s lr and scales the matrices\' lr with it; a matrix without a gradient is left alone', () => {
    const W = f64Mat([[1, 2], [3, 4]]);
    const V = f64Mat([[1, 0], [0, 1]]);
    const b = f64([1, 2]);
    const adamw = new AdamW([b], { lr: 1e-3 });
    const opt = new Muon([W, V], adamw, { lr: 0.02 });
    opt.setLr(5e-4);
    assert.equal(adamw.groups[0].lr, 5e-4);
    assert.ok(Math.abs(opt.opts.lr - 0.01) < 1e-15, `${opt.opts.lr}`);
    setGrad(W, [1, 0, 0, 1]);
    opt.step();
    assert.deepEqual(Array.from(V.data), [1, 0, 0, 1]);
    assert.notDeepEqual(Array.from(W.data), [1, 2, 3, 4]);
  });

  test('stateDict / loadStateDict: a resumed Muon continues exactly; bad parameters and AdamW lr 0 are refused', async () => {
    const rng = new Rng(12);
    const W0 = randomMat(3, 5, rng);
    const grads = [0, 1, 2, 3].map(() => randomMat(3, 5, rng));
    const run = async (split: boolean) => {
      let W = f64Mat(W0);
      let opt = new Muon([W], new AdamW([f64([0])], { lr: 1e-3 }), { lr: 0.05 });
      for (let s = 0; s < 4; s++) {
        if (split && s === 2) {
          const sd = await opt.stateDict();
          const Q = f64Mat(Array.from({ length: 3 }, (_, i) => Array.from(W.data.slice(i * 5, i * 5 + 5))));
          opt = new Muon([Q], new AdamW([f64([0])], { lr: 1e-3 }), { lr: 0.05 });
          opt.loadStateDict(sd);
          W = Q;
        }
        setGrad(W, grads[s].flat());
        opt.step();
      }
      return Array.from(W.data);
    };
    // momentum is saved as float32, so a resumed float64 run agrees to float32 precision
    assertClose(await run(true), await run(false), { atol: 1e-7, rtol: 0, what: 'resumed vs uninterrupted' });
    assert.throws(() => new Muon([f64([1, 2])], new AdamW([f64([0])])), /Muon: every parameter must be a matrix, got shape \[2\]/);
    assert.throws(() => new Muon([f64Mat([[1]])], new AdamW([f64([0])], { lr: 0 })), /AdamW's lr must be above 0/);
  });
});

// ---- SGD -------------------------------------------------------------------------------

/** torch.optim.SGD (dampening 0, no nesterov), one parameter. */
function refSgd(p: number[], grads: number[][], lr: number, momentum: number, wd: number): number[] {
  let buf: number[] | null = null;
  for (const g0 of grads) {
    const g = g0.map((g, i) => g + wd * p[i]);
    let d = g;
    if (momentum !== 0) {
      buf = buf === null ? [...g] : buf.map((b, i) => momentum * b + g[i]);
      d = buf;
    }
    p = p.map((v, i) => v - lr * d[i]);
  }
  return p;
}

describe('SGD', () => {
  property(
    'matches hand-computed PyTorch SGD over 4 steps, with and without momentum and weight decay',
    fc.record({ seed: seedArb, lr: fc.constantFrom(0.1, 0.01), momentum: fc.constantFrom(0, 0.9), wd: fc.constantFrom(0, 0.05) }),
    ({ seed, lr, momentum, wd }) => {
      const rng = new Rng(seed);
      const p0 = randomArray(5, rng);
      const grads = [0, 1, 2, 3].map(() => randomArray(5, rng));
      const p = f64(p0);
      const opt = new SGD([p], { lr, momentum, weightDecay: wd });
      grads.forEach((g) => {
        setGrad(p, g);
        opt.step();
      });
      assertClose(p.data, refSgd(p0, grads, lr, momentum, wd), { atol: 1e-15, rtol: 1e-15, what: `SGD lr ${lr} momentum ${momentum} wd ${wd}` }); // observed: bit-identical
    },
    80,
  );

  test('an SGD step moves a parameter against its gradient (a real backward)', () => {
    const w = f64([2, -1]);
    const opt = new SGD([w], { lr: 0.25 });
    w.mul(w).sum().backward(); // grad 2w
    opt.step();
    assert.deepEqual(Array.from(w.data), [1, -0.5]);
    opt.zeroGrad();
    assert.equal(w.grad, null);
  });
});

// ---- clipGradNorm ------------------------------------------------------------------------

describe('clipGradNorm', () => {
  property(
    'returns the global L2 norm; scales by max/(norm+1e-6) when above, leaves grads untouched when below',
    fc.record({ seed: seedArb, maxNorm: fc.constantFrom(0.1, 1, 5, 100) }),
    ({ seed, maxNorm }) => {
      const rng = new Rng(seed);
      const gs = [randomArray(3, rng), randomArray(4, rng, 2)];
      const ps = gs.map((g) => f64(g.map(() => 0)));
      ps.forEach((p, i) => setGrad(p, gs[i]));
      const noGradParam = f64([1]); // grad null: ignored
      const expectedNorm = Math.sqrt(gs.flat().reduce((s, g) => s + g * g, 0));
      const norm = clipGradNorm([...ps, noGradParam], maxNorm);
      assert.deepEqual(norm.shape, []);
      assert.ok(Math.abs(norm.item() - expectedNorm) <= 1e-15 * expectedNorm, `norm ${norm.item()} vs ${expectedNorm}`); // observed 2.6e-16 relative
      const scale = expectedNorm > maxNorm ? maxNorm / (expectedNorm + 1e-6) : 1;
      ps.forEach((p, i) => assertClose(p.grad!.data, gs[i].map((g) => g * scale), { atol: 0, rtol: 1e-15, what: `grad ${i}` })); // observed 3.6e-16 relative
      if (scale === 1) ps.forEach((p, i) => assert.deepEqual(Array.from(p.grad!.data), gs[i])); // exactly untouched
      assert.equal(noGradParam.grad, null);
      // after clipping above the limit the new norm is max·norm/(norm+1e-6) ≤ max
      const after = Math.sqrt(ps.flatMap((p) => Array.from(p.grad!.data)).reduce((s, g) => s + g * g, 0));
      assert.ok(after <= maxNorm * (1 + 1e-15));
    },
    100,
  );

  test('no gradients at all: norm 0', () => {
    assert.equal(clipGradNorm([f64([1])], 1).item(), 0);
  });
});

// ---- learning-rate schedules -------------------------------------------------------------

describe('learningRate', () => {
  const o = { lr: 6e-4, minLr: 6e-5, warmup: 10, steps: 100 };

  test('cosine endpoints: warmup start lr/(warmup+1), full lr at warmup end, minLr at steps and after', () => {
    assert.equal(learningRate('cosine', 0, o), o.lr / (o.warmup + 1));
    assert.equal(learningRate('cosine', o.warmup - 1, o), (o.lr * o.warmup) / (o.warmup + 1));
    assert.equal(learningRate('cosine', o.warmup, o), o.lr);
    // observed: 5.4e-20 (one ulp of 3.3e-4) and exact
    assert.ok(Math.abs(learningRate('cosine', 55, o) - (o.lr + o.minLr) / 2) <= 2e-19, 'halfway through decay: the mean');
    assert.equal(learningRate('cosine', o.steps, o), o.minLr);
    assert.equal(learningRate('cosine', o.steps + 50, o), o.minLr);
  });

  test('cosine: increasing during warmup, non-increasing after, always within [minLr, lr]', () => {
    let prev = 0;
    for (let s = 0; s <= 120; s++) {
      const lr = learningRate('cosine', s, o);
      assert.ok(lr > 0 && lr <= o.lr + 1e-18);
      if (s <= o.warmup) assert.ok(lr > prev, `step ${s}`);
      else {
        assert.ok(lr <= prev + 1e-18, `step ${s}`);
        assert.ok(lr >= o.minLr - 1e-18);
      }
      prev = lr;
    }
  });

  test('constant is constant', () => {
    for (const s of [0, 5, 10, 1000]) assert.equal(learningRate('constant', s, o), o.lr);
  });
});
