// Step 5: causal self-attention. The fused kernel equals the textbook formula, and a query
// never looks at a later position.
import { randn, causalAttention, attentionComposed, CausalSelfAttention, Rng } from '../../src/index.ts';
import { num } from './show.ts';

const [B, H, T, D] = [1, 2, 4, 3];
const q = randn([B, H, T, D], { seed: 1, requiresGrad: true });
const k = randn([B, H, T, D], { seed: 2, requiresGrad: true });
const v = randn([B, H, T, D], { seed: 3, requiresGrad: true });

const fused = causalAttention(q, k, v); // one kernel; keeps only each row's logsumexp
const composed = attentionComposed(q, k, v); // matmul, scale, mask, softmax, matmul
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i])));
console.log('out', JSON.stringify(fused.shape), 'max |fused − composed| < 1e-6:', maxDiff(fused.data, composed.data) < 1e-6);

// Gradient of query row 1 only: keys and values at positions 2 and 3 must get nothing.
fused.slice(2, 1, 2).sum().backward();
const perPosition = (g: ArrayLike<number>) => Array.from({ length: T }, (_, t) => num(Math.abs(g[t * D]) + Math.abs(g[t * D + 1]) + Math.abs(g[t * D + 2])));
console.log('|dk| by key position (head 0):', perPosition(k.grad!.data).join(' '));
console.log('|dv| by key position (head 0):', perPosition(v.grad!.data).join(' '));

// The module around it: c_attn makes q, k, v in one product, c_proj joins the heads.
const attn = new CausalSelfAttention(8, 2, { rng: new Rng(0), std: 0.02 });
const x = randn([2, 5, 8], { seed: 4 });
console.log('CausalSelfAttention [B, T, C]', JSON.stringify(x.shape), '→', JSON.stringify(attn.forward(x).shape));
console.log(attn.namedParameters().map(([n, p]) => `${n} ${JSON.stringify(p.shape)}`).join('\n'));
