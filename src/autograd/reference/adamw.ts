// Reference AdamW step, exactly torch.optim.AdamW (decoupled weight decay):
//   p ← p · (1 − lr·wd)
//   m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²
//   p ← p − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + eps)
// Updates param, m and v in place and returns them.
import type { AdamWParams, HostArray, Storage } from '../backend.ts';
import { host } from './util.ts';

export function adamw(ps: Storage, gs: Storage, ms: Storage, vs: Storage, hp: AdamWParams): { param: HostArray; m: HostArray; v: HostArray } {
  const p = host(ps);
  const g = host(gs);
  const m = host(ms);
  const v = host(vs);
  const { lr, beta1, beta2, eps, weightDecay, step } = hp;
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  for (let i = 0; i < p.length; i++) {
    p[i] *= 1 - lr * weightDecay;
    m[i] = beta1 * m[i] + (1 - beta1) * g[i];
    v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
    p[i] -= (lr * (m[i] / bc1)) / (Math.sqrt(v[i] / bc2) + eps);
  }
  return { param: p, m, v };
}
