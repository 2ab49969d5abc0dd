// Multi-head causal self-attention, as GPT-2's `attn` block (fused c_attn for q, k, v).
// Two versions of the core, which tests prove equal:
//   attentionComposed — the textbook formula from primitive ops (used when attention
//     dropout is active, since dropout acts on the [T, T] weights the fused kernel never forms);
//   causalAttention   — the fused kernel (../autograd/ops/attention.ts), used otherwise.
// An optional KV cache lets generation feed one new token at a time.
import { tensor, type Tensor } from '../autograd/tensor.ts';
import { concat } from '../autograd/ops/layout.ts';
import { causalAttention } from '../autograd/ops/attention.ts';
import { rngFrom, type Rng } from '../autograd/random.ts';
import { Module } from './module.ts';
import { Dropout, Linear } from './layers.ts';
import { knownOptions } from './options.ts';

/** Keys and values of the positions seen so far, [B, H, Tpast, D] each; grown by forward. */
export interface KVCache {
  k: Tensor | null;
  v: Tensor | null;
}

/** 1 where query i (at position i + Tk − Tq) may NOT look at key j, i.e. j > i + Tk − Tq. */
function futureMask(Tq: number, Tk: number, like: Tensor): Tensor {
  const m = new Float32Array(Tq * Tk);
  for (let i = 0; i < Tq; i++) for (let j = i + Tk - Tq + 1; j < Tk; j++) m[i * Tk + j] = 1;
  return tensor(m, { shape: [Tq, Tk], dtype: like.dtype, backend: like.backend });
}

/**
 * softmax(mask(q·kᵀ/√D))·v from primitive ops — the formula as the seed wrote it.
 * q [B, H, Tq, D], k and v [B, H, Tk, D] → [B, H, Tq, D].
 */
export function attentionComposed(q: Tensor, k: Tensor, v: Tensor, dropWeights: (att: Tensor) => Tensor = (a) => a): Tensor {
  const [Tq, D] = q.shape.slice(-2);
  const Tk = k.shape[k.ndim - 2];
  let att = q.matmul(k.transpose(-2, -1)).mul(1 / Math.sqrt(D)); // [B, H, Tq, Tk]
  att = att.maskedFill(futureMask(Tq, Tk, q), -Infinity); // a query never sees the future
  att = dropWeights(att.softmax(-1)); // each row sums to 1
  return att.matmul(v); // [B, H, Tq, D]
}

export interface AttentionOptions {
  dropout?: number;
  /** The generator for the init and the dropout masks (default: the global one, see manualSeed). */
  rng?: Rng;
  /** Use a fresh Rng(seed) instead. */
  seed?: number;
  /** std of the normal init of c_attn.weight (PyTorch default init when absent). */
  std?: number;
  /** std of c_proj.weight; GPT-2 scales it by 1/√(2·n_layers). */
  projStd?: number;
}

export class CausalSelfAttention extends Module {
  c_attn: Linear; // x → q, k, v in one product: [C] → [3C]
  c_proj: Linear; // heads joined back: [C] → [C]
  attn_dropout: Dropout;
  resid_dropout: Dropout;

  constructor(
    readonly d_model: number,
    readonly n_heads: number,
    opts: AttentionOptions = {},
  ) {
    super();
    knownOptions('CausalSelfAttention', opts, { dropout: true, rng: true, seed: true, std: true, projStd: true } satisfies Record<keyof AttentionOptions, true>);
    if (d_model % n_heads !== 0) throw new Error(`CausalSelfAttention: d_model ${d_model} is not divisible by n_heads ${n_heads}`);
    const rng = rngFrom(opts);
    this.c_attn = new Linear(d_model, 3 * d_model, { rng, std: opts.std });
    this.c_proj = new Linear(d_model, d_model, { rng, std: opts.projStd ?? opts.std });
    this.attn_dropout = new Dropout(opts.dropout ?? 0, rng);
    this.resid_dropout = new Dropout(opts.dropout ?? 0, rng);
  }

  /** x [B, T, C] → [B, T, C]. With a cache, x holds only the new positions. */
  forward(x: Tensor, cache: KVCache | null = null): Tensor {
    const [B, T, C] = x.shape;
    const H = this.n_heads;
    const D = C / H;
    const qkv = this.c_attn.forward(x); // [B, T, 3C]
    const heads = (i: number) => qkv.slice(-1, i * C, (i + 1) * C).reshape([B, T, H, D]).transpose(1, 2); // [B, H, T, D]
    const q = heads(0);
    let k = heads(1);
    let v = heads(2);
    if (cache !== null) {
      if (cache.k !== null && cache.v !== null) {
        k = concat([cache.k, k], 2); // [B, H, Tpast + T, D]
        v = concat([cache.v, v], 2);
      }
      cache.k = k;
      cache.v = v;
    }
    const dropping = this.attn_dropout.training && this.attn_dropout.p > 0;
    const y = dropping ? attentionComposed(q, k, v, (att) => this.attn_dropout.forward(att)) : causalAttention(q, k, v); // [B, H, T, D]
    const joined = y.transpose(1, 2).reshape([B, T, C]); // heads side by side again
    return this.resid_dropout.forward(this.c_proj.forward(joined));
  }
}
