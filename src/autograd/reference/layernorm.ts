// Reference LayerNorm over the last axis, forward and backward (the llm.c formulation).
//   xhat = (x − mean) · rstd,  rstd = 1/√(var + eps),  y = xhat · weight + bias
// Backward, per row with g = dy · weight:
//   dx = rstd · (g − mean(g) − xhat · mean(g · xhat)),  dweight += dy·xhat,  dbias += dy
import type { HostArray, Storage } from '../backend.ts';
import { alloc, host } from './util.ts';

export function layerNorm(xs: Storage, ws: Storage, bs: Storage, rows: number, cols: number, eps: number): { y: HostArray; mean: HostArray; rstd: HostArray } {
  const x = host(xs);
  const w = host(ws);
  const b = host(bs);
  const y = alloc(x, x.length);
  const mean = alloc(x, rows);
  const rstd = alloc(x, rows);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    let m = 0;
    for (let j = 0; j < cols; j++) m += x[off + j];
    m /= cols;
    let v = 0;
    for (let j = 0; j < cols; j++) v += (x[off + j] - m) ** 2;
    v /= cols; // biased variance, as PyTorch's LayerNorm
    const s = 1 / Math.sqrt(v + eps);
    for (let j = 0; j < cols; j++) y[off + j] = (x[off + j] - m) * s * w[j] + b[j];
    mean[r] = m;
    rstd[r] = s;
  }
  return { y, mean, rstd };
}

export function layerNormBackward(dys: Storage, xs: Storage, ws: Storage, means: Storage, rstds: Storage, rows: number, cols: number): { dx: HostArray; dweight: HostArray; dbias: HostArray } {
  const dy = host(dys);
  const x = host(xs);
  const w = host(ws);
  const mean = host(means);
  const rstd = host(rstds);
  const dx = alloc(x, x.length);
  const dweight = alloc(w, cols);
  const dbias = alloc(w, cols);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    let gMean = 0;
    let gxMean = 0;
    for (let j = 0; j < cols; j++) {
      const xhat = (x[off + j] - mean[r]) * rstd[r];
      const g = dy[off + j] * w[j];
      gMean += g;
      gxMean += g * xhat;
      dweight[j] += dy[off + j] * xhat;
      dbias[j] += dy[off + j];
    }
    gMean /= cols;
    gxMean /= cols;
    for (let j = 0; j < cols; j++) {
      const xhat = (x[off + j] - mean[r]) * rstd[r];
      dx[off + j] = rstd[r] * (dy[off + j] * w[j] - gMean - xhat * gxMean);
    }
  }
  return { dx, dweight, dbias };
}
