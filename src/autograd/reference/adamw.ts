// Reference AdamW step, exactly torch.optim.AdamW (decoupled weight decay):
//   m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²
//   p ← p · (1 − lr·wd) − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + eps)
// Writes the new param, m and v into `out`; the update uses the moments as stored. Element i
// is read before it is written, so `out` may be the inputs themselves (an update in place).
import type { AdamWArgs, HostArray } from '../backend.ts';
import type { OnHost } from './host.ts';

export function adamw(out: { param: HostArray; m: HostArray; v: HostArray }, a: OnHost<AdamWArgs>): void {
  const { param: p, grad: g, m, v, lr, beta1, beta2, eps, weightDecay, step } = a;
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  const decay = 1 - lr * weightDecay;
  for (let i = 0; i < p.length; i++) {
    out.m[i] = beta1 * m[i] + (1 - beta1) * g[i];
    out.v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
    out.param[i] = p[i] * decay;
    out.param[i] -= (lr * (out.m[i] / bc1)) / (Math.sqrt(out.v[i] / bc2) + eps);
  }
}
