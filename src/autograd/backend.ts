// The backend interface: every loop that touches a tensor's numbers runs behind it.
// A Tensor never computes anything itself; it asks its Backend for a kernel.
// Promise: a backend that implements the REQUIRED primitives below can run every op in tsgrad:
// completeBackend (./composed.ts) adds each OPTIONAL fused kernel it leaves out, composed of
// its own primitives. The reference backend (./reference) implements all of them in plain
// TypeScript, and defines what each one computes. docs/backends.md says how to add a backend.
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
//
// Arguments: every kernel takes one object of named arguments, except the two shortest,
// unary(op, x) and matmul(a, b, p). A kernel never changes its inputs and returns new
// storage, with one documented exception: a backend's adamw may update the parameter and its
// moments in place (the 'cpu' backend does).

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

/**
 * Elementwise functions of one input. `step` is the Heaviside step (x > 0 ? 1 : 0), relu's
 * derivative; `gelu_grad` is d gelu(x)/dx, gelu's derivative.
 */
export type UnaryOp = 'neg' | 'exp' | 'log' | 'sqrt' | 'tanh' | 'relu' | 'step' | 'gelu' | 'gelu_grad';

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

/** The MatmulParams of op(A) [m, k] · op(B) [k, n]: one product, no transposes, unless `o` says otherwise. */
export function matmulParams(m: number, k: number, n: number, o: Partial<Omit<MatmulParams, 'm' | 'k' | 'n'>> = {}): MatmulParams {
  return { batch: 1, transA: false, transB: false, aBatched: false, bBatched: false, ...o, m, k, n };
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

// ---- the arguments of the kernels --------------------------------------------------------

/** out[i] = a[i] op b[i], with a [aShape] and b [bShape] broadcast (NumPy rules) to outShape. */
export interface BinaryArgs {
  op: BinaryOp;
  a: Storage;
  aShape: number[];
  b: Storage;
  bShape: number[];
  outShape: number[];
}

/** out = mask ? value : x, with mask [maskShape] (nonzero = true) broadcast to x's shape. */
export interface MaskedFillArgs {
  x: Storage;
  shape: number[];
  mask: Storage;
  maskShape: number[];
  value: number;
}

/** x [shape] with its axes reordered: out axis i is input axis perm[i]. */
export interface PermuteArgs {
  x: Storage;
  shape: number[];
  perm: number[];
}

/** The box x[begin[0] : begin[0]+size[0], …] of x [shape]. */
export interface SliceArgs {
  x: Storage;
  shape: number[];
  begin: number[];
  size: number[];
}

/** Zeros of outShape with x [shape] written into the box that starts at begin (slice's inverse). */
export interface PadArgs {
  x: Storage;
  shape: number[];
  begin: number[];
  outShape: number[];
}

/** op over one axis of x [shape]: the result has that axis removed. */
export interface ReduceArgs {
  op: ReduceOp;
  x: Storage;
  shape: number[];
  axis: number;
}

/** A row kernel's input x [rows, cols] (softmax, log-softmax): each row on its own. */
export interface RowsArgs {
  x: Storage;
  rows: number;
  cols: number;
}

/** A row kernel's backward: its output y [rows, cols] and the gradient dy of y. */
export interface RowsBackwardArgs {
  y: Storage;
  dy: Storage;
  rows: number;
  cols: number;
}

/** Softmax + cross-entropy of logits [rows, cols], one target class per row (rows with ignoreIndex count 0). */
export interface CrossEntropyArgs {
  logits: Storage;
  targets: Int32Array;
  rows: number;
  cols: number;
  ignoreIndex: number;
}

/** The cross-entropy backward: the forward's inputs, its saved lse [rows], and dloss [rows]. */
export interface CrossEntropyBackwardArgs extends CrossEntropyArgs {
  lse: Storage;
  dloss: Storage;
}

/** The language-model head and its loss: x [N, C], w [V, C], one target per row of x. */
export interface LinearCrossEntropyArgs {
  x: Storage;
  w: Storage;
  targets: Int32Array;
  N: number;
  C: number;
  V: number;
  ignoreIndex: number;
  /** Also make the gradients of Σ loss, dx and dw. */
  withGrad: boolean;
}

/** LayerNorm over the last axis of x [rows, cols], with weight and bias [cols]. */
export interface LayerNormArgs {
  x: Storage;
  weight: Storage;
  bias: Storage;
  rows: number;
  cols: number;
  eps: number;
}

/** The LayerNorm backward: the forward's x and weight, its saved mean and rstd [rows], and dy [rows, cols]. */
export interface LayerNormBackwardArgs {
  dy: Storage;
  x: Storage;
  weight: Storage;
  mean: Storage;
  rstd: Storage;
  rows: number;
  cols: number;
}

export interface AttentionArgs extends AttentionParams {
  q: Storage;
  k: Storage;
  v: Storage;
}

/** The attention backward: the forward's inputs, its output and saved lse [BH, Tq], and dout. */
export interface AttentionBackwardArgs extends AttentionArgs {
  dout: Storage;
  out: Storage;
  lse: Storage;
}

/** Rows of weight [V, C] picked by ids. */
export interface EmbeddingArgs {
  weight: Storage;
  ids: Int32Array;
  V: number;
  C: number;
}

/** Scatter-add of dy [ids.length, C] into a zero [V, C]. */
export interface EmbeddingBackwardArgs {
  dy: Storage;
  ids: Int32Array;
  V: number;
  C: number;
}

/** One AdamW update of param with gradient grad and moments m, v (all the same length). */
export interface AdamWArgs extends AdamWParams {
  param: Storage;
  grad: Storage;
  m: Storage;
  v: Storage;
}

/**
 * Newton–Schulz orthogonalisation of x [rows, cols] (Muon's): X ← x / (‖x‖_F + eps), then
 * `steps` times X ← a·X + b·A·X + c·A²·X with A = X·Xᵀ [rows, rows] when rows ≤ cols; a tall x
 * works on its other side, A = Xᵀ·X [cols, cols] and X ← X·(a·I + b·A + c·A²), the same
 * function (x = PΣQᵀ → P·p(Σ)·Qᵀ either way).
 */
export interface NewtonSchulzArgs {
  x: Storage;
  rows: number;
  cols: number;
  steps: number;
  /** The polynomial's (a, b, c). */
  coefficients: readonly [number, number, number];
  eps: number;
}

// ---- the interface -----------------------------------------------------------------------

/** What every backend must write: memory, and the primitive kernels every op is made of. */
export interface Primitives {
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
  binary(a: BinaryArgs): Storage;
  maskedFill(a: MaskedFillArgs): Storage;

  // ---- layout: contiguous copies --------------------------------------------------------
  permute(a: PermuteArgs): Storage;
  slice(a: SliceArgs): Storage;
  pad(a: PadArgs): Storage;

  // ---- reduction and product ------------------------------------------------------------
  reduce(a: ReduceArgs): Storage;
  matmul(a: Storage, b: Storage, p: MatmulParams): Storage;
}

/**
 * The fused kernels: one kernel where the primitives would take several, and, for the
 * losses and attention, far less memory. Each is optional to write: ./composed.ts has its
 * composed default, the same function of the same backend's primitives.
 */
export interface FusedKernels {
  /** Row softmax of x [rows, cols]. */
  softmax(a: RowsArgs): Storage;
  /** dx = y ⊙ (dy − Σ dy⊙y) per row, from the softmax output y. */
  softmaxBackward(a: RowsBackwardArgs): Storage;
  /** Row log-softmax of x [rows, cols]. */
  logSoftmax(a: RowsArgs): Storage;
  /** dx = dy − softmax·Σdy per row, from the log-softmax output y. */
  logSoftmaxBackward(a: RowsBackwardArgs): Storage;

  /** loss[r] = logsumexp(x[r]) − x[r, target[r]] (0 where target = ignoreIndex), and lse[r] = logsumexp(x[r]). */
  crossEntropy(a: CrossEntropyArgs): { loss: Storage; lse: Storage };
  /** dlogits[r] = dloss[r] · (softmax(x[r]) − onehot(target[r])), 0 for ignored rows. */
  crossEntropyBackward(a: CrossEntropyBackwardArgs): Storage;

  /**
   * The language-model head and its loss in one: per row of x [N, C], logits = x·wᵀ over the
   * V rows of w [V, C], then cross-entropy as `crossEntropy`: loss [N], 0 where target =
   * ignoreIndex. With withGrad it also returns the gradients of Σ loss, made while the logits
   * are at hand (the loss is the graph's last op, so its backward only has to scale them):
   *   dx [N, C] = dlogits·w,  dw [V, C] = dlogitsᵀ·x,  dlogits = softmax − onehot(target), 0 in ignored rows.
   * A fused backend never holds all [N, V] logits at once (docs/backward.md derives it).
   */
  linearCrossEntropy(a: LinearCrossEntropyArgs): { loss: Storage; dx: Storage | null; dw: Storage | null };

  /** y = (x − mean) · rstd · weight + bias per row; also the rows' mean and rstd = 1/√(var + eps) [rows]. */
  layerNorm(a: LayerNormArgs): { y: Storage; mean: Storage; rstd: Storage };
  layerNormBackward(a: LayerNormBackwardArgs): { dx: Storage; dweight: Storage; dbias: Storage };

  /** Causal attention (see AttentionParams); also returns each query row's logsumexp [BH, Tq]. */
  attention(a: AttentionArgs): { out: Storage; lse: Storage };
  attentionBackward(a: AttentionBackwardArgs): { dq: Storage; dk: Storage; dv: Storage };

  /** out [ids.length, C]: row ids[i] of weight. */
  embedding(a: EmbeddingArgs): Storage;
  /** dweight [V, C]. */
  embeddingBackward(a: EmbeddingBackwardArgs): Storage;

  /** One PyTorch AdamW step for a parameter: the new param, m and v. */
  adamw(a: AdamWArgs): { param: Storage; m: Storage; v: Storage };

  /** Muon's orthogonalised update direction [rows, cols] (see NewtonSchulzArgs). */
  newtonSchulz(a: NewtonSchulzArgs): Storage;
}

/** A backend as the ops see it: every primitive and every fused kernel (see completeBackend). */
export interface Backend extends Primitives, FusedKernels {}

/** What a backend's author writes: the primitives, and any fused kernels it has. */
export type BackendKernels = Primitives & Partial<FusedKernels>;

/** True when s is host memory (a typed array), false for a device handle. */
export function isHost(s: Storage): s is HostArray {
  return s instanceof Float32Array || s instanceof Float64Array;
}

/** The precision of a storage: device arrays hold float32. */
export function dtypeOf(s: Storage): DType {
  return s instanceof Float64Array ? 'float64' : 'float32';
}
