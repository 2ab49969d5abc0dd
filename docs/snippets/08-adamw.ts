// Step 8: AdamW, PyTorch's semantics. Minimise (w − 3)² from w = 0.
import { tensor, AdamW } from '../../src/index.ts';
import { num } from './show.ts';

const w = tensor([0], { requiresGrad: true });
const opt = new AdamW([w], { lr: 0.1, weightDecay: 0 });
for (let step = 1; step <= 60; step++) {
  const loss = w.sub(3).pow(2).sum();
  loss.backward();
  opt.step(); // w ← w − lr · m̂ / (√v̂ + eps)
  opt.zeroGrad();
  if (step <= 3 || step % 20 === 0) console.log(`step ${String(step).padStart(2)}: w = ${num(w.item())}, loss before the step = ${num(loss.item())}`);
}

// Decoupled weight decay: with a zero gradient, only p ← p·(1 − lr·wd) acts.
const p = tensor([1], { requiresGrad: true });
const decay = new AdamW([p], { lr: 0.1, weightDecay: 0.5 });
p.grad = tensor([0]);
decay.step();
console.log('weight decay alone: 1 →', num(p.item()), '(= 1 − 0.1·0.5)');
