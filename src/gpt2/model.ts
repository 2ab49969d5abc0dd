// GPT-2 in one file (Hugging Face GPT2LMHeadModel semantics), built from tsgrad's nn layers:
// causal self-attention, the MLP, the pre-LN block, and the model (token and position
// embeddings, the blocks, a final LayerNorm and an lm head tied to wte). B is the batch, T the
// sequence, C = d_model, H heads of D = C/H, V the vocabulary. With cfg.head_ids the embedding
// and head hold K + 1 rows, the kept ids and "other" (./head_vocab.ts), and the model is still
// a distribution over all V ids: forward gives all V logits, loss the loss over all V.
// Promise: namedParameters() gives exactly the Hugging Face names without `transformer.`
// ('wte.weight', 'h.0.attn.c_attn.weight', …, 'ln_f.bias'), in Hugging Face order; the
// same seed gives the same weights and the same dropout masks; `loss` is the one loss that
// training and evaluation compute.
import { tensor, type Tensor } from '../autograd/tensor.ts';
import { concat } from '../autograd/ops/layout.ts';
import { linear } from '../autograd/ops/matmul.ts';
import { embedding } from '../autograd/ops/embedding.ts';
import { linearCrossEntropy } from '../autograd/ops/cross_entropy.ts';
import { causalAttention } from '../autograd/ops/attention.ts';
import { defaultRng, Rng, rngFrom } from '../autograd/random.ts';
import { Module } from '../nn/module.ts';
import { knownOptions } from '../nn/options.ts';
import { Dropout, Embedding, GELU, LayerNorm, Linear } from '../nn/layers.ts';
import { attentionComposed } from '../nn/attention.ts';
import { validateConfig, type GPT2Config } from './config.ts';
import { HeadVocab } from './head_vocab.ts';

/** Keys and values of the positions seen so far, [B, H, Tpast, D] each; grown by forward. */
export interface KVCache {
  k: Tensor | null;
  v: Tensor | null;
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

/**
 * Multi-head causal self-attention. The core softmax(mask(q·kᵀ/√D))·v runs as one fused kernel
 * (autograd/ops/attention.ts), or, while attention dropout is active, composed from primitive
 * ops (nn/attention.ts), since dropout acts on the [T, T] weights the fused kernel never forms.
 * An optional KV cache lets generation feed one new token at a time.
 */
export class CausalSelfAttention extends Module {
  c_attn: Linear; // x → q, k, v in one product: [C] → [3C]
  // Seed bug: the seed's GPT2Attention.forward never applied c_proj (it returned the joined
  // heads directly), so c_proj was dead weight. forward applies it.
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
    return this.resid_dropout.forward(this.c_proj.forward(joined)); // [B, T, C]
  }
}

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
    return this.dropout.forward(this.c_proj.forward(h)); // [B, T, C]
  }
}

/** One pre-LN transformer block: x + attn(ln_1(x)), then + mlp(ln_2(x)). */
export class GPT2Block extends Module {
  ln_1: LayerNorm;
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

  /** x [B, T, C] → [B, T, C]; with a cache, x holds only the new positions. */
  forward(x: Tensor, cache: KVCache | null = null): Tensor {
    x = x.add(this.attn.forward(this.ln_1.forward(x), cache)); // [B, T, C]
    return x.add(this.mlp.forward(this.ln_2.forward(x))); // [B, T, C]
  }
}

export interface GPT2ModelOptions {
  /** Seeds the model's one Rng, used for the weight init and then by every dropout. Default: a seed drawn from the global generator (see manualSeed). */
  seed?: number;
  /** false: all weights zero, no random draws (the caller loads weights next). Default true. */
  init?: boolean;
}

export interface ForwardOptions {
  /** The blocks' keys and values so far (newCache()); tokens are then the positions after them, and the cache grows by T. */
  cache?: KVCache[] | null;
  /** Only the last position's logits, [B, 1, V]: what generation reads (the lm head costs T·C·V otherwise). */
  lastOnly?: boolean;
}

export class GPT2Model extends Module {
  // Field order is the parameter order: the Hugging Face order.
  wte: Embedding; // token embeddings [V, C], or [K + 1, C] with a compact head
  wpe: Embedding; // position embeddings [n_ctx, C]
  embd_dropout: Dropout;
  h: GPT2Block[];
  ln_f: LayerNorm;
  /** Only when weight_tying is false; the tied head is wte.weight itself. */
  lm_head: Linear | null;
  readonly cfg: GPT2Config;
  /** The compact head's ids and rows (cfg.head_ids), or null: a row for every id. */
  readonly vocab: HeadVocab | null;
  /** Init and dropout randomness. Training checkpoints save its state to resume exactly. */
  readonly rng: Rng;

  constructor(cfg: GPT2Config, opts: GPT2ModelOptions = {}) {
    super();
    knownOptions('GPT2Model', opts, { seed: true, init: true } satisfies Record<keyof GPT2ModelOptions, true>);
    this.cfg = validateConfig(cfg);
    this.vocab = cfg.head_ids === undefined ? null : new HeadVocab(cfg.head_ids, cfg.vocab_size);
    const rows = this.vocab?.rows ?? cfg.vocab_size; // of wte and the head
    this.rng = new Rng(opts.seed ?? defaultRng().nextUint32());
    const rng = this.rng;
    const std = opts.init === false ? 0 : cfg.init_range;
    // GPT-2's scaled init for the projections that write into the residual stream (c_proj):
    // each block adds two of them, so their std is init_range/√(2·n_layers).
    const init: Init = { rng, std, residualStd: std / Math.sqrt(2 * cfg.n_layers) };
    // Seed bug: `if module.bias is None: zeros_(bias)` never zeroed a bias; Linear with a std
    // (normal init) makes zero biases, LayerNorm ones and zeros.
    this.wte = new Embedding(rows, cfg.d_model, { rng, std });
    this.wpe = new Embedding(cfg.n_ctx, cfg.d_model, { rng, std });
    this.embd_dropout = new Dropout(cfg.dropout, rng);
    this.h = Array.from({ length: cfg.n_layers }, () => new GPT2Block(cfg, init));
    this.ln_f = new LayerNorm(cfg.d_model, cfg.layer_norm_eps);
    // Seed bug: nn.Linear(d_model, vocab_size) gave the lm head a bias of its own, which the
    // tie left untied; GPT-2's head has no bias, so tying makes it exactly wte.weight.
    this.lm_head = cfg.weight_tying ? null : new Linear(cfg.d_model, rows, { rng, std, bias: false });
  }

  /** One empty KV cache per block, for generation one token at a time. */
  newCache(): KVCache[] {
    return this.h.map(() => ({ k: null, v: null }));
  }

  /** tokens [B, T] (row-major) → logits [B, T, V]: the scores of each position's next token. */
  forward(tokens: Int32Array, shape: [number, number], opts: ForwardOptions = {}): Tensor {
    knownOptions('GPT2Model.forward', opts, { cache: true, lastOnly: true } satisfies Record<keyof ForwardOptions, true>);
    const T = shape[1];
    const x = this.hidden('GPT2Model.forward', tokens, shape, opts.cache ?? null); // [B, T, C]
    const h = opts.lastOnly ? x.slice(1, T - 1, T) : x;
    const w = this.headWeight(); // [V, C] or [K + 1, C]
    if (this.vocab === null) return linear(h, w); // [B, T, V] or [B, 1, V]
    // the K + 1 rows' logits, then every id's: a kept id's row's, an unseen id other's minus
    // log(V − K). Made from the rows' logits (V numbers a position), not by gathering the
    // head's rows into [V, C] first (V·C a call); other's gradient is a sum over the unseen ids.
    const [B, Tn, K, V] = [h.shape[0], h.shape[1], this.vocab.other, this.vocab.size];
    const rowLogits = linear(h, w).reshape([B * Tn, K + 1]); // [N, K + 1]
    const unseen = rowLogits.slice(1, K, K + 1).expand([B * Tn, V - K]); // [N, V − K]: other's, for every unseen id
    const ordered = rowLogits.slice(1, 0, K).concat([unseen], 1); // [N, V]: kept ids, then unseen ids
    const byId = embedding(ordered.transpose(), this.vocab.columnOf).transpose(); // [N, V]: id order
    const shift = tensor(this.vocab.logitShift(), { dtype: w.dtype, backend: w.backend }); // [V]
    return byId.add(shift).reshape([B, Tn, V]); // [B, T, V] or [B, 1, V]
  }

  /**
   * The mean cross-entropy of the next-token targets [B, T] (−1 = ignore): what training and
   * evaluation compute. The lm head and the loss are one op (linearCrossEntropy) that never
   * allocates the [B, T, V] logits; it equals crossEntropy(forward(tokens, shape), targets).
   */
  loss(tokens: Int32Array, shape: [number, number], targets: Int32Array): Tensor {
    const [B, T] = shape;
    if (targets.length !== B * T) throw new Error(`GPT2Model.loss: ${targets.length} targets for ${B * T} tokens`);
    const x = this.hidden('GPT2Model.loss', tokens, shape, null); // [B, T, C]
    if (this.vocab === null) return linearCrossEntropy(x, this.headWeight(), targets, { ignoreIndex: -1 }); // []
    const rows = this.vocab.toRows(targets, 'GPT2Model.loss: target');
    const loss = linearCrossEntropy(x, this.headWeight(), rows, { ignoreIndex: -1 }); // [], over the K + 1 rows
    // an unseen target gets 1/(V − K) of other's probability: log(V − K) more loss, a constant
    const { counted, other } = this.vocab.countOther(rows);
    return other === 0 ? loss : loss.add((other / counted) * this.vocab.unseenLog); // []
  }

  /** The transformer trunk: embeddings, the blocks and ln_f; [B, T] ids → [B, T, C]. Errors start with `where`. */
  private hidden(where: string, tokens: Int32Array, shape: [number, number], cache: KVCache[] | null): Tensor {
    const [B, T] = shape;
    const { n_ctx, vocab_size } = this.cfg;
    if (!Number.isInteger(B) || !Number.isInteger(T) || B <= 0 || T <= 0) throw new Error(`${where}: shape [${B}, ${T}] must be two positive integers`);
    if (tokens.length !== B * T) throw new Error(`${where}: ${tokens.length} tokens do not fill shape [${B}, ${T}]`);
    if (cache !== null && cache.length !== this.h.length) throw new Error(`${where}: cache has ${cache.length} layers, the model ${this.h.length}`);
    const past = cache?.[0].k?.shape[2] ?? 0; // positions already in the cache
    if (past + T > n_ctx) {
      const cached = past > 0 ? ` (${T} new after ${past} cached)` : '';
      throw new Error(`${where}: sequence length ${past + T}${cached} exceeds n_ctx ${n_ctx}`);
    }
    for (let i = 0; i < tokens.length; i++) {
      if (tokens[i] < 0 || tokens[i] >= vocab_size) {
        throw new Error(`${where}: token id ${tokens[i]} at position ${i % T} of row ${Math.floor(i / T)} is out of range [0, ${vocab_size})`);
      }
    }

    const positions = Int32Array.from({ length: T }, (_, t) => past + t);
    const rows = this.vocab === null ? tokens : this.vocab.toRows(tokens, where); // an unseen id embeds as other
    const tok_emb = this.wte.forward(rows, [B, T]); // [B, T, C]
    const pos_emb = this.wpe.forward(positions, [T]); // [T, C]
    let x = this.embd_dropout.forward(tok_emb.add(pos_emb)); // [B, T, C]
    this.h.forEach((block, i) => (x = block.forward(x, cache?.[i] ?? null))); // [B, T, C]
    return this.ln_f.forward(x); // [B, T, C]
  }

  /** The lm head's weight [V, C] ([K + 1, C] compact), read as Wᵀ by linear: wte.weight itself when tied (no copy). */
  private headWeight(): Tensor {
    return this.lm_head === null ? this.wte.weight : this.lm_head.weight;
  }
}
