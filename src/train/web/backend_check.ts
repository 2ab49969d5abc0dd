// A backend's fingerprint: numbers that show it computes what the reference does, small enough
// for a browser tab on a software GPU. It runs on the current backend (setBackend first): in
// Node on the reference 'js', and in the page's trainer worker on each backend the browser
// offers; test/web_browser.test.ts compares the two, quantity by quantity.
//   kernels: matmul [24, 40]·[40, 36], softmax [6, 300], layerNorm [12, 64], GELU [2000] and
//            causal attention (q, k, v [2, 4, 16, 16]), each with the gradients of Σ out·w for
//            a fixed random w, so every backward kernel runs too;
//   GPT-2:   the overfit preset's model (seed 1337) and optimiser (AdamW, lr 3e-3, betas
//            0.9/0.999, no weight decay), three steps on the same batch of 2 × 16 tokens: the
//            loss before each step, and at the first step each parameter gradient's L2 norm and
//            64 of its values at evenly spaced indices.
// Promise: deterministic (seeded inputs and model); plain arrays, so they can be posted and
// serialised.
import { Rng } from '../../autograd/random.ts';
import { tensor, type Tensor } from '../../autograd/tensor.ts';
import { causalAttention } from '../../autograd/ops/attention.ts';
import { layerNorm } from '../../autograd/ops/layernorm.ts';
import { GPT2_SIZES } from '../../gpt2/config.ts';
import { GPT2Model } from '../../gpt2/model.ts';
import { AdamW } from '../../nn/optim/adamw.ts';
import { encodeOrdinary } from '../../data/tokenizer.ts';

/** Each quantity's values, by name: `matmul.out`, `gpt2.losses`, `gpt2.grad.wte.weight`, … */
export type CheckValues = Record<string, number[]>;

const TEXT = 'The page trains the same GPT-2 with the same kernels as Node does, in a browser tab.';
const B = 2;
const T = 16;
const STEPS = 3;
const SAMPLES = 64;

/** Every value of t, as a plain array. */
const values = async (t: Tensor): Promise<number[]> => Array.from(await t.toArray());

export async function backendCheck(): Promise<CheckValues> {
  const out: CheckValues = {};
  const rng = new Rng(2024);
  const input = (shape: number[], scale = 1): Tensor =>
    tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (2 * rng.uniform() - 1) * scale), { shape, requiresGrad: true });

  /** Records y and the gradients of Σ y·w with respect to each input. */
  async function kernel(name: string, inputs: Tensor[], f: (...xs: Tensor[]) => Tensor): Promise<void> {
    const y = f(...inputs);
    y.mul(input(y.shape).detach()).sum().backward();
    out[`${name}.out`] = await values(y);
    for (let i = 0; i < inputs.length; i++) out[`${name}.grad${i}`] = await values(inputs[i].grad!);
  }
  await kernel('matmul', [input([24, 40]), input([40, 36])], (a, b) => a.matmul(b));
  await kernel('softmax', [input([6, 300], 8)], (x) => x.softmax(-1));
  await kernel('layerNorm', [input([12, 64], 3), input([64]), input([64])], (x, w, b) => layerNorm(x, w, b));
  await kernel('gelu', [input([2000], 6)], (x) => x.gelu());
  await kernel('attention', [input([2, 4, 16, 16], 2), input([2, 4, 16, 16], 2), input([2, 4, 16, 16])], causalAttention);

  const ids = encodeOrdinary(TEXT);
  const x = Int32Array.from({ length: B * T }, (_, i) => ids[(i % T) + 5 * Math.floor(i / T)]);
  const y = Int32Array.from({ length: B * T }, (_, i) => ids[(i % T) + 5 * Math.floor(i / T) + 1]);
  const model = new GPT2Model(GPT2_SIZES.overfit, { seed: 1337 });
  const opt = new AdamW(model.parameters(), { lr: 3e-3, betas: [0.9, 0.999], weightDecay: 0 });
  const losses: number[] = [];
  for (let step = 0; step < STEPS; step++) {
    opt.zeroGrad();
    const loss = model.loss(x, [B, T], y);
    loss.backward();
    losses.push(await loss.toNumber());
    if (step === 0) {
      for (const [name, p] of model.namedParameters()) {
        const g = await p.grad!.toArray();
        const n = Math.min(SAMPLES, g.length);
        out[`gpt2.grad.${name}`] = Array.from({ length: n }, (_, i) => g[Math.floor((i * g.length) / n)]);
        let sq = 0;
        for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
        out[`gpt2.gradNorm.${name}`] = [Math.sqrt(sq)];
      }
    }
    opt.step();
  }
  out['gpt2.losses'] = losses;
  return out;
}

/**
 * How far `got` is from `want`, per quantity: max |got − want| / max |want| (the error as a
 * fraction of the quantity's scale). A quantity missing from either side, or of another
 * length, is an error of Infinity; NaN anywhere is NaN.
 */
export function checkErrors(got: CheckValues, want: CheckValues): Record<string, number> {
  const errors: Record<string, number> = {};
  for (const name of new Set([...Object.keys(got), ...Object.keys(want)])) {
    const g = got[name], w = want[name];
    if (!g || !w || g.length !== w.length) {
      errors[name] = Infinity;
      continue;
    }
    let diff = 0, scale = 0;
    for (let i = 0; i < w.length; i++) {
      diff = Math.max(diff, Math.abs(g[i] - w[i]));
      scale = Math.max(scale, Math.abs(w[i]));
    }
    errors[name] = diff === 0 ? 0 : diff / scale;
  }
  return errors;
}
