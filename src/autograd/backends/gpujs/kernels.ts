// The gpu.js kernels behind the hot ops, written once and compiled by every gpu.js mode
// (WGSL for webgpu, GLSL for headlessgl, wasm for webasm). Promise: each matches its
// reference kernel (../reference) up to float32 rounding, at any size that fits the device.
//
// Three gpu.js rules shape how these are written (each silently gives wrong answers):
//   - a local variable is always a float, even `const i = this.thread.x`, and float32 holds
//     integers exactly only up to 2²⁴; so every array index is written *inline* from
//     integers only: thread ids, 'Integer' arguments and loop counters — never a local
//     variable, never a division. webasm keeps loop counters in float32 too, and one float
//     term turns the whole index float, so a counter in an index is written `(l | 0)` (a
//     real i32 op in wasm and WGSL; the launcher strips it for WebGL 1, which emulates `|`
//     with a loop and whose counters are exact ints anyway);
//   - so outputs are 2-D/3-D and the thread ids are the coordinates: a [rows, cols] result
//     is output [cols, RA, RB] with row = y + RA·z (RB > 1 only to fit a GL texture);
//   - each loop counter needs its own name (a reused one is redeclared in WGSL/GLSL);
//   - a loop bound that is an argument is capped at `loopMaxIterations`, which the
//     launcher raises far above any size (see LOOP_MAX in ./launch.ts).
// Arrays are passed flat and read as a[i]; sizes are 'Integer' arguments.

/** What gpu.js gives a kernel as `this`. */
interface K {
  thread: { x: number; y: number; z: number };
}

export type ArgType = 'Array' | 'Integer' | 'Float';

/** One kernel: its source and the type of each argument, in order. */
export interface KernelDef {
  name: string;
  fn: (this: K, ...args: never[]) => number;
  types: ArgType[];
}

type F = Float32Array;

// ---- matmul: out [batch, m, n] = op(A) · op(B), output dims [n, RA, RB] ----------------------
// Row i of batch bi is thread (y, z): i = y + iz·z, bi = z·[batched]. The caller passes
// iz = 0 and batch strides when z is the batch, iz = RA and zero strides when z splits m.
// op(A)[i, l] = a[aZ·z + i·ars + l·acs],  op(B)[l, j] = b[bZ·z + l·brs + j·bcs].
export const matmul: KernelDef = {
  name: 'matmul',
  types: ['Array', 'Array', 'Integer', 'Integer', 'Integer', 'Integer', 'Integer', 'Integer', 'Integer', 'Integer'],
  fn: function (this: K, a: F, b: F, k: number, iz: number, aZ: number, ars: number, acs: number, bZ: number, brs: number, bcs: number) {
    let acc = 0;
    for (let l = 0; l < k; l++) {
      acc += a[aZ * this.thread.z + (this.thread.y + iz * this.thread.z) * ars + (l | 0) * acs] * b[bZ * this.thread.z + (l | 0) * brs + this.thread.x * bcs];
    }
    return acc;
  },
};

// ---- per-row reductions of x [rows, cols], output dims [rows] --------------------------------
/** logsumexp of each row, around the row max. */
export const rowLogSumExp: KernelDef = {
  name: 'rowLogSumExp',
  types: ['Array', 'Integer'],
  fn: function (this: K, x: F, cols: number) {
    let mx = -3.0e38; // stands in for −∞, which gpu.js cannot write
    for (let l = 0; l < cols; l++) mx = Math.max(mx, x[this.thread.x * cols + (l | 0)]);
    let s = 0;
    for (let l2 = 0; l2 < cols; l2++) s += Math.exp(x[this.thread.x * cols + (l2 | 0)] - mx);
    return mx + Math.log(s);
  },
};

/** Σ_j a[r, j]·b[r, j] for each row. */
export const rowDot: KernelDef = {
  name: 'rowDot',
  types: ['Array', 'Array', 'Integer'],
  fn: function (this: K, a: F, b: F, cols: number) {
    let s = 0;
    for (let l = 0; l < cols; l++) s += a[this.thread.x * cols + (l | 0)] * b[this.thread.x * cols + (l | 0)];
    return s;
  },
};

/** Σ_j a[r, j] for each row. */
export const rowSum: KernelDef = {
  name: 'rowSum',
  types: ['Array', 'Integer'],
  fn: function (this: K, a: F, cols: number) {
    let s = 0;
    for (let l = 0; l < cols; l++) s += a[this.thread.x * cols + (l | 0)];
    return s;
  },
};

/** Mean of each row. */
export const rowMean: KernelDef = {
  name: 'rowMean',
  types: ['Array', 'Integer'],
  fn: function (this: K, x: F, cols: number) {
    let s = 0;
    for (let l = 0; l < cols; l++) s += x[this.thread.x * cols + (l | 0)];
    return s / cols;
  },
};

/** 1/√(biased variance + eps) of each row, given its mean. */
export const rowRstd: KernelDef = {
  name: 'rowRstd',
  types: ['Array', 'Array', 'Integer', 'Float'],
  fn: function (this: K, x: F, mean: F, cols: number, eps: number) {
    let s = 0;
    for (let l = 0; l < cols; l++) {
      const d = x[this.thread.x * cols + (l | 0)] - mean[this.thread.x];
      s += d * d;
    }
    return 1 / Math.sqrt(s / cols + eps);
  },
};

/** Cross-entropy loss of each row: lse − x[target], 0 where target = ignoreIndex. */
export const rowCrossEntropy: KernelDef = {
  name: 'rowCrossEntropy',
  types: ['Array', 'Array', 'Array', 'Integer', 'Float'],
  fn: function (this: K, x: F, lse: F, targets: F, cols: number, ignoreIndex: number) {
    // the target is picked by comparing the loop counter, never by indexing with a float
    let picked = 0;
    for (let l = 0; l < cols; l++) {
      if (l === targets[this.thread.x]) picked = x[this.thread.x * cols + (l | 0)];
    }
    if (targets[this.thread.x] === ignoreIndex) return 0;
    return lse[this.thread.x] - picked;
  },
};

/** LayerNorm backward's per-row means of g = dy·w and of g·xhat: which = 0 or 1. */
export const rowLayerNormGrad: KernelDef = {
  name: 'rowLayerNormGrad',
  types: ['Array', 'Array', 'Array', 'Array', 'Array', 'Integer', 'Integer'],
  fn: function (this: K, dy: F, x: F, w: F, mean: F, rstd: F, cols: number, which: number) {
    let s = 0;
    for (let l = 0; l < cols; l++) {
      const g = dy[this.thread.x * cols + (l | 0)] * w[(l | 0)];
      const xhat = (x[this.thread.x * cols + (l | 0)] - mean[this.thread.x]) * rstd[this.thread.x];
      s += which === 0 ? g : g * xhat;
    }
    return s / cols;
  },
};

// ---- row-wise elementwise on [rows, cols], output dims [cols, RA, RB] ------------------------
// element (r, c) with r = y + RA·z, c = x sits at r·cols + c.

/** softmax (logOut = 0) or log-softmax (logOut = 1) from the row logsumexp. */
export const rowsSoftmax: KernelDef = {
  name: 'rowsSoftmax',
  types: ['Array', 'Array', 'Integer', 'Integer', 'Integer'],
  fn: function (this: K, x: F, lse: F, cols: number, RA: number, logOut: number) {
    const z = x[(this.thread.y + RA * this.thread.z) * cols + this.thread.x] - lse[this.thread.y + RA * this.thread.z];
    return logOut === 1 ? z : Math.exp(z);
  },
};

/** softmax backward y·(dy − dot) (logOut = 0), log-softmax backward dy − exp(y)·dot (logOut = 1). */
export const rowsSoftmaxBackward: KernelDef = {
  name: 'rowsSoftmaxBackward',
  types: ['Array', 'Array', 'Array', 'Integer', 'Integer', 'Integer'],
  fn: function (this: K, y: F, dy: F, dot: F, cols: number, RA: number, logOut: number) {
    const yv = y[(this.thread.y + RA * this.thread.z) * cols + this.thread.x];
    const g = dy[(this.thread.y + RA * this.thread.z) * cols + this.thread.x];
    const d = dot[this.thread.y + RA * this.thread.z];
    return logOut === 1 ? g - Math.exp(yv) * d : yv * (g - d);
  },
};

/** dlogits = dloss·(softmax − onehot(target)), 0 for ignored rows. */
export const rowsCrossEntropyBackward: KernelDef = {
  name: 'rowsCrossEntropyBackward',
  types: ['Array', 'Array', 'Array', 'Array', 'Integer', 'Integer', 'Float'],
  fn: function (this: K, x: F, lse: F, targets: F, dloss: F, cols: number, RA: number, ignoreIndex: number) {
    const t = targets[this.thread.y + RA * this.thread.z];
    if (t === ignoreIndex) return 0;
    const p = Math.exp(x[(this.thread.y + RA * this.thread.z) * cols + this.thread.x] - lse[this.thread.y + RA * this.thread.z]);
    return dloss[this.thread.y + RA * this.thread.z] * (p - (this.thread.x === t ? 1 : 0));
  },
};

/** y = (x − mean)·rstd·w + b. */
export const rowsLayerNorm: KernelDef = {
  name: 'rowsLayerNorm',
  types: ['Array', 'Array', 'Array', 'Array', 'Array', 'Integer', 'Integer'],
  fn: function (this: K, x: F, w: F, b: F, mean: F, rstd: F, cols: number, RA: number) {
    const xhat = (x[(this.thread.y + RA * this.thread.z) * cols + this.thread.x] - mean[this.thread.y + RA * this.thread.z]) * rstd[this.thread.y + RA * this.thread.z];
    return xhat * w[this.thread.x] + b[this.thread.x];
  },
};

/** dx = rstd·(dy·w − mean(g) − xhat·mean(g·xhat)). */
export const rowsLayerNormBackward: KernelDef = {
  name: 'rowsLayerNormBackward',
  types: ['Array', 'Array', 'Array', 'Array', 'Array', 'Array', 'Array', 'Integer', 'Integer'],
  fn: function (this: K, dy: F, x: F, w: F, mean: F, rstd: F, gMean: F, gxMean: F, cols: number, RA: number) {
    const r = rstd[this.thread.y + RA * this.thread.z];
    const xhat = (x[(this.thread.y + RA * this.thread.z) * cols + this.thread.x] - mean[this.thread.y + RA * this.thread.z]) * r;
    const g = dy[(this.thread.y + RA * this.thread.z) * cols + this.thread.x] * w[this.thread.x];
    return r * (g - gMean[this.thread.y + RA * this.thread.z] - xhat * gxMean[this.thread.y + RA * this.thread.z]);
  },
};

/** Column sums over rows, output dims [cols]: Σ_r dy·xhat (which = 0, dweight) or Σ_r dy (which = 1, dbias). */
export const colsLayerNormParamGrad: KernelDef = {
  name: 'colsLayerNormParamGrad',
  types: ['Array', 'Array', 'Array', 'Array', 'Integer', 'Integer', 'Integer'],
  fn: function (this: K, dy: F, x: F, mean: F, rstd: F, rows: number, cols: number, which: number) {
    let s = 0;
    for (let r = 0; r < rows; r++) {
      const xhat = which === 0 ? (x[(r | 0) * cols + this.thread.x] - mean[(r | 0)]) * rstd[(r | 0)] : 1;
      s += dy[(r | 0) * cols + this.thread.x] * xhat;
    }
    return s;
  },
};

// ---- flat elementwise, output dims [n] ---------------------------------------------------------
// Kernels cannot see module constants, so √(2/π) = 0.7978845608028654 is written inline.
/** The unary ops by code (see UNARY_CODE in ./ops.ts); tanh written with exp, which every mode has. */
export const unary: KernelDef = {
  name: 'unary',
  types: ['Array', 'Integer'],
  fn: function (this: K, x: F, op: number) {
    const v = x[this.thread.x];
    if (op === 0) return -v;
    if (op === 1) return Math.exp(v);
    if (op === 2) return Math.log(v);
    if (op === 3) return Math.sqrt(v);
    if (op === 4) return 1 - 2 / (Math.exp(2 * v) + 1);
    if (op === 5) return v > 0 ? v : 0;
    if (op === 6) return v > 0 ? 1 : 0;
    const u = 0.7978845608028654 * (v + 0.044715 * v * v * v);
    if (op === 7) return 0.5 * v * (2 - 2 / (Math.exp(2 * u) + 1)); // gelu: 0.5·v·(1 + tanh u)
    // gelu'(v) = 0.5·(1 + tanh u) + 0.5·v·(1 − tanh²u)·du/dv, by the product and chain rules
    const t = 1 - 2 / (Math.exp(2 * u) + 1);
    const du = 0.7978845608028654 * (1 + 3 * 0.044715 * v * v);
    return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du;
  },
};

/**
 * Binary ops by code (see BINARY_CODE in ./ops.ts) on flat arrays: a[i·sa] op b[i·sb], with
 * sa, sb = 1 for same-shape operands and 0 for a one-value operand (a scalar).
 */
export const binaryFlat: KernelDef = {
  name: 'binaryFlat',
  types: ['Array', 'Array', 'Integer', 'Integer', 'Integer'],
  fn: function (this: K, a: F, b: F, sa: number, sb: number, op: number) {
    const u = a[this.thread.x * sa];
    const v = b[this.thread.x * sb];
    if (op === 0) return u + v;
    if (op === 1) return u - v;
    if (op === 2) return u * v;
    if (op === 3) return u / v;
    if (op === 4) return Math.pow(u, v);
    return u === v ? 1 : 0;
  },
};

/** n copies of value (how a device allocates and fills). */
export const fill: KernelDef = {
  name: 'fill',
  types: ['Float'],
  fn: function (this: K, value: number) {
    return value;
  },
};

/** A copy: uploads a host array into a device-resident result. */
export const copy: KernelDef = {
  name: 'copy',
  types: ['Array'],
  fn: function (this: K, x: F) {
    return x[this.thread.x];
  },
};

// AdamW as three kernels (webgpu has no kernel maps): m', then v', then p' from m', v'.
/** m' = β1·m + (1−β1)·g */
export const adamM: KernelDef = {
  name: 'adamM',
  types: ['Array', 'Array', 'Float'],
  fn: function (this: K, m: F, g: F, beta1: number) {
    return beta1 * m[this.thread.x] + (1 - beta1) * g[this.thread.x];
  },
};

/** v' = β2·v + (1−β2)·g² */
export const adamV: KernelDef = {
  name: 'adamV',
  types: ['Array', 'Array', 'Float'],
  fn: function (this: K, v: F, g: F, beta2: number) {
    return beta2 * v[this.thread.x] + (1 - beta2) * g[this.thread.x] * g[this.thread.x];
  },
};

/** p' = p·(1 − lr·wd) − lr·(m'/bc1) / (√(v'/bc2) + eps) */
export const adamP: KernelDef = {
  name: 'adamP',
  types: ['Array', 'Array', 'Array', 'Float', 'Float', 'Float', 'Float', 'Float'],
  fn: function (this: K, p: F, m: F, v: F, lr: number, decay: number, bc1: number, bc2: number, eps: number) {
    return p[this.thread.x] * decay - (lr * (m[this.thread.x] / bc1)) / (Math.sqrt(v[this.thread.x] / bc2) + eps);
  },
};

// ---- causal attention, one (batch·head) problem per z ------------------------------------------
// q, out [BH, Tq, D], k, v [BH, Tk, D]; query i sees keys j ≤ i + off, off = Tk − Tq.
// No [Tq, Tk] probability matrix is stored: p_ij = exp(scale·q_i·k_j − lse_i) is recomputed.

/** lse [BH, Tq], output dims [Tq, BH]. */
export const attnLse: KernelDef = {
  name: 'attnLse',
  types: ['Array', 'Array', 'Integer', 'Integer', 'Integer', 'Float'],
  fn: function (this: K, q: F, k: F, Tq: number, Tk: number, D: number, scale: number) {
    let mx = -3.0e38; // stands in for −∞, which gpu.js cannot write
    for (let j = 0; j <= this.thread.x + Tk - Tq; j++) {
      let dot = 0;
      for (let d = 0; d < D; d++) dot += q[(this.thread.y * Tq + this.thread.x) * D + (d | 0)] * k[(this.thread.y * Tk + (j | 0)) * D + (d | 0)];
      mx = Math.max(mx, dot * scale);
    }
    let s = 0;
    for (let j2 = 0; j2 <= this.thread.x + Tk - Tq; j2++) {
      let dot2 = 0;
      for (let d2 = 0; d2 < D; d2++) dot2 += q[(this.thread.y * Tq + this.thread.x) * D + (d2 | 0)] * k[(this.thread.y * Tk + (j2 | 0)) * D + (d2 | 0)];
      s += Math.exp(dot2 * scale - mx);
    }
    return mx + Math.log(s);
  },
};

/** out [BH, Tq, D] = Σ_j p_ij v_j, output dims [D, Tq, BH]. */
export const attnOut: KernelDef = {
  name: 'attnOut',
  types: ['Array', 'Array', 'Array', 'Array', 'Integer', 'Integer', 'Integer', 'Float'],
  fn: function (this: K, q: F, k: F, v: F, lse: F, Tq: number, Tk: number, D: number, scale: number) {
    let acc = 0;
    for (let j = 0; j <= this.thread.y + Tk - Tq; j++) {
      let dot = 0;
      for (let d = 0; d < D; d++) dot += q[(this.thread.z * Tq + this.thread.y) * D + (d | 0)] * k[(this.thread.z * Tk + (j | 0)) * D + (d | 0)];
      acc += Math.exp(dot * scale - lse[this.thread.z * Tq + this.thread.y]) * v[(this.thread.z * Tk + (j | 0)) * D + this.thread.x];
    }
    return acc;
  },
};

/** dv [BH, Tk, D] = Σ_{i sees j} p_ij dout_i, output dims [D, Tk, BH]. */
export const attnDv: KernelDef = {
  name: 'attnDv',
  types: ['Array', 'Array', 'Array', 'Array', 'Integer', 'Integer', 'Integer', 'Float'],
  fn: function (this: K, dout: F, q: F, k: F, lse: F, Tq: number, Tk: number, D: number, scale: number) {
    let acc = 0;
    for (let i = 0; i < Tq; i++) {
      // query i sees key j = thread.y when i ≥ j − off
      if (i >= this.thread.y - Tk + Tq) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += q[(this.thread.z * Tq + (i | 0)) * D + (d | 0)] * k[(this.thread.z * Tk + this.thread.y) * D + (d | 0)];
        acc += Math.exp(dot * scale - lse[this.thread.z * Tq + (i | 0)]) * dout[(this.thread.z * Tq + (i | 0)) * D + this.thread.x];
      }
    }
    return acc;
  },
};

/** dq [BH, Tq, D] = scale·Σ_j ds_ij k_j, ds_ij = p_ij·(dout_i·v_j − rowDot_i); output dims [D, Tq, BH]. */
export const attnDq: KernelDef = {
  name: 'attnDq',
  types: ['Array', 'Array', 'Array', 'Array', 'Array', 'Array', 'Integer', 'Integer', 'Integer', 'Float'],
  fn: function (this: K, dout: F, q: F, k: F, v: F, lse: F, rowDot: F, Tq: number, Tk: number, D: number, scale: number) {
    let acc = 0;
    for (let j = 0; j <= this.thread.y + Tk - Tq; j++) {
      let dot = 0;
      let dp = 0;
      for (let d = 0; d < D; d++) {
        dot += q[(this.thread.z * Tq + this.thread.y) * D + (d | 0)] * k[(this.thread.z * Tk + (j | 0)) * D + (d | 0)];
        dp += dout[(this.thread.z * Tq + this.thread.y) * D + (d | 0)] * v[(this.thread.z * Tk + (j | 0)) * D + (d | 0)];
      }
      const p = Math.exp(dot * scale - lse[this.thread.z * Tq + this.thread.y]);
      acc += p * (dp - rowDot[this.thread.z * Tq + this.thread.y]) * k[(this.thread.z * Tk + (j | 0)) * D + this.thread.x];
    }
    return scale * acc;
  },
};

/** dk [BH, Tk, D] = scale·Σ_i ds_ij q_i over the queries i that see key j; output dims [D, Tk, BH]. */
export const attnDk: KernelDef = {
  name: 'attnDk',
  types: ['Array', 'Array', 'Array', 'Array', 'Array', 'Array', 'Integer', 'Integer', 'Integer', 'Float'],
  fn: function (this: K, dout: F, q: F, k: F, v: F, lse: F, rowDot: F, Tq: number, Tk: number, D: number, scale: number) {
    let acc = 0;
    for (let i = 0; i < Tq; i++) {
      if (i >= this.thread.y - Tk + Tq) {
        let dot = 0;
        let dp = 0;
        for (let d = 0; d < D; d++) {
          dot += q[(this.thread.z * Tq + (i | 0)) * D + (d | 0)] * k[(this.thread.z * Tk + this.thread.y) * D + (d | 0)];
          dp += dout[(this.thread.z * Tq + (i | 0)) * D + (d | 0)] * v[(this.thread.z * Tk + this.thread.y) * D + (d | 0)];
        }
        const p = Math.exp(dot * scale - lse[this.thread.z * Tq + (i | 0)]);
        acc += p * (dp - rowDot[this.thread.z * Tq + (i | 0)]) * q[(this.thread.z * Tq + (i | 0)) * D + this.thread.x];
      }
    }
    return scale * acc;
  },
};

// ---- tensors split into parts, and the language-model head in vocabulary blocks ------------------
// A tensor longer than one device array may hold is kept as consecutive parts (../gpujs/device.ts),
// each ≤ 2²⁴ values, so an index computed from an id read out of an array (a float) is exact.

/** out[i] = x[off + i]: a contiguous window of x. */
export const window: KernelDef = {
  name: 'window',
  types: ['Array', 'Integer'],
  fn: function (this: K, x: F, off: number) {
    return x[off + this.thread.x];
  },
};

/** a and b end to end: out[i] = a[i] for i < lenA, else b[i − lenA]. */
export const concat2: KernelDef = {
  name: 'concat2',
  types: ['Array', 'Array', 'Integer'],
  fn: function (this: K, a: F, b: F, lenA: number) {
    if (this.thread.x < lenA) return a[this.thread.x];
    return b[this.thread.x - lenA];
  },
};

/** z[r, t[r]] for each row of z [rows, cols], 0 where t[r] is not a column (picked by comparing, as rowCrossEntropy). */
export const rowPick: KernelDef = {
  name: 'rowPick',
  types: ['Array', 'Array', 'Integer'],
  fn: function (this: K, z: F, t: F, cols: number) {
    let picked = 0;
    for (let l = 0; l < cols; l++) {
      if (l === t[this.thread.x]) picked = z[this.thread.x * cols + (l | 0)];
    }
    return picked;
  },
};

/** log(eᵃ + eᵇ) elementwise, around the larger: two blocks' logsumexps combined. */
export const logAddExp: KernelDef = {
  name: 'logAddExp',
  types: ['Array', 'Array'],
  fn: function (this: K, a: F, b: F) {
    const m = Math.max(a[this.thread.x], b[this.thread.x]);
    return m + Math.log(Math.exp(a[this.thread.x] - m) + Math.exp(b[this.thread.x] - m));
  },
};

/** Cross-entropy loss from a row's logsumexp and target logit: lse − z_target, 0 where target = ignoreIndex. */
export const lossFromLse: KernelDef = {
  name: 'lossFromLse',
  types: ['Array', 'Array', 'Array', 'Float'],
  fn: function (this: K, lse: F, zt: F, targets: F, ignoreIndex: number) {
    if (targets[this.thread.x] === ignoreIndex) return 0;
    return lse[this.thread.x] - zt[this.thread.x];
  },
};

/** Embedding lookup from one part of the table: out [N, C] (dims [C, RA, RB]), row i = w[ids[i]], 0 where ids[i] < 0. */
export const embeddingRows: KernelDef = {
  name: 'embeddingRows',
  types: ['Array', 'Array', 'Integer', 'Integer'],
  fn: function (this: K, w: F, ids: F, C: number, RA: number) {
    if (ids[this.thread.y + RA * this.thread.z] < 0) return 0;
    return w[ids[this.thread.y + RA * this.thread.z] * C + this.thread.x];
  },
};

/**
 * Embedding backward for one part of the table: dw [rows, C] (dims [C, RA, RB]); row v sums
 * the rows of dy [N, C] listed in order[start[v] … start[v] + count[v]) (built on the host from the ids).
 */
export const embeddingGrad: KernelDef = {
  name: 'embeddingGrad',
  types: ['Array', 'Array', 'Array', 'Array', 'Integer', 'Integer'],
  fn: function (this: K, dy: F, order: F, start: F, count: F, C: number, RA: number) {
    let acc = 0;
    for (let j = 0; j < count[this.thread.y + RA * this.thread.z]; j++) {
      acc += dy[order[start[this.thread.y + RA * this.thread.z] + j] * C + this.thread.x];
    }
    return acc;
  },
};

// ---- strided reads: permute, slice, pad, reduce, broadcasting binary ops, maskedFill --------------
// Every output is seen as [rows, cols] (cols = its last axis) with output dims [cols, RA, RB]. The
// host enumerates, for each output row, where that row starts in each input (`off`, one float
// per row, exact below 2²⁴); along the row an input advances by `sx`. So no kernel divides an
// index to find a coordinate, and one kernel serves every rank.

/** out[row, x] = src[off[row] + x·sx] (permute, slice). */
export const gatherRows: KernelDef = {
  name: 'gatherRows',
  types: ['Array', 'Array', 'Integer', 'Integer'],
  fn: function (this: K, src: F, off: F, sx: number, RA: number) {
    return src[off[this.thread.y + RA * this.thread.z] + this.thread.x * sx];
  },
};

/** pad: out[row, x] = src[off[row] + (x − x0)·sx] inside the box (off ≥ 0, x0 ≤ x < x0 + xn), else 0. */
export const padRows: KernelDef = {
  name: 'padRows',
  types: ['Array', 'Array', 'Integer', 'Integer', 'Integer', 'Integer'],
  fn: function (this: K, src: F, off: F, sx: number, x0: number, xn: number, RA: number) {
    if (off[this.thread.y + RA * this.thread.z] < 0 || this.thread.x < x0 || this.thread.x >= x0 + xn) return 0;
    return src[off[this.thread.y + RA * this.thread.z] + (this.thread.x - x0) * sx];
  },
};

/** Reduction over one axis: out[row, x] = sum (op 0) or max (op 1) over j < K of src[off[row] + x·sx + j·sk]. */
export const reduceRows: KernelDef = {
  name: 'reduceRows',
  types: ['Array', 'Array', 'Integer', 'Integer', 'Integer', 'Integer', 'Integer'],
  fn: function (this: K, src: F, off: F, sx: number, K: number, sk: number, op: number, RA: number) {
    let acc = op === 0 ? 0 : -3.0e38; // −3e38 stands in for −∞
    for (let j = 0; j < K; j++) {
      const v = src[off[this.thread.y + RA * this.thread.z] + this.thread.x * sx + (j | 0) * sk];
      acc = op === 0 ? acc + v : Math.max(acc, v);
    }
    return acc;
  },
};

/** Broadcasting binary op by code (BINARY_CODE in ./ops.ts): a[aOff[row] + x·asx] op b[bOff[row] + x·bsx]. */
export const binaryRows: KernelDef = {
  name: 'binaryRows',
  types: ['Array', 'Array', 'Array', 'Array', 'Integer', 'Integer', 'Integer', 'Integer'],
  fn: function (this: K, a: F, b: F, aOff: F, bOff: F, asx: number, bsx: number, op: number, RA: number) {
    // the indices go through locals (exact: below 2²⁴): two nested reads in one kernel make
    // gpu.js's WebGL 1 code declare the same hoisted variable twice
    const ia = aOff[this.thread.y + RA * this.thread.z] + this.thread.x * asx;
    const ib = bOff[this.thread.y + RA * this.thread.z] + this.thread.x * bsx;
    const u = a[ia];
    const v = b[ib];
    if (op === 0) return u + v;
    if (op === 1) return u - v;
    if (op === 2) return u * v;
    if (op === 3) return u / v;
    if (op === 4) return Math.pow(u, v);
    return u === v ? 1 : 0;
  },
};

/** maskedFill: value where the broadcast mask is nonzero, else x (x is already the output's shape). */
export const maskedFillRows: KernelDef = {
  name: 'maskedFillRows',
  types: ['Array', 'Array', 'Array', 'Integer', 'Float', 'Integer', 'Integer'],
  fn: function (this: K, x: F, mask: F, mOff: F, msx: number, value: number, cols: number, RA: number) {
    const m = mask[mOff[this.thread.y + RA * this.thread.z] + this.thread.x * msx]; // (a comparison on the read itself does not compile on WebGL 1)
    if (m === 0) return x[(this.thread.y + RA * this.thread.z) * cols + this.thread.x];
    return value;
  },
};
