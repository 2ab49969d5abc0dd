// Reference AdamW step, exactly torch.optim.AdamW (decoupled weight decay):
//   m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²
//   p ← p · (1 − lr·wd) − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + eps)
// Writes the new param, m and v into `out`. Each number is rounded to the output's precision
// where PyTorch stores it, so the update uses the moments as stored. Element i is read before
// it is written, so `out` may be the inputs themselves (an update in place).
import type { AdamWArgs, HostArray } from '../backend.ts';
import type { OnHost } from './host.ts';

export function adamw(out: { param: HostArray; m: HostArray; v: HostArray }, a: OnHost<AdamWArgs>): void {
  const { param: p, grad: g, m, v, lr, beta1, beta2, eps, weightDecay, step } = a;
  const { param: p2, m: m2, v: v2 } = out;
  const f32 = p2 instanceof Float32Array;
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  const decay = 1 - lr * weightDecay;
  const [c1, c2] = [1 - beta1, 1 - beta2];
  for (let i = 0; i < p.length; i++) {
    const gi = g[i];
    let mi = beta1 * m[i] + c1 * gi;
    let vi = beta2 * v[i] + c2 * gi * gi;
    let pi = p[i] * decay;
    if (f32) {
      mi = Math.fround(mi);
      vi = Math.fround(vi);
      pi = Math.fround(pi);
    }
    m2[i] = mi;
    v2[i] = vi;
    p2[i] = pi - (lr * (mi / bc1)) / (Math.sqrt(vi / bc2) + eps);
  }
}
