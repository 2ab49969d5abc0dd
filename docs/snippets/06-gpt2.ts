// Step 6: GPT-2 from the layers. A small config (vocab 64) so it runs in a moment on the js backend.
import { makeConfig, GPT2Model } from '../../src/gpt2/index.ts';
import { num } from './show.ts';

const cfg = makeConfig({ vocab_size: 64, n_layers: 2, d_model: 32, n_heads: 4, n_ctx: 16 }, 'overfit');
console.log('config', JSON.stringify(cfg));
const model = new GPT2Model(cfg, { seed: 0 });
const names = model.namedParameters().map(([n, p]) => `${n} ${JSON.stringify(p.shape)}`);
console.log(names.slice(0, 14).join('\n'));
console.log(`… ${names.length} tensors, ${model.numParameters()} numbers (lm head tied to wte: no tensor of its own)`);

const [B, T] = [2, 8];
const tokens = Int32Array.from({ length: B * T }, (_, i) => (7 * i + 3) % cfg.vocab_size);
const targets = Int32Array.from({ length: B * T }, (_, i) => (7 * i + 10) % cfg.vocab_size);
const logits = model.forward(tokens, [B, T]); // the next-token scores at every position
const loss = model.loss(tokens, [B, T], targets); // the mean cross-entropy: what training and evaluation compute
console.log('logits', JSON.stringify(logits.shape), 'loss', num(loss.item()), 'ln(V) =', num(Math.log(cfg.vocab_size)));
const last = model.forward(tokens, [B, T], { lastOnly: true }); // what generation reads
console.log('lastOnly: logits', JSON.stringify(last.shape));
