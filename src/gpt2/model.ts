// GPT-2 (Hugging Face GPT2LMHeadModel semantics) built from tsgrad's nn layers: token and
// position embeddings, pre-LN transformer blocks, a final LayerNorm and an lm head tied to wte.
// Promise: namedParameters() gives exactly the Hugging Face names without `transformer.`
// ('wte.weight', 'h.0.attn.c_attn.weight', …, 'ln_f.bias'), in Hugging Face order; the
// same seed gives the same weights and the same dropout masks.
import type { Tensor } from '../autograd/tensor.ts';
import { linear } from '../autograd/ops/matmul.ts';
import { crossEntropy, linearCrossEntropy } from '../autograd/ops/cross_entropy.ts';
import { defaultRng, Rng } from '../autograd/random.ts';
import { Module } from '../nn/module.ts';
import { knownOptions } from '../nn/options.ts';
import { Dropout, Embedding, GELU, LayerNorm, Linear } from '../nn/layers.ts';
import { CausalSelfAttention, type KVCache } from '../nn/attention.ts';
import { validateConfig, type GPT2Config } from './config.ts';

export type { KVCache } from '../nn/attention.ts';

/** Where the weights come from: one Rng, the std of most weights, that of residual projections. */
interface Init {
  rng: Rng;
  std: number;
  residualStd: number;
}

/** Position-wise feed-forward network: c_fc, gelu_new, c_proj. */
export class GPT2MLP extends Module {
  c_fc: Linear;
  gelu: GELU; // Seed bug: nn.GELU() is the erf form; GPT-2 uses the tanh approximation (gelu_new)
  c_proj: Linear;
  dropout: Dropout;

  constructor(cfg: GPT2Config, { rng, std, residualStd }: Init) {
    super();
    this.c_fc = new Linear(cfg.d_model, cfg.d_mlp, { rng, std });
    this.gelu = new GELU();
    this.c_proj = new Linear(cfg.d_mlp, cfg.d_model, { rng, std: residualStd });
    this.dropout = new Dropout(cfg.dropout, rng);
  }

  forward(x: Tensor): Tensor {
    const h = this.gelu.forward(this.c_fc.forward(x)); // [B, T, d_mlp]
    return this.dropout.forward(this.c_proj.forward(h)); // [B, T, d_model]
  }
}

/** One pre-LN transformer block: x + attn(ln_1(x)), then + mlp(ln_2(x)). */
export class GPT2Block extends Module {
  ln_1: LayerNorm;
  // Seed bug: the seed's GPT2Attention.forward never applied c_proj (it returned the joined
  // heads directly), so c_proj was dead weight. nn's CausalSelfAttention applies it.
  attn: CausalSelfAttention;
  ln_2: LayerNorm;
  mlp: GPT2MLP;

  constructor(cfg: GPT2Config, init: Init) {
    super();
    this.ln_1 = new LayerNorm(cfg.d_model, cfg.layer_norm_eps);
    this.attn = new CausalSelfAttention(cfg.d_model, cfg.n_heads, { rng: init.rng, std: init.std, projStd: init.residualStd, dropout: cfg.dropout });
    this.ln_2 = new LayerNorm(cfg.d_model, cfg.layer_norm_eps);
    this.mlp = new GPT2MLP(cfg, init);
  }

  /** x [B, T, d_model] → [B, T, d_model]; with a cache, x holds only the new positions. */
  forward(x: Tensor, cache: KVCache | null = null): Tensor {
    x = x.add(this.attn.forward(this.ln_1.forward(x), cache)); // [B, T, d_model]
    return x.add(this.mlp.forward(this.ln_2.forward(x))); // [B, T, d_model]
  }
}

export interface GPT2Output {
  /** [B, T, V] with targets; [B, 1, V] (the last position only) without. */
  logits: Tensor;
  /** Mean cross-entropy over the targets that are not −1; null without targets. */
  loss: Tensor | null;
}

export interface GPT2ModelOptions {
  /** Seeds the model's one Rng, used for the weight init and then by every dropout. Default: a seed drawn from the global generator (see manualSeed). */
  seed?: number;
  /** false: all weights zero, no random draws (the caller loads weights next). Default true. */
  init?: boolean;
}

export class GPT2Model extends Module {
  // Field order is the parameter order: the Hugging Face order.
  wte: Embedding; // token embeddings [vocab_size, d_model]
  wpe: Embedding; // position embeddings [n_ctx, d_model]
  embd_dropout: Dropout;
  h: GPT2Block[];
  ln_f: LayerNorm;
  /** Only when weight_tying is false; the tied head is wte.weight itself. */
  lm_head: Linear | null;
  readonly cfg: GPT2Config;
  /** Init and dropout randomness. Training checkpoints save its state to resume exactly. */
  readonly rng: Rng;

  constructor(cfg: GPT2Config, opts: GPT2ModelOptions = {}) {
    super();
    knownOptions('GPT2Model', opts, { seed: true, init: true } satisfies Record<keyof GPT2ModelOptions, true>);
    this.cfg = validateConfig(cfg);
    this.rng = new Rng(opts.seed ?? defaultRng().nextUint32());
    const rng = this.rng;
    const std = opts.init === false ? 0 : cfg.init_range;
    // GPT-2's scaled init for the projections that write into the residual stream (c_proj):
    // each block adds two of them, so their std is init_range/√(2·n_layers).
    const init: Init = { rng, std, residualStd: std / Math.sqrt(2 * cfg.n_layers) };
    // Seed bug: `if module.bias is None: zeros_(bias)` never zeroed a bias; Linear with a std
    // (normal init) makes zero biases, LayerNorm ones and zeros.
    this.wte = new Embedding(cfg.vocab_size, cfg.d_model, { rng, std });
    this.wpe = new Embedding(cfg.n_ctx, cfg.d_model, { rng, std });
    this.embd_dropout = new Dropout(cfg.dropout, rng);
    this.h = Array.from({ length: cfg.n_layers }, () => new GPT2Block(cfg, init));
    this.ln_f = new LayerNorm(cfg.d_model, cfg.layer_norm_eps);
    // Seed bug: nn.Linear(d_model, vocab_size) gave the lm head a bias of its own, which the
    // tie left untied; GPT-2's head has no bias, so tying makes it exactly wte.weight.
    this.lm_head = cfg.weight_tying ? null : new Linear(cfg.d_model, cfg.vocab_size, { rng, std, bias: false });
  }

  /** One empty KV cache per block, for generation one token at a time. */
  newCache(): KVCache[] {
    return this.h.map(() => ({ k: null, v: null }));
  }

  /**
   * tokens [B, T] (row-major), targets [B, T] or null (−1 = ignore). With a cache, tokens
   * are the positions after the cached ones, and the cache grows by T.
   */
  forward(tokens: Int32Array, shape: [number, number], targets: Int32Array | null = null, cache: KVCache[] | null = null): GPT2Output {
    const [B, T] = shape;
    if (targets !== null && targets.length !== B * T) throw new Error(`GPT2Model.forward: ${targets.length} targets for ${B * T} tokens`);
    const x = this.hidden(tokens, shape, cache); // [B, T, d_model]
    if (targets !== null) {
      const logits = this.head(x); // [B, T, V]
      return { logits, loss: crossEntropy(logits, targets, { ignoreIndex: -1 }) };
    }
    return { logits: this.head(x.slice(1, T - 1, T)), loss: null }; // [B, 1, V]
  }

  /**
   * The mean cross-entropy alone, what training and evaluation need: the same number as
   * forward(tokens, shape, targets).loss, but through the fused lm-head + loss op, which
   * never allocates the [B, T, V] logits (at V = 50257 that allocation costs more than the math).
   */
  loss(tokens: Int32Array, shape: [number, number], targets: Int32Array): Tensor {
    const [B, T] = shape;
    if (targets.length !== B * T) throw new Error(`GPT2Model.loss: ${targets.length} targets for ${B * T} tokens`);
    const x = this.hidden(tokens, shape, null); // [B, T, d_model]
    if (this.lm_head !== null) return crossEntropy(this.head(x), targets, { ignoreIndex: -1 });
    return linearCrossEntropy(x, this.wte.weight, targets, { ignoreIndex: -1 }); // tied head: wte [V, d_model]
  }

  /** The transformer trunk: embeddings, the blocks and ln_f; [B, T] ids → [B, T, d_model]. */
  private hidden(tokens: Int32Array, shape: [number, number], cache: KVCache[] | null): Tensor {
    const [B, T] = shape;
    const { n_ctx, vocab_size } = this.cfg;
    if (!Number.isInteger(B) || !Number.isInteger(T) || B <= 0 || T <= 0) throw new Error(`GPT2Model.forward: shape [${B}, ${T}] must be two positive integers`);
    if (tokens.length !== B * T) throw new Error(`GPT2Model.forward: ${tokens.length} tokens do not fill shape [${B}, ${T}]`);
    if (cache !== null && cache.length !== this.h.length) throw new Error(`GPT2Model.forward: cache has ${cache.length} layers, the model ${this.h.length}`);
    const past = cache?.[0].k?.shape[2] ?? 0; // positions already in the cache
    if (past + T > n_ctx) {
      const cached = past > 0 ? ` (${T} new after ${past} cached)` : '';
      throw new Error(`GPT2Model.forward: sequence length ${past + T}${cached} exceeds n_ctx ${n_ctx}`);
    }
    for (let i = 0; i < tokens.length; i++) {
      if (tokens[i] < 0 || tokens[i] >= vocab_size) {
        throw new Error(`GPT2Model.forward: token id ${tokens[i]} at position ${i % T} of row ${Math.floor(i / T)} is out of range [0, ${vocab_size})`);
      }
    }

    const positions = Int32Array.from({ length: T }, (_, t) => past + t);
    const tok_emb = this.wte.forward(tokens, [B, T]); // [B, T, d_model]
    const pos_emb = this.wpe.forward(positions, [T]); // [T, d_model]
    let x = this.embd_dropout.forward(tok_emb.add(pos_emb)); // [B, T, d_model]
    this.h.forEach((block, i) => (x = block.forward(x, cache?.[i] ?? null))); // [B, T, d_model]
    return this.ln_f.forward(x); // [B, T, d_model]
  }

  /** x [..., d_model] → logits [..., V], reading wte.weight [V, d_model] as Wᵀ (no copy). */
  private head(x: Tensor): Tensor {
    return this.lm_head === null ? linear(x, this.wte.weight) : this.lm_head.forward(x);
  }
}
