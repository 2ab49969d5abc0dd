// Parity with PyTorch, like llm.c's test_gpt2: a tiny random GPT-2 saved by
// test/fixtures/make_reference.py (Hugging Face layout) is loaded through the HF loader,
// and its logits, loss, the gradient of every parameter and the losses of 10 AdamW steps
// must match torch's. Max abs differences are printed per tensor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AdamW } from '../src/nn/optim/adamw.ts';
import { loadModel, readSafetensors } from '../src/gpt2/checkpoint.node.ts';
import { saveTensors } from '../src/gpt2/hf.ts';

const dir = fileURLToPath(new URL('./fixtures/gpt2_tiny/', import.meta.url));
const ref = JSON.parse(readFileSync(dir + 'reference.json', 'utf8')) as {
  B: number; T: number; tokens: number[]; targets: number[]; loss: number; losses: number[];
  adamw: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
};
const refTensors = readSafetensors(dir + 'reference.safetensors');
const tokens = Int32Array.from(ref.tokens);
const targets = Int32Array.from(ref.targets);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

test('GPT-2 matches PyTorch: logits, loss, every gradient, 10 AdamW steps', async (t) => {
  const model = loadModel(dir + 'model');
  model.train();
  const { logits, loss } = model.forward(tokens, [ref.B, ref.T], targets);

  const refLogits = refTensors.get('logits')!;
  assert.deepEqual(logits.shape, refLogits.shape);
  const logitsDiff = maxAbsDiff(logits.data, refLogits.data);
  const lossRel = Math.abs(loss!.item() - ref.loss) / Math.abs(ref.loss);
  t.diagnostic(`logits max abs diff ${logitsDiff.toExponential(2)} (max |logit| ${maxAbs(refLogits.data).toFixed(2)})`);
  t.diagnostic(`loss ${loss!.item().toFixed(6)} vs torch ${ref.loss.toFixed(6)}, rel diff ${lossRel.toExponential(2)}`);
  assert.ok(logitsDiff < 1e-4, `logits differ by ${logitsDiff}`);
  assert.ok(lossRel < 1e-5, `loss differs by ${lossRel} relative`);

  loss!.backward();
  // our gradients in the checkpoint's names and layout (Conv1D weights transposed to [in, out])
  const grads = new Map(await Promise.all(saveTensors(model, (p) => p.grad!).map(async (g) => [g.name, await g.data()] as const)));
  let worst = 0;
  for (const [name, g] of grads) {
    const r = refTensors.get('grad.' + name);
    assert.ok(r !== undefined, `no reference gradient for ${name}`);
    const diff = maxAbsDiff(g, r.data);
    const rel = diff / maxAbs(r.data);
    worst = Math.max(worst, rel);
    t.diagnostic(`grad ${name.padEnd(24)} max abs diff ${diff.toExponential(2)}  (÷ max |grad| = ${rel.toExponential(2)})`);
    assert.ok(rel < 1e-4, `gradient of ${name} differs by ${diff} (${rel} of its largest element)`);
  }
  assert.equal(grads.size, refTensors.size - 1); // every reference gradient was compared
  t.diagnostic(`worst gradient diff relative to its largest element: ${worst.toExponential(2)}`);

  // 10 AdamW steps on the same batch; decay on ≥2-D tensors only, as the reference
  const { lr, betas, eps, weight_decay } = ref.adamw;
  const params = model.parameters();
  const opt = new AdamW(
    [
      { params: params.filter((p) => p.ndim >= 2), weightDecay: weight_decay },
      { params: params.filter((p) => p.ndim < 2), weightDecay: 0 },
    ],
    { lr, betas, eps },
  );
  opt.zeroGrad();
  const losses: number[] = [];
  for (let step = 0; step < ref.losses.length; step++) {
    opt.zeroGrad();
    const out = model.forward(tokens, [ref.B, ref.T], targets);
    out.loss!.backward();
    opt.step();
    losses.push(out.loss!.item());
  }
  const rels = losses.map((l, i) => Math.abs(l - ref.losses[i]) / Math.abs(ref.losses[i]));
  losses.forEach((l, i) => t.diagnostic(`step ${i}: loss ${l.toFixed(6)} torch ${ref.losses[i].toFixed(6)} rel diff ${rels[i].toExponential(2)}`));
  const worstStep = Math.max(...rels);
  assert.ok(worstStep < 1e-4, `AdamW losses differ by up to ${worstStep} relative`);
});
