// GPT-2's hyper-parameters, named as in the seed's GPT2Config, its vocabulary, and the named
// sizes tsgrad knows: the four OpenAI sizes (real shapes, so their Hugging Face checkpoints
// load) and two small CPU sizes for training runs. Promise: makeConfig returns a validated
// config or throws a one-line error naming the bad field.
import { HeadVocab } from './head_vocab.ts';

/** GPT-2's vocabulary: the ids of its BPE tokenizer, 0 … 50256. */
export const VOCAB_SIZE = 50257;
/** `<|endoftext|>`, the last id: it separates documents, and generation can stop at it. */
export const EOT = 50256;

export interface GPT2Config {
  n_layers: number; // transformer blocks
  d_model: number; // width of the residual stream (n_embd)
  n_heads: number; // attention heads per block; d_model / n_heads each
  vocab_size: number; // rows of wte (and of the tied lm head)
  layer_norm_eps: number; // Seed bug: the seed had 0.02 (the init std); GPT-2 uses 1e-5
  init_range: number; // std of the normal weight init
  dropout: number; // one p for embedding, attention-weight and residual dropout
  n_ctx: number; // longest sequence: rows of wpe (n_positions)
  d_mlp: number; // hidden width of the MLP, 4·d_model in GPT-2
  weight_tying: boolean; // lm head shares wte.weight
  /** A compact head (./head_vocab.ts): the ids wte and the head keep rows for, ascending, plus one "other" row; absent = all vocab_size ids. */
  head_ids?: readonly number[];
}

export type GPT2Size = 'gpt2' | 'gpt2-medium' | 'gpt2-large' | 'gpt2-xl' | 'tinystories' | 'overfit';

/** The shape of an OpenAI GPT-2 model: 50257 tokens, 1024 positions, dropout 0.1. */
function openai(n_layers: number, d_model: number, n_heads: number): GPT2Config {
  return { n_layers, d_model, n_heads, vocab_size: VOCAB_SIZE, layer_norm_eps: 1e-5, init_range: 0.02, dropout: 0.1, n_ctx: 1024, d_mlp: 4 * d_model, weight_tying: true };
}

export const GPT2_SIZES: Record<GPT2Size, GPT2Config> = {
  gpt2: openai(12, 768, 12), // 124M
  'gpt2-medium': openai(24, 1024, 16), // 355M
  'gpt2-large': openai(36, 1280, 20), // 774M
  'gpt2-xl': openai(48, 1600, 25), // 1558M
  // small enough to train on two CPU cores; the tokenizer is still GPT-2's, hence vocab 50257
  tinystories: { ...openai(4, 128, 4), n_ctx: 128, dropout: 0 },
  overfit: { ...openai(2, 64, 4), n_ctx: 64, dropout: 0 },
};

export function isGPT2Size(name: string): name is GPT2Size {
  return Object.hasOwn(GPT2_SIZES, name);
}

/**
 * A named size with some fields replaced. d_mlp follows d_model (4·d_model) unless given, so
 * makeConfig({ d_model: 64 }) has a 256-wide MLP (the seed's `d_mlp = 4 * 768` kept 3072).
 */
export function makeConfig(overrides: Partial<GPT2Config> = {}, size: GPT2Size = 'gpt2'): GPT2Config {
  const base = GPT2_SIZES[size];
  return validateConfig({ ...base, d_mlp: 4 * (overrides.d_model ?? base.d_model), ...overrides });
}

/** Returns cfg unchanged, or throws the first problem found. */
export function validateConfig(cfg: GPT2Config): GPT2Config {
  for (const key of ['n_layers', 'd_model', 'n_heads', 'vocab_size', 'n_ctx', 'd_mlp'] as const) {
    const v = cfg[key];
    if (!Number.isInteger(v) || v <= 0) throw new Error(`GPT2Config: ${key} must be a positive integer, got ${v}`);
  }
  if (cfg.d_model % cfg.n_heads !== 0) {
    throw new Error(`GPT2Config: d_model ${cfg.d_model} is not divisible by n_heads ${cfg.n_heads}`);
  }
  const isNumber = (v: unknown): v is number => typeof v === 'number';
  if (!isNumber(cfg.layer_norm_eps) || !(cfg.layer_norm_eps > 0)) throw new Error(`GPT2Config: layer_norm_eps must be > 0, got ${cfg.layer_norm_eps}`);
  if (!isNumber(cfg.init_range) || !(cfg.init_range >= 0)) throw new Error(`GPT2Config: init_range must be ≥ 0, got ${cfg.init_range}`);
  if (!isNumber(cfg.dropout) || !(cfg.dropout >= 0 && cfg.dropout < 1)) throw new Error(`GPT2Config: dropout must be in [0, 1), got ${cfg.dropout}`);
  if (typeof cfg.weight_tying !== 'boolean') throw new Error(`GPT2Config: weight_tying must be true or false, got ${cfg.weight_tying}`);
  if (cfg.head_ids !== undefined) {
    if (!Array.isArray(cfg.head_ids)) throw new Error('GPT2Config: head_ids must be an array of token ids');
    try {
      new HeadVocab(cfg.head_ids, cfg.vocab_size);
    } catch (err) {
      throw new Error(`GPT2Config: ${(err as Error).message}`);
    }
  }
  return cfg;
}
