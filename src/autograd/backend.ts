// The backend interface: every loop that touches a tensor's numbers runs behind it.
// A Tensor never computes anything itself; it asks the current Backend for a kernel.
// Promise: a backend that implements this interface can run every op in tsgrad, and
// the reference backend (./reference) implements all of it in plain TypeScript.
//
// Three kinds of backend share this one interface:
//   - the reference backend ('js'): plain loops over typed arrays, the readable version;
//   - fast CPU backends ('cpu', 'webasm'): same host typed arrays, faster kernels;
//   - device backends ('webgpu', 'headlessgl'): numbers stay in GPU memory.
// The trick that lets one synchronous API serve an async-only device (WebGPU): a kernel
// call returns a Storage *immediately*. A device backend's Storage is a handle whose
// contents may still be on their way (a promise inside the handle); the next kernel
// simply chains on it. Only reading numbers back to the CPU (`toHostAsync`) has to wait.
// So model code stays synchronous and readable, and nothing is read back between kernels.

/** A tensor's numbers on the CPU: row-major, contiguous. float64 exists for gradient checks. */
export type HostArray = Float32Array | Float64Array;

/** A tensor's numbers on a device: an opaque handle that only its backend understands. */
export interface DeviceArray {
  /** Name of the backend that owns this handle. */
  readonly backend: string;
  /** Number of elements. */
  readonly length: number;
}

/** What a kernel takes and returns. Host backends use HostArray, device backends DeviceArray. */
export type Storage = HostArray | DeviceArray;

export type DType = 'float32' | 'float64';

/** Elementwise functions of one input. `step` is the Heaviside step (x > 0 ? 1 : 0). */
export type UnaryOp = 'neg' | 'exp' | 'log' | 'sqrt' | 'tanh' | 'relu' | 'step' | 'gelu';

/** Elementwise functions of two inputs, with NumPy broadcasting. `eq` gives 1 or 0. */
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'eq';

export type ReduceOp = 'sum' | 'max';

/**
 * One (possibly batched) matrix product C = op(A) · op(B), all row-major.
 * op(A) is [m, k] (A stored [k, m] when transA), op(B) is [k, n] (B stored [n, k] when transB).
 * batch copies; an operand whose `*Batched` flag is false is shared by every batch
 * (the Linear layer's weight), so no broadcast copy is ever made.
 */
export interface MatmulParams {
  batch: number;
  m: number;
  k: number;
  n: number;
  transA: boolean;
  transB: boolean;
  aBatched: boolean;
  bBatched: boolean;
}

/**
 * Causal scaled-dot-product attention over BH = batch·heads independent problems:
 * out = softmax(mask(q·kᵀ·scale))·v with q [BH, Tq, D], k and v [BH, Tk, D].
 * Query i sits at position i + (Tk − Tq) and sees keys 0 … i + (Tk − Tq): with Tq = Tk
 * that is the usual causal mask, with Tq = 1 it is one decoding step over a KV cache.
 */
export interface AttentionParams {
  BH: number;
  Tq: number;
  Tk: number;
  D: number;
  scale: number;
}

/** PyTorch AdamW hyper-parameters for one update; `step` counts from 1. */
export interface AdamWParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
}

export interface Backend {
  /** 'js', 'cpu', 'webasm', 'webgpu', 'headlessgl', ... */
  readonly name: string;
  /** True when numbers can only be read back with `toHostAsync` (WebGPU). */
  readonly asyncOnly: boolean;

  // ---- memory ---------------------------------------------------------------------------
  /** Puts host numbers where this backend computes (host backends: the array itself). */
  fromHost(x: HostArray): Storage;
  /** Reads numbers back to the CPU. Throws on asyncOnly backends. */
  toHost(x: Storage): HostArray;
  toHostAsync(x: Storage): Promise<HostArray>;
  /** n copies of value. */
  fill(n: number, value: number, dtype: DType): Storage;

  // ---- elementwise ----------------------------------------------------------------------
  unary(op: UnaryOp, x: Storage): Storage;
  /** out[i] = a[i] op b[i] with a, b broadcast (NumPy rules) to outShape. */
  binary(op: BinaryOp, a: Storage, aShape: number[], b: Storage, bShape: number[], outShape: number[]): Storage;
  /** out = mask ? value : x, mask (nonzero = true) broadcast to x's shape. */
  maskedFill(x: Storage, xShape: number[], mask: Storage, maskShape: number[], value: number): Storage;
  /** d/dx gelu(x) · dy, for the tanh-approximated GELU. */
  geluBackward(x: Storage, dy: Storage): Storage;

  // ---- layout ---------------------------------------------------------------------------
  /** Contiguous copy of x with its axes reordered: out axis i is input axis perm[i]. */
  permute(x: Storage, shape: number[], perm: number[]): Storage;
  /** The box x[begin[0] : begin[0]+size[0], ...], contiguous. */
  slice(x: Storage, shape: number[], begin: number[], size: number[]): Storage;
  /** Inverse of slice: zeros of outShape with x written into the box starting at begin. */
  pad(x: Storage, shape: number[], begin: number[], outShape: number[]): Storage;

  // ---- reductions -----------------------------------------------------------------------
  /** Reduces one axis; the result has shape with that axis removed. */
  reduce(op: ReduceOp, x: Storage, shape: number[], axis: number): Storage;

  // ---- the hot ops, each a forward/backward pair -----------------------------------------
  matmul(a: Storage, b: Storage, p: MatmulParams): Storage;

  /** Row softmax of x [rows, cols]. */
  softmax(x: Storage, rows: number, cols: number): Storage;
  /** dx = y ⊙ (dy − Σ dy⊙y) per row, from the softmax output y. */
  softmaxBackward(y: Storage, dy: Storage, rows: number, cols: number): Storage;
  /** Row log-softmax of x [rows, cols]. */
  logSoftmax(x: Storage, rows: number, cols: number): Storage;
  /** dx = dy − softmax·Σdy per row, from the log-softmax output y. */
  logSoftmaxBackward(y: Storage, dy: Storage, rows: number, cols: number): Storage;

  /**
   * Fused softmax + cross-entropy per row: loss[r] = logsumexp(x[r]) − x[r, target[r]]
   * (0 where target = ignoreIndex). Returns the losses [rows] and logsumexp [rows].
   */
  crossEntropy(logits: Storage, targets: Int32Array, rows: number, cols: number, ignoreIndex: number): { loss: Storage; lse: Storage };
  /** dlogits[r] = dloss[r] · (softmax(x[r]) − onehot(target[r])), 0 for ignored rows. */
  crossEntropyBackward(logits: Storage, lse: Storage, targets: Int32Array, dloss: Storage, rows: number, cols: number, ignoreIndex: number): Storage;

  /**
   * The language-model head and its loss in one: per row of x [N, C], logits = x·wᵀ over the
   * V rows of w [V, C], then cross-entropy as `crossEntropy`: loss [N], 0 where target =
   * ignoreIndex. With withGrad it also returns the gradients of Σ loss, made while the logits
   * are at hand (the loss is the graph's last op, so its backward only has to scale them):
   *   dx [N, C] = dlogits·w,  dw [V, C] = dlogitsᵀ·x,  dlogits = softmax − onehot(target), 0 in ignored rows.
   * A fused backend never holds all [N, V] logits at once; the composed version
   * (./linear_cross_entropy.ts) is matmul, crossEntropy, crossEntropyBackward and two matmuls.
   */
  linearCrossEntropy(x: Storage, w: Storage, targets: Int32Array, N: number, C: number, V: number, ignoreIndex: number, withGrad: boolean): { loss: Storage; dx: Storage | null; dw: Storage | null };

  /** y = (x − mean) · rstd · weight + bias per row of x [rows, cols]; also returns mean, rstd [rows]. */
  layerNorm(x: Storage, weight: Storage, bias: Storage, rows: number, cols: number, eps: number): { y: Storage; mean: Storage; rstd: Storage };
  layerNormBackward(dy: Storage, x: Storage, weight: Storage, mean: Storage, rstd: Storage, rows: number, cols: number): { dx: Storage; dweight: Storage; dbias: Storage };

  /** Causal attention (see AttentionParams); also returns each query row's logsumexp [BH, Tq]. */
  attention(q: Storage, k: Storage, v: Storage, p: AttentionParams): { out: Storage; lse: Storage };
  attentionBackward(dout: Storage, q: Storage, k: Storage, v: Storage, out: Storage, lse: Storage, p: AttentionParams): { dq: Storage; dk: Storage; dv: Storage };

  /** Rows of weight [V, C] picked by ids: out [ids.length, C]. */
  embedding(weight: Storage, ids: Int32Array, V: number, C: number): Storage;
  /** Scatter-add of dy [ids.length, C] into a zero [V, C]. */
  embeddingBackward(dy: Storage, ids: Int32Array, V: number, C: number): Storage;

  /** One PyTorch AdamW step for a parameter. Host backends may update in place and return their inputs. */
  adamw(param: Storage, grad: Storage, m: Storage, v: Storage, p: AdamWParams): { param: Storage; m: Storage; v: Storage };
}

/** True when s is host memory (a typed array), false for a device handle. */
export function isHost(s: Storage): s is HostArray {
  return s instanceof Float32Array || s instanceof Float64Array;
}
