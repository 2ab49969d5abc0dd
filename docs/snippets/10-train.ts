// Step 10: the training loop in miniature (src/train/loop.ts does the same, plus checkpoints,
// evaluation and logging): memorise the seed's repeated sentence with a tiny GPT-2.
import { makeConfig, GPT2Model } from '../../src/gpt2/index.ts';
import { AdamW, clipGradNorm, Rng } from '../../src/index.ts';
import { encodeOrdinary } from '../../src/data/tokenizer.ts';
import { randomBatch } from '../../src/data/loader.ts';
import { num } from './show.ts';

// A tiny vocabulary: the sentence's distinct GPT-2 ids renumbered 0, 1, 2, …
const gpt2Ids = encodeOrdinary('Hello, I am a large language model.'.repeat(50));
const vocab = [...new Set(gpt2Ids)];
const tokens = gpt2Ids.map((id) => vocab.indexOf(id));
console.log(`${tokens.length} tokens, ${vocab.length} distinct`);

const cfg = makeConfig({ vocab_size: vocab.length, n_layers: 1, d_model: 32, n_heads: 2, n_ctx: 16 }, 'overfit');
const model = new GPT2Model(cfg, { seed: 0 });
const params = model.parameters();
const opt = new AdamW(params, { lr: 1e-2, weightDecay: 0 });
const rng = new Rng(0);
const [B, T] = [4, 16];
for (let step = 0; step <= 30; step++) {
  const { x, y } = randomBatch(tokens, T, B, rng);
  const loss = model.loss(x, [B, T], y); // forward: the mean cross-entropy, as the loop's step
  loss.backward(); // backward: every parameter's .grad
  clipGradNorm(params, 1.0); // global-norm clip, as the seed's TinyStories loop
  opt.step(); // update …
  opt.zeroGrad(); // … and clear the gradients for the next step
  if (step % 10 === 0) console.log(`step=${String(step).padStart(4)} | Loss: ${num(loss.item())}`);
}
