// The cpu backend's plain-JavaScript kernels: ops that are memory-bound and cheap enough
// that copying into wasm memory would cost as much as the op (LayerNorm, AdamW, bias adds).
// Promise: same results as the reference kernels (AdamW bit for bit), float32 only.
import type { AdamWParams, BinaryOp } from '../../backend.ts';
import { allocHost } from '../memory.ts';

/** A zeroed float32 output (from the pool of ../../memory.ts). */
const f32 = (n: number) => allocHost('float32', n) as Float32Array;

/** y = (x − mean)·rstd·w + b per row; mean/rstd from f64 sums (two passes, as the reference). */
export function layerNorm(x: Float32Array, w: Float32Array, b: Float32Array, rows: number, cols: number, eps: number) {
  const y = f32(x.length);
  const mean = f32(rows);
  const rstd = f32(rows);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    let s = 0;
    for (let j = 0; j < cols; j++) s += x[off + j];
    const m = s / cols;
    let v = 0;
    for (let j = 0; j < cols; j++) {
      const d = x[off + j] - m;
      v += d * d;
    }
    const rs = 1 / Math.sqrt(v / cols + eps);
    for (let j = 0; j < cols; j++) y[off + j] = (x[off + j] - m) * rs * w[j] + b[j];
    mean[r] = m;
    rstd[r] = rs;
  }
  return { y, mean, rstd };
}

/**
 * The llm.c LayerNorm backward, one pass for the row sums and one for dx. dweight and dbias
 * are accumulated in f64 scratch across rows (the reference accumulates in f32 storage), so
 * they agree with it to f32 rounding of a long sum.
 */
export function layerNormBackward(dy: Float32Array, x: Float32Array, w: Float32Array, mean: Float32Array, rstd: Float32Array, rows: number, cols: number) {
  const dx = f32(x.length);
  const dw = new Float64Array(cols);
  const db = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    const m = mean[r];
    const rs = rstd[r];
    let gMean = 0;
    let gxMean = 0;
    for (let j = 0; j < cols; j++) {
      const xhat = (x[off + j] - m) * rs;
      const d = dy[off + j];
      const g = d * w[j];
      gMean += g;
      gxMean += g * xhat;
      dw[j] += d * xhat;
      db[j] += d;
    }
    gMean /= cols;
    gxMean /= cols;
    for (let j = 0; j < cols; j++) {
      const xhat = (x[off + j] - m) * rs;
      dx[off + j] = rs * (dy[off + j] * w[j] - gMean - xhat * gxMean);
    }
  }
  return { dx, dweight: Float32Array.from(dw), dbias: Float32Array.from(db) };
}

/** torch.optim.AdamW in place; the same operations in the same order as the reference. */
export function adamw(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, hp: AdamWParams) {
  const { lr, beta1, beta2, eps, weightDecay, step } = hp;
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  const decay = 1 - lr * weightDecay;
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const n = p.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    // Math.fround = the rounding the reference gets by storing into Float32Arrays
    const pi = Math.fround(p[i] * decay);
    const mi = Math.fround(beta1 * m[i] + c1 * gi);
    const vi = Math.fround(beta2 * v[i] + c2 * gi * gi);
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - (lr * (mi / bc1)) / (Math.sqrt(vi / bc2) + eps);
  }
  return { param: p, m, v };
}

/**
 * Fast paths of binary ops for the shapes a transformer uses: equal shapes, and b broadcast
 * over the leading axes of a (a bias [C] added to [rows, C]). Returns null otherwise.
 */
export function binaryFast(op: BinaryOp, a: Float32Array, aShape: number[], b: Float32Array, bShape: number[], outShape: number[]): Float32Array | null {
  if (op !== 'add' && op !== 'mul' && op !== 'sub') return null;
  if (!sameDims(aShape, outShape)) return null;
  const n = a.length;
  const out = f32(n);
  if (sameDims(bShape, outShape)) {
    if (op === 'add') for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
    else if (op === 'mul') for (let i = 0; i < n; i++) out[i] = a[i] * b[i];
    else for (let i = 0; i < n; i++) out[i] = a[i] - b[i];
    return out;
  }
  // b's shape (without leading 1s) must be a suffix of out's shape: b repeats every b.length
  const bs = bShape.slice();
  while (bs.length && bs[0] === 1) bs.shift();
  if (bs.length > outShape.length || !sameDims(bs, outShape.slice(outShape.length - bs.length)) || b.length === 0) return null;
  const inner = b.length;
  if (inner === 1) {
    // a scalar (the grad clip's scale, the lm head's g/count): one flat loop
    const s = b[0];
    if (op === 'add') for (let i = 0; i < n; i++) out[i] = a[i] + s;
    else if (op === 'mul') for (let i = 0; i < n; i++) out[i] = a[i] * s;
    else for (let i = 0; i < n; i++) out[i] = a[i] - s;
    return out;
  }
  for (let off = 0; off < n; off += inner) {
    if (op === 'add') for (let j = 0; j < inner; j++) out[off + j] = a[off + j] + b[j];
    else if (op === 'mul') for (let j = 0; j < inner; j++) out[off + j] = a[off + j] * b[j];
    else for (let j = 0; j < inner; j++) out[off + j] = a[off + j] - b[j];
  }
  return out;
}

function sameDims(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
