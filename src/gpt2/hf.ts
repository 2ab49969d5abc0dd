// The Hugging Face GPT-2 checkpoint layout, mapped onto GPT2Model: config.json keys to
// GPT2Config and back, and safetensors tensor names/shapes to parameters and back.
// A model with a compact head (cfg.head_ids, ./head_vocab.ts) has no Hugging Face equivalent:
// its unseen ids take the other row's logit minus log(V − K), a shift that a head without bias
// cannot make, and with a tied head an unseen id's output row would have to differ from its
// input row (other's). Its directory keeps the layout with config.json's model_type
// COMPACT_MODEL_TYPE and head_ids, and wte [K + 1, C]: tsgrad loads it; transformers refuses
// the model type it does not know rather than load something else.
// Promise: pure (no I/O); what saveTensors lists and loadTensors accepts is what
// transformers' GPT2LMHeadModel writes and reads, Conv1D weights stored [in, out].
import { fmt, sameShape } from '../autograd/shape.ts';
import type { Tensor } from '../autograd/tensor.ts';
import { validateConfig, type GPT2Config } from './config.ts';
import type { GPT2Model } from './model.ts';
import { isFloatDtype, type SafetensorsDtype } from './safetensors.ts';

/** config.json's model_type for a model with a compact head: tsgrad's own, which transformers does not load. */
export const COMPACT_MODEL_TYPE = 'tsgrad_gpt2_compact_head';

/** The config.json transformers writes for a GPT2LMHeadModel of this shape (with a compact head: tsgrad's own model type and head_ids). */
export function toHfConfig(cfg: GPT2Config): Record<string, unknown> {
  const compact = cfg.head_ids === undefined ? {} : { model_type: COMPACT_MODEL_TYPE, head_ids: [...cfg.head_ids] };
  return {
    activation_function: 'gelu_new',
    architectures: ['GPT2LMHeadModel'],
    attn_pdrop: cfg.dropout,
    embd_pdrop: cfg.dropout,
    initializer_range: cfg.init_range,
    layer_norm_epsilon: cfg.layer_norm_eps,
    model_type: 'gpt2',
    n_ctx: cfg.n_ctx,
    n_embd: cfg.d_model,
    n_head: cfg.n_heads,
    n_inner: cfg.d_mlp === 4 * cfg.d_model ? null : cfg.d_mlp, // null means 4·n_embd
    n_layer: cfg.n_layers,
    n_positions: cfg.n_ctx,
    resid_pdrop: cfg.dropout,
    tie_word_embeddings: cfg.weight_tying,
    vocab_size: cfg.vocab_size,
    ...compact,
  };
}

/**
 * A GPT2Config from a parsed config.json; missing keys take transformers' GPT2Config
 * defaults. Variants this model does not compute (another activation, attention scaled
 * per layer) are refused rather than silently computed wrong.
 */
export function fromHfConfig(json: unknown, where: string): GPT2Config {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${where}: not a JSON object`);
  const c = json as Record<string, unknown>;
  const refuse = (why: string) => {
    throw new Error(`${where}: ${why}; tsgrad implements GPT-2 exactly as GPT2LMHeadModel with gelu_new`);
  };
  const compact = c.model_type === COMPACT_MODEL_TYPE;
  if (c.model_type !== undefined && c.model_type !== 'gpt2' && !compact) refuse(`model_type is ${JSON.stringify(c.model_type)}, not "gpt2"`);
  if (compact !== (c.head_ids !== undefined)) {
    throw new Error(`${where}: ${compact ? `model_type ${COMPACT_MODEL_TYPE} needs head_ids, the ids its compact head keeps` : `head_ids belongs to model_type ${COMPACT_MODEL_TYPE}, not ${JSON.stringify(c.model_type ?? 'gpt2')}`}`);
  }
  const act = c.activation_function ?? 'gelu_new';
  if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') refuse(`activation_function ${JSON.stringify(act)} is not the tanh GELU`);
  if (c.scale_attn_by_inverse_layer_idx === true) refuse('scale_attn_by_inverse_layer_idx is set');
  if (c.scale_attn_weights === false) refuse('scale_attn_weights is false');
  const d_model = (c.n_embd ?? 768) as number;
  const cfg: GPT2Config = {
    n_layers: (c.n_layer ?? 12) as number,
    d_model,
    n_heads: (c.n_head ?? 12) as number,
    vocab_size: (c.vocab_size ?? 50257) as number,
    layer_norm_eps: (c.layer_norm_epsilon ?? 1e-5) as number,
    init_range: (c.initializer_range ?? 0.02) as number,
    dropout: (c.resid_pdrop ?? 0.1) as number, // one p for all three (they are equal in GPT-2)
    n_ctx: (c.n_positions ?? c.n_ctx ?? 1024) as number,
    d_mlp: (c.n_inner ?? 4 * d_model) as number,
    weight_tying: (c.tie_word_embeddings ?? true) as boolean,
    ...(compact ? { head_ids: c.head_ids as number[] } : {}),
  };
  try {
    return validateConfig(cfg);
  } catch (err) {
    throw new Error(`${where}: ${(err as Error).message}`);
  }
}

/** The four Conv1D weights, which transformers stores [in, out] (torch's Linear is [out, in]). */
function isConv1D(name: string): boolean {
  return /^h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/.test(name);
}

/** A row-major [rows, cols] matrix as [cols, rows]. */
function transpose2d(data: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = data[i * cols + j];
  return out;
}

/** A parameter's shape and values as the checkpoint holds them. */
function toFileLayout(name: string, p: Tensor): { shape: number[]; data: () => Promise<Float32Array> } {
  if (!isConv1D(name)) return { shape: [...p.shape], data: async () => Float32Array.from(await p.toArray()) };
  const [out, inp] = p.shape;
  return { shape: [inp, out], data: async () => transpose2d(await p.toArray(), out, inp) };
}

/**
 * The checkpoint key of a parameter. Tied models use the bare names real GPT-2 files use;
 * an untied model needs `transformer.` on the body so transformers loads `lm_head.weight`
 * into the head rather than dropping it as an unknown key of the base model.
 */
function fileKey(name: string, tied: boolean): string {
  return tied || name === 'lm_head.weight' ? name : `transformer.${name}`;
}

/**
 * The tensors of a checkpoint, in parameter order; `data()` makes each one when asked.
 * `pick` chooses what is laid out for each parameter: itself, or e.g. its gradient.
 */
export function saveTensors(model: GPT2Model, pick: (p: Tensor) => Tensor = (p) => p): { name: string; shape: number[]; data: () => Promise<Float32Array> }[] {
  return model.namedParameters().map(([name, p]) => ({ name: fileKey(name, model.cfg.weight_tying), ...toFileLayout(name, pick(p)) }));
}

/** Where loadTensors gets a checkpoint's tensors: names, shapes and dtypes first, then values one at a time. */
export interface TensorSource {
  tensors: ReadonlyMap<string, { shape: number[]; dtype: SafetensorsDtype }>;
  read(key: string): Float32Array;
}

/**
 * Every parameter of a GPT-2 of this config as a checkpoint holds it: name (without
 * `transformer.`) → shape, Conv1D weights [in, out], in Hugging Face order. Made from the config
 * alone, so a checkpoint can be checked before any model is built.
 */
export function checkpointShapes(cfg: GPT2Config): Map<string, number[]> {
  const C = cfg.d_model;
  const rows = cfg.head_ids === undefined ? cfg.vocab_size : cfg.head_ids.length + 1; // of wte and the head
  const shapes = new Map<string, number[]>([
    ['wte.weight', [rows, C]],
    ['wpe.weight', [cfg.n_ctx, C]],
  ]);
  for (let i = 0; i < cfg.n_layers; i++) {
    const block: [string, number[]][] = [
      ['ln_1.weight', [C]], ['ln_1.bias', [C]],
      ['attn.c_attn.weight', [C, 3 * C]], ['attn.c_attn.bias', [3 * C]],
      ['attn.c_proj.weight', [C, C]], ['attn.c_proj.bias', [C]],
      ['ln_2.weight', [C]], ['ln_2.bias', [C]],
      ['mlp.c_fc.weight', [C, cfg.d_mlp]], ['mlp.c_fc.bias', [cfg.d_mlp]],
      ['mlp.c_proj.weight', [cfg.d_mlp, C]], ['mlp.c_proj.bias', [C]],
    ]; // prettier-ignore
    for (const [name, shape] of block) shapes.set(`h.${i}.${name}`, shape);
  }
  shapes.set('ln_f.weight', [C]);
  shapes.set('ln_f.bias', [C]);
  if (!cfg.weight_tying) shapes.set('lm_head.weight', [rows, C]);
  return shapes;
}

/** Which file key fills each parameter, and the file's own lm head when the config ties it to wte. */
interface LoadPlan {
  keys: Map<string, string>;
  tiedHead: string | null;
}

/**
 * Checks a checkpoint's tensor list against a config, before any model is built: every
 * parameter present once with its shape and a float dtype, nothing else but attention-mask
 * buffers (`attn.bias`, `attn.masked_bias`) and, for a tied config, an `lm_head.weight` shaped
 * like wte. Keys may carry a `transformer.` prefix. So a model built from a config that passed
 * holds no more numbers than the file.
 */
export function checkCheckpoint(cfg: GPT2Config, tensors: TensorSource['tensors'], where: string): LoadPlan {
  const expected = checkpointShapes(cfg);
  const keys = new Map<string, string>(); // parameter name → file key
  const unexpected: string[] = [];
  let tiedHead: string | null = null;
  for (const key of tensors.keys()) {
    const name = key.startsWith('transformer.') ? key.slice('transformer.'.length) : key;
    if (/^h\.\d+\.attn\.(bias|masked_bias)$/.test(name)) continue; // causal-mask buffers, not weights
    if (name === 'lm_head.weight' && cfg.weight_tying) tiedHead = key;
    else if (!expected.has(name)) unexpected.push(key);
    else if (keys.has(name)) throw new Error(`${where}: '${keys.get(name)}' and '${key}' are the same parameter`);
    else keys.set(name, key);
  }
  const missing = [...expected.keys()].filter((name) => !keys.has(name));
  if (missing.length > 0 || unexpected.length > 0) {
    const list = (what: string, xs: string[]) => (xs.length > 0 ? ` ${what} ${xs.slice(0, 5).join(', ')}${xs.length > 5 ? ` (+${xs.length - 5} more)` : ''};` : '');
    throw new Error(`${where}: does not match the config:${list('missing', missing)}${list('unexpected', unexpected)}`.replace(/;$/, ''));
  }
  for (const [name, key] of keys) {
    const { shape, dtype } = tensors.get(key)!;
    if (!sameShape(shape, expected.get(name)!)) throw new Error(`${where}: '${key}' has shape ${fmt(shape)} but the config needs ${fmt(expected.get(name)!)}`);
    if (!isFloatDtype(dtype)) throw new Error(`${where}: '${key}' has dtype ${dtype}, not a float type`);
  }
  if (tiedHead !== null) {
    const wteKey = keys.get('wte.weight')!;
    const headInfo = tensors.get(tiedHead)!;
    if (!sameShape(headInfo.shape, tensors.get(wteKey)!.shape) || !isFloatDtype(headInfo.dtype)) {
      throw new Error(`${where}: '${tiedHead}' (${headInfo.dtype} ${fmt(headInfo.shape)}) cannot be the tied '${wteKey}'`);
    }
  }
  return { keys, tiedHead };
}

/**
 * Copies a checkpoint into model's parameters (their identity is kept), after
 * checkCheckpoint and, for a tied model with an `lm_head.weight`, a check that it equals
 * wte.weight: a bad file leaves the model as it was.
 */
export function loadTensors(model: GPT2Model, src: TensorSource, where: string): void {
  const { keys, tiedHead } = checkCheckpoint(model.cfg, src.tensors, where);
  if (tiedHead !== null) {
    const wteKey = keys.get('wte.weight')!;
    const head = src.read(tiedHead);
    const wte = src.read(wteKey);
    const i = head.findIndex((v, j) => !Object.is(v, wte[j]));
    if (i >= 0) throw new Error(`${where}: '${tiedHead}' differs from '${wteKey}' (element ${i}: ${head[i]} vs ${wte[i]}) but the config ties them`);
  }
  const own = new Map(model.namedParameters());
  for (const [name, key] of keys) {
    const p = own.get(name)!;
    const data = src.read(key);
    p.storage = p.backend.fromHost(isConv1D(name) ? transpose2d(data, p.shape[1], p.shape[0]) : data);
  }
}
