// Reference LayerNorm over the last axis, forward and backward (the llm.c formulation).
//   xhat = (x − mean) · rstd,  rstd = 1/√(var + eps),  y = xhat · weight + bias
// Backward, per row with g = dy · weight:
//   dx = rstd · (g − mean(g) − xhat · mean(g · xhat)),  dweight = Σ_rows dy·xhat,  dbias = Σ_rows dy
// Every sum is a JS number (float64); dweight and dbias sum over all rows in float64 arrays
// and are rounded to the output precision once, at the end.
import type { HostArray, LayerNormArgs, LayerNormBackwardArgs } from '../backend.ts';
import type { OnHost } from './host.ts';

export function layerNorm(out: { y: HostArray; mean: HostArray; rstd: HostArray }, { x, weight: w, bias: b, rows, cols, eps }: OnHost<LayerNormArgs>): void {
  const { y, mean, rstd } = out;
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    let m = 0;
    for (let j = 0; j < cols; j++) m += x[off + j];
    m /= cols;
    let v = 0;
    for (let j = 0; j < cols; j++) {
      const d = x[off + j] - m;
      v += d * d;
    }
    v /= cols; // biased variance, as PyTorch's LayerNorm
    const s = 1 / Math.sqrt(v + eps);
    for (let j = 0; j < cols; j++) y[off + j] = (x[off + j] - m) * s * w[j] + b[j];
    mean[r] = m;
    rstd[r] = s;
  }
}

export function layerNormBackward(out: { dx: HostArray; dweight: HostArray; dbias: HostArray }, a: OnHost<LayerNormBackwardArgs>): void {
  const { dy, x, weight: w, mean, rstd, rows, cols } = a;
  const { dx } = out;
  const dweight = new Float64Array(cols);
  const dbias = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const off = r * cols;
    const m = mean[r];
    const s = rstd[r];
    let gMean = 0;
    let gxMean = 0;
    for (let j = 0; j < cols; j++) {
      const xhat = (x[off + j] - m) * s;
      const g = dy[off + j] * w[j];
      gMean += g;
      gxMean += g * xhat;
      dweight[j] += dy[off + j] * xhat;
      dbias[j] += dy[off + j];
    }
    gMean /= cols;
    gxMean /= cols;
    for (let j = 0; j < cols; j++) {
      const xhat = (x[off + j] - m) * s;
      dx[off + j] = s * (dy[off + j] * w[j] - gMean - xhat * gxMean);
    }
  }
  out.dweight.set(dweight);
  out.dbias.set(dbias);
}
