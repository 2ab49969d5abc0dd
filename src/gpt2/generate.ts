// Autoregressive text generation from a GPT2Model: feed the context, pick the next token
// from the last position's logits (greedy, or sampled with temperature, top-k and top-p),
// append it, repeat. The seed's `generate`, with its bugs fixed and a KV cache added.
// Promise: with a cache or without, the same tokens (the cache only skips recomputing the
// keys and values of positions already seen); the same seed gives the same tokens; logits
// that are not finite (weights with NaN/Inf, or that overflow) are an error, never a token.
import { noGrad } from '../autograd/tensor.ts';
import { rngFrom, type Rng } from '../autograd/random.ts';
import { EOT } from './config.ts';
import type { GPT2Model, KVCache } from './model.ts';

export interface SamplingOptions {
  /** Divides the logits; 0 means greedy (argmax). Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (ties with the k-th kept). */
  topK?: number | null;
  /** Keep the most likely tokens whose probabilities first reach a total of p (nucleus). */
  topP?: number | null;
}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens: number;
  /** Seeds a fresh sampling Rng; without it, tokens are drawn from the global generator (see manualSeed). */
  seed?: number;
  /** Stop when the model emits <|endoftext|> (which is then not returned). Default false. */
  stopAtEot?: boolean;
  /** Called with each new token as soon as it is chosen (streaming). */
  onToken?: (id: number) => void;
  /** Keep each block's keys and values between steps. Default true. */
  useCache?: boolean;
}

function checkSampling(o: SamplingOptions): void {
  const { temperature = 1, topK = null, topP = null } = o;
  if (!(temperature >= 0 && Number.isFinite(temperature))) throw new Error(`generate: temperature must be a finite number ≥ 0, got ${temperature}`);
  if (topK !== null && !(Number.isInteger(topK) && topK >= 1)) throw new Error(`generate: topK must be an integer ≥ 1, got ${topK}`);
  if (topP !== null && !(topP > 0 && topP <= 1)) throw new Error(`generate: topP must be in (0, 1], got ${topP}`);
}

/** Index of the largest value (the first, on ties). */
function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** The k-th largest of x (1 ≤ k ≤ x.length): a min-heap of the k largest seen, O(n log k). */
function kthLargest(x: ArrayLike<number>, k: number): number {
  const heap = new Float64Array(k); // heap[0] is the smallest of the k largest so far
  for (let i = 0; i < k; i++) heap[i] = x[i];
  const siftDown = (at: number) => {
    for (let p = at; ;) {
      const l = 2 * p + 1, r = l + 1;
      let m = p;
      if (l < k && heap[l] < heap[m]) m = l;
      if (r < k && heap[r] < heap[m]) m = r;
      if (m === p) return;
      [heap[p], heap[m]] = [heap[m], heap[p]];
      p = m;
    }
  };
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(i);
  for (let i = k; i < x.length; i++) {
    if (x[i] > heap[0]) {
      heap[0] = x[i];
      siftDown(0);
    }
  }
  return heap[0];
}

/**
 * The next token from one position's logits [V]. In Hugging Face's order: temperature, then
 * top-k, then top-p on the remaining tokens' probabilities; then one draw from rng.
 */
export function sampleNext(logits: ArrayLike<number>, opts: SamplingOptions, rng: Rng): number {
  const { temperature = 1, topK = null, topP = null } = opts;
  if (temperature === 0) return argmax(logits); // Seed bug: the seed divided by it (inf/NaN logits)
  const V = logits.length;
  // Seed bug: the seed's top_k used an undefined `k` (NameError); it meant top_k.
  // Candidates, most likely first (ties: the lower id first); without top-k or top-p all of
  // them, unsorted. Top-k keeps every id at or above the k-th largest logit, so ids tied with
  // the k-th all stay (the seed masked only `< threshold`).
  const threshold = topK !== null && topK < V ? kthLargest(logits, topK) : -Infinity;
  let candidates = new Int32Array(V);
  let kept = 0;
  for (let i = 0; i < V; i++) if (logits[i] >= threshold) candidates[kept++] = i;
  candidates = candidates.subarray(0, kept);
  if (topK !== null || topP !== null) candidates.sort((a, b) => logits[b] - logits[a] || a - b);
  // softmax of logits/temperature over the candidates
  const max = logits[argmax(logits)];
  const probs = Float64Array.from(candidates, (i) => Math.exp((logits[i] - max) / temperature));
  let total = probs.reduce((s, p) => s + p, 0);
  if (topP !== null && topP < 1) {
    let cum = 0;
    let keep = 0;
    while (keep < probs.length && cum < topP * total) cum += probs[keep++];
    candidates = candidates.subarray(0, keep);
    total = cum;
  }
  // inverse CDF: the first candidate whose cumulative probability exceeds u
  const u = rng.uniform() * total;
  let cum = 0;
  for (let j = 0; j < candidates.length; j++) {
    cum += probs[j];
    if (u < cum) return candidates[j];
  }
  return candidates[candidates.length - 1]; // u within rounding of total
}

/**
 * Continues `prompt` by up to maxNewTokens tokens and resolves to the new ones. The model runs
 * in eval mode (no dropout) and without a graph; its mode is restored afterwards. Async
 * because each token's logits are read back with `toArray()`, the one way to read them on
 * every backend (WebGPU can only read back asynchronously).
 */
export async function generate(model: GPT2Model, prompt: ArrayLike<number>, opts: GenerateOptions): Promise<number[]> {
  const { maxNewTokens, stopAtEot = false, onToken, useCache = true } = opts;
  if (!(Number.isInteger(maxNewTokens) && maxNewTokens >= 0)) throw new Error(`generate: maxNewTokens must be an integer ≥ 0, got ${maxNewTokens}`);
  if (prompt.length === 0) throw new Error('generate: the prompt is empty (give at least one token, e.g. <|endoftext|> = 50256)');
  checkSampling(opts);
  const n_ctx = model.cfg.n_ctx;
  const rng = rngFrom(opts);
  const context = Array.from(prompt);
  const out: number[] = [];
  const wasTraining = model.training;
  model.eval();
  try {
    let cache: KVCache[] | null = null;
    let cached = 0; // positions the cache holds
    while (out.length < maxNewTokens) {
      // Feed only the newest token when the cache holds the rest and there is room; else
      // (first step, no cache, or the context outgrew n_ctx) the last n_ctx tokens afresh.
      let feed: number[];
      if (useCache && cache !== null && cached < n_ctx) {
        feed = context.slice(-1);
      } else {
        feed = context.slice(-n_ctx);
        cache = useCache ? model.newCache() : null;
        cached = 0;
      }
      const logits = noGrad(() => model.forward(Int32Array.from(feed), [1, feed.length], { cache, lastOnly: true })); // [1, 1, V]
      cached += feed.length;
      const values = await logits.toArray();
      let bad = 0;
      while (bad < values.length && Number.isFinite(values[bad])) bad++;
      if (bad < values.length) throw new Error(`the model's logits are not finite (${values[bad]} for token ${bad}) at new token ${out.length}: its weights hold NaN/Inf or overflow`);
      const next = sampleNext(values, opts, rng);
      if (stopAtEot && next === EOT) break;
      context.push(next);
      out.push(next);
      onToken?.(next);
    }
  } finally {
    model.train(wasTraining);
  }
  return out;
}
