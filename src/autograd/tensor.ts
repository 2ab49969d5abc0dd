// The Tensor: an n-dimensional array of numbers plus the recipe that made it, so that
// `loss.backward()` can walk the recipe in reverse and fill every leaf's `.grad`.
// Promise: contiguous row-major storage (Float32Array, or Float64Array for gradient checks),
// held by a Backend; every op's forward and backward live side by side in ./ops/*.ts.
import type { Backend, DType, HostArray, Storage } from './backend.ts';
import { getBackend, referenceBackend } from './backends/registry.ts';
import { fmt, numel, type Shape } from './shape.ts';
import { rngFrom, type Rng } from './random.ts';
import * as ew from './ops/elementwise.ts';
import * as red from './ops/reduce.ts';
import * as lay from './ops/layout.ts';
import { matmul } from './ops/matmul.ts';
import { logSoftmax, softmax } from './ops/softmax.ts';

/** A nested JavaScript array of numbers, e.g. [[1, 2], [3, 4]]. */
export type NestedArray = number | NestedArray[];

/** How a non-leaf tensor was made: its inputs and the rule that maps its gradient to theirs. */
export interface GradFn {
  op: string;
  parents: Tensor[];
  /** Given dL/d(this), returns dL/d(parent) for each parent (null where none is needed). */
  backward: (grad: Tensor) => (Tensor | null)[];
}

// ---- grad mode -------------------------------------------------------------------------

let gradEnabled = true;

/** Runs fn without recording any graph (inference, optimizer updates, backward itself). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

// ---- the class -------------------------------------------------------------------------

export class Tensor {
  readonly shape: number[];
  readonly dtype: DType;
  /** The backend that holds `storage`. */
  readonly backend: Backend;
  /**
   * The numbers. No op changes them: every op returns new storage. An optimizer step and
   * loadStateDict replace a parameter's storage; on the 'cpu' backend the optimizer's AdamW
   * kernel updates it in place instead (see Backend.adamw), so `p.data` read before a step
   * shows the new values after it there.
   */
  storage: Storage;
  /** dL/d(this) after backward(), for leaves with requiresGrad. */
  grad: Tensor | null = null;
  requiresGrad: boolean;
  /** Set on tensors made by an op while grad mode is on; null on leaves. */
  gradFn: GradFn | null;
  /** Set when backward() has freed this node's recipe; back-propagating through it again would lose gradients. */
  private graphFreed = false;

  constructor(storage: Storage, shape: number[], dtype: DType, backend: Backend, requiresGrad = false, gradFn: GradFn | null = null) {
    if (storage.length !== numel(shape)) {
      throw new Error(`Tensor: ${storage.length} numbers cannot have shape ${fmt(shape)}`);
    }
    this.storage = storage;
    this.shape = shape;
    this.dtype = dtype;
    this.backend = backend;
    this.requiresGrad = requiresGrad;
    this.gradFn = gradFn;
  }

  get size(): number {
    return this.storage.length;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** The numbers as a host typed array (a device backend copies them back; WebGPU cannot). */
  get data(): HostArray {
    return this.backend.toHost(this.storage);
  }

  /** The numbers as a host typed array, on every backend (WebGPU included). */
  toArray(): Promise<HostArray> {
    return this.backend.toHostAsync(this.storage);
  }

  /** The single number of a one-element tensor (a device backend copies it back; WebGPU cannot: use toNumber()). */
  item(): number {
    this.checkScalar('item');
    return this.data[0];
  }

  /** The single number of a one-element tensor, on every backend (WebGPU included): `await loss.toNumber()`. */
  async toNumber(): Promise<number> {
    this.checkScalar('toNumber');
    return (await this.toArray())[0];
  }

  private checkScalar(method: string): void {
    if (this.size !== 1) throw new Error(`${method}: tensor of shape ${fmt(this.shape)} has ${this.size} elements, not 1`);
  }

  /** Nested JavaScript arrays, for printing and tests. */
  tolist(): NestedArray {
    const data = this.data;
    const build = (dim: number, offset: number): NestedArray => {
      if (dim === this.shape.length) return data[offset];
      const stride = numel(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  /** Same numbers, cut from the graph: no gradient flows through the result. */
  detach(): Tensor {
    return new Tensor(this.storage, this.shape, this.dtype, this.backend);
  }

  /** A copy on another backend (`to(backend)`) or in another precision (`to('float64')`). */
  to(target: Backend | DType): Tensor {
    const host = this.data;
    if (typeof target === 'string') {
      const converted = target === 'float64' ? Float64Array.from(host) : Float32Array.from(host);
      return tensor(converted, { shape: this.shape, dtype: target, requiresGrad: this.requiresGrad });
    }
    return tensor(host, { shape: this.shape, dtype: this.dtype, backend: target, requiresGrad: this.requiresGrad });
  }

  zeroGrad(): void {
    this.grad = null;
  }

  /**
   * Reverse-mode autodiff. Orders the graph topologically (iteratively, so deep graphs
   * cannot overflow the stack), then visits nodes from the output back to the leaves,
   * summing the gradient each parent receives from all of its children. Leaves with
   * requiresGrad accumulate into `.grad` (as PyTorch: call zeroGrad between steps).
   * The graph is freed afterwards.
   */
  backward(grad?: Tensor): void {
    if (!this.requiresGrad) throw new Error('backward: this tensor does not require grad (no input had requiresGrad)');
    if (grad === undefined) {
      if (this.size !== 1) {
        throw new Error(`backward: output of shape ${fmt(this.shape)} is not a scalar; pass the gradient of the loss w.r.t. it`);
      }
      grad = full(this.shape, 1, { dtype: this.dtype, backend: this.backend });
    } else if (grad.size !== this.size) {
      throw new Error(`backward: gradient of shape ${fmt(grad.shape)} does not match output ${fmt(this.shape)}`);
    }

    // 1. topological order: a node comes after all of its parents. A node whose recipe an
    // earlier backward freed would pass as a leaf and silently drop its inputs' gradients,
    // so refuse it (as PyTorch does) before any .grad is touched.
    const freedError = () => new Error('backward: the graph was already freed by an earlier backward(); run the forward again');
    if (this.graphFreed) throw freedError();
    const order: Tensor[] = [];
    const seen = new Set<Tensor>([this]);
    const stack: [Tensor, number][] = [[this, 0]]; // node, index of the next parent to visit
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const parents = top[0].gradFn?.parents ?? [];
      if (top[1] < parents.length) {
        const p = parents[top[1]++];
        if (p.requiresGrad && !seen.has(p)) {
          if (p.graphFreed) throw freedError();
          seen.add(p);
          stack.push([p, 0]);
        }
      } else {
        order.push(top[0]);
        stack.pop();
      }
    }

    // 2. walk it backwards, handing each node's gradient to its parents
    const grads = new Map<Tensor, Tensor>([[this, grad]]);
    noGrad(() => {
      for (let i = order.length - 1; i >= 0; i--) {
        const node = order[i];
        const g = grads.get(node);
        grads.delete(node);
        if (g === undefined) continue;
        if (node.gradFn === null) {
          node.grad = node.grad === null ? g : node.grad.add(g); // a leaf
          continue;
        }
        const parentGrads = node.gradFn.backward(g);
        node.gradFn.parents.forEach((p, j) => {
          const pg = parentGrads[j];
          if (!p.requiresGrad || pg === null) return;
          const prev = grads.get(p);
          grads.set(p, prev === undefined ? pg : prev.add(pg)); // a node used twice sums both
        });
        node.gradFn = null; // free the graph as we go
        node.graphFreed = true;
      }
    });
  }

  // ---- ops (each defined, forward beside backward, in ./ops) -----------------------------
  add(other: Tensor | number): Tensor { return ew.add(this, other); }
  sub(other: Tensor | number): Tensor { return ew.sub(this, other); }
  mul(other: Tensor | number): Tensor { return ew.mul(this, other); }
  div(other: Tensor | number): Tensor { return ew.div(this, other); }
  pow(exponent: Tensor | number): Tensor { return ew.pow(this, exponent); }
  neg(): Tensor { return ew.neg(this); }
  exp(): Tensor { return ew.exp(this); }
  log(): Tensor { return ew.log(this); }
  sqrt(): Tensor { return ew.sqrt(this); }
  tanh(): Tensor { return ew.tanh(this); }
  relu(): Tensor { return ew.relu(this); }
  gelu(): Tensor { return ew.gelu(this); }
  eq(other: Tensor | number): Tensor { return ew.eq(this, other); }
  maskedFill(mask: Tensor, value: number): Tensor { return ew.maskedFill(this, mask, value); }
  matmul(other: Tensor): Tensor { return matmul(this, other); }
  sum(axis?: number | number[], keepdim = false): Tensor { return red.sum(this, axis, keepdim); }
  mean(axis?: number | number[], keepdim = false): Tensor { return red.mean(this, axis, keepdim); }
  max(axis?: number, keepdim = false): Tensor { return red.max(this, axis, keepdim); }
  reshape(...shape: number[] | [number[]]): Tensor { return lay.reshape(this, shape.flat()); }
  transpose(dim0 = -2, dim1 = -1): Tensor { return lay.transpose(this, dim0, dim1); }
  permute(...perm: number[] | [number[]]): Tensor { return lay.permute(this, perm.flat()); }
  slice(axis: number, start: number, end?: number): Tensor { return lay.slice(this, axis, start, end); }
  concat(others: Tensor[], axis = 0): Tensor { return lay.concat([this, ...others], axis); }
  expand(shape: number[]): Tensor { return lay.expand(this, shape); }
  softmax(axis = -1): Tensor { return softmax(this, axis); }
  logSoftmax(axis = -1): Tensor { return logSoftmax(this, axis); }

  toString(): string {
    return `Tensor(${JSON.stringify(this.tolist())}, shape=${fmt(this.shape)}, dtype=${this.dtype})`;
  }
}

// ---- making tensors from ops -----------------------------------------------------------

/**
 * The one way an op makes its output: records parents and backward rule when grad mode
 * is on and some parent needs a gradient, otherwise makes a plain leaf.
 */
export function fromOp(op: string, storage: Storage, shape: number[], like: Tensor, parents: Tensor[], backward: GradFn['backward']): Tensor {
  const needsGrad = gradEnabled && parents.some((p) => p.requiresGrad);
  return new Tensor(storage, shape, like.dtype, like.backend, needsGrad, needsGrad ? { op, parents, backward } : null);
}

/** A plain tensor (no graph) around a kernel's result, with `like`'s dtype and backend. */
export function wrap(storage: Storage, shape: number[], like: Tensor): Tensor {
  return new Tensor(storage, shape, like.dtype, like.backend);
}

/** The backend an op on these tensors runs on; float64 and float32 may not be mixed. */
export function backendOf(op: string, ...ts: Tensor[]): Backend {
  const first = ts[0];
  for (const t of ts) {
    if (t.dtype !== first.dtype) throw new Error(`${op}: dtype mismatch (${first.dtype} vs ${t.dtype})`);
    if (t.backend !== first.backend) {
      throw new Error(`${op}: tensors live on different backends ('${first.backend.name}' and '${t.backend.name}'); create them after setBackend, or use .to()`);
    }
  }
  return first.backend;
}

// ---- creating tensors ------------------------------------------------------------------

export interface TensorOptions {
  shape?: number[];
  dtype?: DType;
  requiresGrad?: boolean;
  /** Defaults to the current backend (float64 always lives on the reference backend). */
  backend?: Backend;
}

function placeOn(opts: TensorOptions): { dtype: DType; backend: Backend } {
  const dtype = opts.dtype ?? 'float32';
  const backend = dtype === 'float64' ? referenceBackend : (opts.backend ?? getBackend());
  return { dtype, backend };
}

function inferShape(x: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = x;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

/** Row-major list of the numbers in a nested array, checking that it is not ragged. */
function flatten(x: NestedArray, shape: number[], dim = 0, out: number[] = []): number[] {
  if (dim === shape.length) {
    if (Array.isArray(x)) throw new Error('tensor: ragged nested array');
    out.push(x);
    return out;
  }
  if (!Array.isArray(x) || x.length !== shape[dim]) throw new Error('tensor: ragged nested array');
  for (const item of x) flatten(item, shape, dim + 1, out);
  return out;
}

/** values copied into a host array of p's precision (loading a state dict or optimizer state into p's place). */
export function hostLike(p: Tensor, values: ArrayLike<number>): HostArray {
  return p.dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
}

/** tensor([[1, 2], [3, 4]]), tensor(3.5) (a scalar), or tensor(float32Array, { shape: [2, 2] }). */
export function tensor(values: NestedArray | ArrayLike<number>, opts: TensorOptions = {}): Tensor {
  const { dtype, backend } = placeOn(opts);
  let flat: ArrayLike<number>;
  let shape: number[];
  if (ArrayBuffer.isView(values)) {
    flat = values as ArrayLike<number>;
    shape = opts.shape ?? [flat.length];
  } else {
    const nested = values as NestedArray;
    const inferred = inferShape(nested);
    flat = flatten(nested, inferred);
    shape = opts.shape ?? inferred;
  }
  const host = dtype === 'float64' ? Float64Array.from(flat) : Float32Array.from(flat);
  if (host.length !== numel(shape)) throw new Error(`tensor: ${host.length} values cannot have shape ${fmt(shape)}`);
  return new Tensor(backend.fromHost(host), [...shape], dtype, backend, opts.requiresGrad ?? false);
}

/** A tensor of `shape` filled with `value`. */
export function full(shape: Shape, value: number, opts: Omit<TensorOptions, 'shape'> = {}): Tensor {
  const { dtype, backend } = placeOn(opts);
  return new Tensor(backend.fill(numel(shape), value, dtype), [...shape], dtype, backend, opts.requiresGrad ?? false);
}

export function zeros(shape: Shape, opts: Omit<TensorOptions, 'shape'> = {}): Tensor {
  return full(shape, 0, opts);
}

export function ones(shape: Shape, opts: Omit<TensorOptions, 'shape'> = {}): Tensor {
  return full(shape, 1, opts);
}

/** Normal(mean, std) numbers from `rng`, or a fresh Rng(seed), or else the global generator (see manualSeed). */
export function randn(shape: Shape, opts: Omit<TensorOptions, 'shape'> & { seed?: number; rng?: Rng; mean?: number; std?: number } = {}): Tensor {
  const rng = rngFrom(opts);
  const { mean = 0, std = 1 } = opts;
  const values = new Float64Array(numel(shape));
  for (let i = 0; i < values.length; i++) values[i] = mean + std * rng.normal();
  return tensor(values, { ...opts, shape: [...shape] });
}
